/**
 * systemd units for the `api` and `worker` roles. Both read the installer's config file
 * (EnvironmentFile) and run hardened: no privilege gain, a read-only system except the
 * data directory, a private /tmp, and enough file descriptors for many connections.
 */
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

export function systemdUnit(o: UnitOptions): string {
  const what = o.role === 'api' ? 'GraphQL API' : 'workflow engine (job worker)';
  return `[Unit]
Description=Switchyard ${what}
Documentation=file://${o.appDir}/README.md
After=network-online.target postgresql.service
Wants=network-online.target

[Service]
Type=simple
User=${o.serviceUser}
Group=${o.serviceUser}
EnvironmentFile=${o.configFile}
ExecStart=${o.nodePath} ${o.appDir}/dist/bin/switchyard.js start --role ${o.role}
WorkingDirectory=${o.dataDir}
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
ReadWritePaths=${o.dataDir}
UMask=0077
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}
