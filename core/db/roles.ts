import { createHmac } from 'node:crypto';
import pg from 'pg';

/**
 * The database role the server runs as: it owns no table, cannot bypass row-level
 * security and holds only the privileges migration 0008 grants. Migrations and role
 * management run as the owner (the DATABASE_URL role).
 */
export interface RuntimeRole {
  name: string;
  password: string;
}

export const DEFAULT_RUNTIME_ROLE = 'switchyard_runtime';

/**
 * Without a configured runtime URL the role's password is derived from the owner's
 * credentials and server, so every process given the same DATABASE_URL agrees on it
 * without another secret to distribute, and nobody learns it who lacks the owner's.
 */
export function derivedRuntimeRole(ownerUrl: string, name = DEFAULT_RUNTIME_ROLE): RuntimeRole {
  const url = new URL(ownerUrl);
  const material = `${decodeURIComponent(url.username)}\n${decodeURIComponent(url.password)}\n${url.hostname}\n${url.port}`;
  return { name, password: createHmac('sha256', material).update(`switchyard runtime role ${name}`).digest('base64url') };
}

/** The runtime role named by a configured SWITCHYARD_RUNTIME_DATABASE_URL. */
export function configuredRuntimeRole(runtimeUrl: string): RuntimeRole {
  const url = new URL(runtimeUrl);
  return { name: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
}

/** The owner URL with the runtime role's credentials: same server, same database. */
export function runtimeUrlFor(ownerUrl: string, role: RuntimeRole): string {
  const url = new URL(ownerUrl);
  url.username = encodeURIComponent(role.name);
  url.password = encodeURIComponent(role.password);
  return url.toString();
}

/**
 * Creates the runtime role when it is missing and refuses one that could see past
 * row-level security. Roles are server-wide: several databases (and test clones) share it.
 */
export async function ensureRuntimeRole(client: pg.ClientBase, role: RuntimeRole): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const { rows } = await client.query<{ rolsuper: boolean; rolbypassrls: boolean }>(
      'select rolsuper, rolbypassrls from pg_roles where rolname = $1',
      [role.name],
    );
    const existing = rows[0];
    if (existing) {
      if (existing.rolsuper || existing.rolbypassrls) {
        throw new Error(
          `the runtime database role ${role.name} is a superuser or has BYPASSRLS; row-level security would not confine it. Use a role without either.`,
        );
      }
      return;
    }
    try {
      await client.query(
        `create role ${pg.escapeIdentifier(role.name)} login nosuperuser nocreatedb nocreaterole nobypassrls noreplication password ${pg.escapeLiteral(role.password)}`,
      );
      return;
    } catch (error) {
      // Another database's migration created it at the same moment: look again.
      if (attempt < 3 && ['42710', '23505', 'XX000'].includes((error as { code?: string }).code ?? '')) continue;
      throw error;
    }
  }
}

/** Sets the role's password to what this process will log in with (after a failed login). */
export async function resetRuntimePassword(client: pg.ClientBase, role: RuntimeRole): Promise<void> {
  await client.query(`alter role ${pg.escapeIdentifier(role.name)} password ${pg.escapeLiteral(role.password)}`);
}

/**
 * Checked on every start, from the runtime connection itself: the server must not run
 * as a role for which row-level security is advisory.
 */
export async function assertConfinedRole(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ name: string; rolsuper: boolean; rolbypassrls: boolean; owned: number }>(
    `select r.rolname as name, r.rolsuper, r.rolbypassrls,
            (select count(*)::int from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where c.relowner = r.oid and n.nspname = 'public' and c.relkind = 'r') as owned
       from pg_roles r where r.rolname = current_user`,
  );
  const me = rows[0]!;
  if (me.rolsuper || me.rolbypassrls)
    throw new Error(`the runtime database role ${me.name} is a superuser or has BYPASSRLS; refusing to serve tenants through it`);
  if (me.owned > 0)
    throw new Error(
      `the runtime database role ${me.name} owns ${me.owned} tables; row-level security does not confine a table's owner. Run migrations as a separate owner role.`,
    );
}
