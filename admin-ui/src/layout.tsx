/** The frame around every page: who is signed in, the pages their role may use, sign-out. */
import type { ComponentChildren } from 'preact';
import { can, currentSession, endSession } from './session.js';
import { href } from './router.js';

export interface NavItem {
  path: string;
  label: string;
  permission: string;
}

/** Pages in the navigation, each shown only to roles with its permission. */
export const NAV: NavItem[] = [
  { path: 'overview', label: 'Overview', permission: 'run:read' },
  { path: 'workflows', label: 'Workflows', permission: 'workflow:read' },
  { path: 'runs', label: 'Runs', permission: 'run:read' },
  { path: 'plugins', label: 'Plugins', permission: 'plugin:read' },
  { path: 'credentials', label: 'Credentials', permission: 'credential:read' },
  { path: 'tenants', label: 'Tenants', permission: 'tenant:manage' },
  { path: 'tokens', label: 'Tokens', permission: 'token:manage' },
  { path: 'audit', label: 'Audit', permission: 'audit:read' },
];

/** The first page a role may see: where signing in lands. */
export function homePath(): string {
  return NAV.find((item) => can(item.permission))?.path ?? 'overview';
}

export function Layout({ current, children }: { current: string; children: ComponentChildren }) {
  const session = currentSession()!;
  const { viewer } = session;
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href={href(homePath())}>
          Switchyard
        </a>
        <div class="who">
          <span>{viewer.tenant ? viewer.tenant.name : 'Appliance'}</span>
          <span class="role">{viewer.role.replace('_', ' ')}</span>
          <span class="muted">{viewer.token.name}</span>
          <button
            type="button"
            class="link"
            onClick={() => {
              endSession();
              location.hash = '';
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <nav class="nav" aria-label="Main">
        <ul>
          {NAV.filter((item) => can(item.permission)).map((item) => (
            <li>
              <a href={href(item.path)} aria-current={item.path === current ? 'page' : undefined}>
                {item.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
