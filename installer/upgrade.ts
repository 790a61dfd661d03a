/**
 * `switchyard upgrade BUNDLE` and `switchyard upgrade --rollback`. An upgrade checks the
 * new release may follow the installed one (no skipped required version, no downgrade),
 * drains the services, takes a backup, applies the new release's migrations with the new
 * release's own code, moves `current`, restarts and waits for /ready. What it did is kept
 * in upgrade-state.json, so the rollback can restore the pre-upgrade backup and move
 * `current` back.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar';
import type { Config } from '../core/config.js';
import { backup, restore } from './backup.js';
import { addRelease, compareVersions, currentRelease, readRelease, releaseLayout, switchCurrent } from './release.js';
import { releaseRuntime } from './runtime.js';
import { installLayout } from './install.js';
import { installedServiceUser, writeUnits } from './systemd.js';

const run = promisify(execFile);

export class UpgradeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpgradeError';
  }
}

export interface UpgradeOptions {
  prefix: string;
  configFile: string;
  /** systemd: stop and start the units; none: the caller stops and starts the appliance (the upgrade checks it is stopped). */
  serviceManager: 'systemd' | 'none';
  passphrase: string | null;
  print: (line: string) => void;
}

interface UpgradeState {
  from: string;
  to: string;
  previousRelease: string;
  backup: string;
  keys: string;
  at: string;
  /** The units as they were before the upgrade (absent in states written by older releases). */
  units?: Record<string, string>;
}

const UNITS = ['switchyard-api', 'switchyard-worker'];

async function stopServices(config: Config, options: UpgradeOptions): Promise<void> {
  if (options.serviceManager === 'systemd') {
    options.print('draining: systemctl stop (running steps get the grace period, the rest go back to the queue)');
    await run('systemctl', ['stop', ...UNITS]);
    return;
  }
  const listening = await new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: config.port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (listening)
    throw new UpgradeError(
      `the appliance still answers on port ${config.port}: stop it first (SIGTERM drains it), or use --service-manager systemd`,
    );
}

async function startServices(config: Config, options: UpgradeOptions): Promise<void> {
  if (options.serviceManager === 'none') {
    options.print('start the appliance now (its services run the new current release)');
    return;
  }
  // The units may have changed (they name the current release's runtime).
  await run('systemctl', ['daemon-reload']);
  await run('systemctl', ['start', ...UNITS]);
  const url = `${config.tls ? 'https' : 'http'}://127.0.0.1:${config.port}/ready`;
  for (let waited = 0; waited < 120_000; waited += 1000) {
    // A self-signed local CA is fine for a loopback readiness probe.
    if (
      await fetch(url).then(
        (r) => r.status === 200,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new UpgradeError(
    `the appliance did not answer 200 on ${url} within 2 minutes: see journalctl -u switchyard-api; switchyard upgrade --rollback goes back`,
  );
}

/** The new release's own command on its own runtime, so its migrations (and only its code) migrate. */
async function migrateWith(release: string, configFile: string): Promise<void> {
  const node = fs.existsSync(releaseRuntime(release)) ? releaseRuntime(release) : process.execPath;
  try {
    await run(node, [path.join(release, 'dist/bin/switchyard.js'), '--config', configFile, 'migrate'], { env: withoutConfigEnv() });
  } catch (error) {
    throw new UpgradeError(
      `the new release's migrations failed: ${((error as { stderr?: string }).stderr || (error as Error).message).trim()}`,
    );
  }
}

function withoutConfigEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key === 'DATABASE_URL' || key.startsWith('SWITCHYARD_')) delete env[key];
  return env;
}

/**
 * Rewrites the installed units for the release `current` now names, so they run that
 * release's own runtime (units written by a release from before the appliance carried its
 * runtime name the host's node). Nothing to do where the installer wrote no units.
 */
function refreshUnits(options: UpgradeOptions, config: Config): void {
  const { unitDir } = installLayout(options.prefix);
  const serviceUser = installedServiceUser(unitDir);
  if (serviceUser === null) return;
  writeUnits(unitDir, {
    serviceUser,
    current: releaseLayout(options.prefix).current,
    configFile: path.resolve(options.configFile),
    dataDir: config.dataDir,
  });
}

/** The installed units' text by file name, kept so a rollback puts back exactly what ran before. */
function readUnits(prefix: string): Record<string, string> {
  const { unitDir } = installLayout(prefix);
  const units: Record<string, string> = {};
  for (const name of UNITS) {
    const file = path.join(unitDir, `${name}.service`);
    if (fs.existsSync(file)) units[`${name}.service`] = fs.readFileSync(file, 'utf8');
  }
  return units;
}

export async function upgrade(
  config: Config,
  bundle: string,
  options: UpgradeOptions,
): Promise<{ from: string; to: string; backup: string }> {
  const installed = currentRelease(options.prefix);
  if (!installed)
    throw new UpgradeError(`no installation under ${options.prefix} (no ${releaseLayout(options.prefix).current}): run switchyard install`);
  const layout = releaseLayout(options.prefix);
  const staging = path.join(layout.releases, `.unpack-${process.pid}`);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  let release: string;
  let to: string;
  try {
    await tar.extract({ file: bundle, cwd: staging }).catch((error: Error) => {
      throw new UpgradeError(`${bundle} is not a Switchyard bundle: ${error.message}`);
    });
    const [root] = fs.readdirSync(staging);
    if (!root || !fs.existsSync(path.join(staging, root, 'package.json')))
      throw new UpgradeError(`${bundle} is not a Switchyard bundle (no package.json at its top)`);
    const next = readRelease(path.join(staging, root));
    const from = installed.release.version;
    to = next.version;
    if (compareVersions(to, from) === 0) throw new UpgradeError(`${from} is installed already`);
    if (compareVersions(to, from) < 0)
      throw new UpgradeError(`${bundle} holds ${to}, older than the installed ${from}: to go back, use switchyard upgrade --rollback`);
    if (compareVersions(from, next.upgradesFrom) < 0) {
      throw new UpgradeError(
        `${to} upgrades from ${next.upgradesFrom} or newer; ${from} is installed: upgrade to ${next.upgradesFrom} first, then to ${to}`,
      );
    }
    release = addRelease(options.prefix, path.join(staging, root));
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  const from = installed.release.version;
  await stopServices(config, options);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const backupsDir = path.join(config.dataDir, 'backups');
  fs.mkdirSync(backupsDir, { recursive: true, mode: 0o700 });
  const state: UpgradeState = {
    from,
    to,
    previousRelease: installed.dir,
    at: new Date().toISOString(),
    backup: path.join(backupsDir, `pre-upgrade-${from}-to-${to}-${stamp}.tar.gz`),
    keys: path.join(backupsDir, `pre-upgrade-${from}-to-${to}-${stamp}.keys.json`),
    units: readUnits(options.prefix),
  };
  options.print(`backing up to ${state.backup}`);
  await backup(config, { out: state.backup, keysOut: state.keys, configFile: options.configFile, passphrase: options.passphrase });
  fs.writeFileSync(layout.state, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  options.print(`migrating with ${to}`);
  await migrateWith(release, options.configFile);
  switchCurrent(options.prefix, release);
  refreshUnits(options, config);
  await startServices(config, options);
  options.print(
    `upgraded ${from} → ${to}. To go back: switchyard upgrade --rollback (restores ${state.backup} and runs ${from} again; work done since is lost)`,
  );
  return { from, to, backup: state.backup };
}

export async function rollback(config: Config, options: UpgradeOptions): Promise<{ from: string; to: string }> {
  const layout = releaseLayout(options.prefix);
  if (!fs.existsSync(layout.state)) throw new UpgradeError(`nothing to roll back: ${layout.state} does not exist`);
  const state = JSON.parse(fs.readFileSync(layout.state, 'utf8')) as UpgradeState;
  const installed = currentRelease(options.prefix);
  if (installed?.release.version !== state.to)
    throw new UpgradeError(`the last upgrade went to ${state.to}, but ${installed?.release.version ?? 'nothing'} is current`);
  await stopServices(config, options);
  if (!config.databaseUrl) {
    // The embedded data the new release migrated is kept aside, not deleted.
    const dir = path.join(config.dataDir, 'postgres');
    if (fs.existsSync(dir)) fs.renameSync(dir, `${dir}.rolled-back-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  }
  options.print(`restoring ${state.backup}`);
  await restore(config, { from: state.backup, keys: state.keys, configFile: null, passphrase: options.passphrase });
  switchCurrent(options.prefix, state.previousRelease);
  for (const [name, text] of Object.entries(state.units ?? {}))
    fs.writeFileSync(path.join(installLayout(options.prefix).unitDir, name), text, { mode: 0o644 });
  fs.renameSync(layout.state, `${layout.state}.done-${Date.now()}`);
  await startServices(config, options);
  options.print(`rolled back ${state.to} → ${state.from}`);
  return { from: state.to, to: state.from };
}
