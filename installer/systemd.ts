/**
 * systemd units for the `api` and `worker` roles. Both read the installer's config file
 * (EnvironmentFile) and run hardened: no privilege gain, a read-only system except the
 * data directory, a private /tmp, and enough file descriptors for many connections.
 * Paths are escaped for the unit file syntax, so a prefix with a space or a `%` still
 * names the right files (`systemd-analyze verify` checks them in test/systemdUnits.test.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { releaseRuntime } from './runtime.js';

export interface UnitOptions {
  role: 'api' | 'worker';
  serviceUser: string;
  nodePath: string;
  /** The application's folder (holding dist/bin/switchyard.js). */
  appDir: string;
  configFile: string;
  dataDir: string;
}

export const unitName = (role: UnitOptions['role']): string => `switchyard-${role}.service`;

export interface InstalledUnits {
  serviceUser: string;
  /** `<prefix>/opt/switchyard/current`: the units follow it, and so does the runtime they name. */
  current: string;
  configFile: string;
  dataDir: string;
  /** Default: the runtime inside `current`, so an upgrade that moves `current` moves the runtime too. */
  nodePath?: string;
}

/** Writes both units (install, and an upgrade that must move them to the current release's runtime). */
export function writeUnits(unitDir: string, o: InstalledUnits): void {
  fs.mkdirSync(unitDir, { recursive: true, mode: 0o755 });
  for (const role of ['api', 'worker'] as const) {
    fs.writeFileSync(
      path.join(unitDir, unitName(role)),
      systemdUnit({
        role,
        serviceUser: o.serviceUser,
        nodePath: o.nodePath ?? releaseRuntime(o.current),
        appDir: o.current,
        configFile: o.configFile,
        dataDir: o.dataDir,
      }),
      { mode: 0o644 },
    );
  }
}

/** The service user an installed unit runs as, or null when there is no unit. */
export function installedServiceUser(unitDir: string): string | null {
  try {
    return /^User=(.+)$/m.exec(fs.readFileSync(path.join(unitDir, unitName('api')), 'utf8'))?.[1]?.trim() ?? null;
  } catch {
    return null;
  }
}

export function systemdUnit(o: UnitOptions): string {
  const what = o.role === 'api' ? 'GraphQL API' : 'workflow engine (job worker)';
  const script = `${o.appDir}/dist/bin/switchyard.js`;
  return `[Unit]
Description=Switchyard ${what}
Documentation=${literal(pathToFileURL(`${o.appDir}/README.md`).href)}
After=network-online.target postgresql.service
Wants=network-online.target

[Service]
Type=simple
User=${o.serviceUser}
Group=${o.serviceUser}
EnvironmentFile=${literal(o.configFile)}
ExecStart=${[o.nodePath, script, 'start', '--role', o.role].map(execWord).join(' ')}
WorkingDirectory=${literal(o.dataDir)}
# SIGTERM drains: running steps get the grace period, the rest go back to the queue.
KillSignal=SIGTERM
TimeoutStopSec=60
Restart=on-failure
RestartSec=5
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
PrivateDevices=true
ProtectKernelTunables=true
ProtectKernelModules=true
ProtectControlGroups=true
RestrictSUIDSGID=true
LockPersonality=true
ReadWritePaths=${listWord(o.dataDir)}
UMask=0077
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}

/** `%` starts a specifier in every setting; `%%` is a literal one. */
const literal = (value: string): string => value.replace(/%/g, '%%');

const plain = /^[A-Za-z0-9_./:@+=,-]+$/;

/** A word of a space-separated list (ReadWritePaths=): quoted when it holds anything else. */
function listWord(value: string): string {
  return plain.test(value) ? literal(value) : `"${literal(value).replace(/["\\]/g, '\\$&')}"`;
}

/** A word of ExecStart=, where `$` also expands variables unless doubled. */
function execWord(value: string): string {
  return plain.test(value) ? literal(value) : listWord(value).replace(/\$/g, '$$$$');
}
