/**
 * Operating an installation: `switchyard install` (interactive by default; unattended with
 * `--yes` and flags or an answers file, JSON with the fields of InstallAnswers; flags
 * win), `switchyard doctor` and `switchyard support-bundle`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { action, CliError, EXIT_REFUSED } from './cliSupport.js';
import type { Config } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { prepareDatabase } from '../core/db/provision.js';
import { runningEmbeddedOwnerUrl } from '../core/db/embedded.js';
import { runDoctor } from '../installer/doctor.js';
import { formatChecks } from '../installer/preflight.js';
import { writeSupportBundle } from '../installer/supportBundle.js';
import { backup, BackupError, restore } from '../installer/backup.js';
import { rollback, upgrade, UpgradeError } from '../installer/upgrade.js';
import { installLayout } from '../installer/install.js';
import { checkAnswers, defaultAnswers, install, InstallError, readAnswers, type InstallAnswers } from '../installer/install.js';
import { askAnswers } from '../installer/interactive.js';

interface InstallFlags {
  prefix?: string;
  yes?: boolean;
  answers?: string;
  host?: string;
  port?: number;
  hostname?: string[];
  databaseUrl?: string;
  embeddedDatabase?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tls?: boolean;
  serviceUser?: string;
  ignorePreflight?: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
const port = (value: string): number => {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535)
    throw new CliError(`--port must be a port number (1-65535), got ${JSON.stringify(value)}`);
  return Number(value);
};

function flagAnswers(f: InstallFlags): Partial<InstallAnswers> {
  const a: Partial<InstallAnswers> = {};
  if (f.prefix !== undefined) a.prefix = path.resolve(f.prefix);
  if (f.host !== undefined) a.host = f.host;
  if (f.port !== undefined) a.port = f.port;
  if (f.hostname) a.hostnames = f.hostname;
  if (f.databaseUrl !== undefined) a.databaseUrl = f.databaseUrl;
  if (f.embeddedDatabase) a.databaseUrl = null;
  if (f.tlsCert !== undefined || f.tlsKey !== undefined) {
    if (!f.tlsCert || !f.tlsKey) throw new CliError('--tls-cert and --tls-key go together');
    a.tls = { mode: 'provided', certFile: path.resolve(f.tlsCert), keyFile: path.resolve(f.tlsKey) };
  }
  if (f.tls === false) a.tls = { mode: 'none' };
  if (f.serviceUser !== undefined) a.serviceUser = f.serviceUser;
  if (f.ignorePreflight) a.ignorePreflight = true;
  return a;
}

async function runInstall(flags: InstallFlags): Promise<number> {
  try {
    return await installWith(flags);
  } catch (error) {
    if (error instanceof InstallError) throw new CliError(error.message, EXIT_REFUSED);
    throw error;
  }
}

async function installWith(flags: InstallFlags): Promise<number> {
  let answers = flags.answers
    ? readAnswers(flags.answers, flagAnswers(flags))
    : checkAnswers({ ...defaultAnswers(), ...flagAnswers(flags) }, 'flags');
  if (!flags.yes) {
    // A pipe nobody writes to would wait forever; unattended installs say so with --yes.
    if (!process.stdin.isTTY) throw new CliError('not a terminal: pass --yes (with flags or --answers FILE) for an unattended install');
    const confirmed = await askAnswers(answers, { input: process.stdin, output: process.stdout });
    if (!confirmed) {
      process.stdout.write('Not installed: the summary was not confirmed; nothing was changed.\n');
      return EXIT_REFUSED;
    }
    answers = confirmed;
  }
  const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const result = await install(answers, { appDir });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out('');
  out(`Installed. Config: ${result.layout.configFile}; data: ${result.layout.dataDir}; units: ${result.layout.unitDir}`);
  if (result.caCertFile) out(`Clients trust the local CA: ${result.caCertFile}`);
  if (result.adminToken) out(`\nSystem-admin token (shown once, store it now):\n  ${result.adminToken}\n`);
  else out('A system-admin token exists already; none was made.');
  out(`Next: systemctl daemon-reload && systemctl enable --now switchyard-api switchyard-worker; then ${result.url}/ready`);
  return 0;
}

/**
 * Runs `fn` with the database owner's URL: the configured one, the embedded server the
 * appliance is running, or the embedded server started for the command (not migrated).
 */
async function withOwnerUrl<T>(cfg: Config, fn: (ownerUrl: string) => Promise<T>): Promise<T> {
  if (cfg.databaseUrl) return fn(cfg.databaseUrl);
  const running = runningEmbeddedOwnerUrl(cfg.dataDir, cfg.embeddedPgPort);
  if (running) return fn(running);
  const prepared = await prepareDatabase(cfg, createLogger('warn'), { migrate: false });
  try {
    return await fn(prepared.ownerUrl);
  } finally {
    await prepared.stopEmbedded();
  }
}

async function doctor(config: () => Config): Promise<number> {
  const cfg = config();
  const results = await withOwnerUrl(cfg, (url) => runDoctor(cfg, url));
  process.stdout.write(`${formatChecks(results)}\n`);
  const failed = results.filter((r) => r.status === 'FAIL').length;
  const warned = results.filter((r) => r.status === 'WARN').length;
  process.stdout.write(`\n${failed} failed, ${warned} warnings, ${results.length - failed - warned} passed\n`);
  return failed > 0 ? EXIT_REFUSED : 0;
}

async function supportBundle(
  config: () => Config,
  configFile: () => string | undefined,
  options: { out: string; log?: string[]; lines: number },
): Promise<number> {
  const cfg = config();
  if (fs.existsSync(options.out)) throw new CliError(`--out ${options.out}: the file exists; give a new path`);
  const made = await withOwnerUrl(cfg, (url) =>
    writeSupportBundle({
      config: cfg,
      databaseUrl: url,
      configFile: configFile() ?? null,
      logFiles: options.log ?? [],
      logLines: options.lines,
      out: options.out,
    }),
  ).catch(async (error: Error) => {
    // A bundle without database statistics still helps when the database is the problem.
    process.stderr.write(`switchyard: the database could not be reached (${error.message}); writing the bundle without its statistics\n`);
    return writeSupportBundle({
      config: cfg,
      databaseUrl: null,
      configFile: configFile() ?? null,
      logFiles: options.log ?? [],
      logLines: options.lines,
      out: options.out,
    });
  });
  process.stdout.write(`wrote ${made.file} (${made.files.join(', ')}); secrets are redacted, but read it before you send it\n`);
  return 0;
}

/** The key backup's passphrase: --passphrase-file, else SWITCHYARD_BACKUP_PASSPHRASE, else none (the keys file is not encrypted). */
function passphrase(file: string | undefined): string | null {
  if (file) {
    try {
      return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      throw new CliError(`--passphrase-file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  return process.env['SWITCHYARD_BACKUP_PASSPHRASE'] || null;
}

const refused = (error: unknown): never => {
  if (error instanceof BackupError) throw new CliError(error.message, EXIT_REFUSED);
  throw error;
};

export function registerOpsCommands(program: Command, config: () => Config, configFile: () => string | undefined): void {
  program
    .command('upgrade')
    .description(
      'Upgrade to the release in an offline bundle: refuses a skipped required version or a downgrade, drains, backs up, migrates with the new release, switches, restarts and waits for /ready. --rollback undoes the last upgrade.',
    )
    .argument('[bundle]', "the new release's bundle (.tar.gz from npm run bundle)")
    .option('--rollback', 'restore the pre-upgrade backup and run the previous release again')
    .option('--prefix <dir>', "the installation's prefix (default /)", '/')
    .addOption(
      new Option('--service-manager <kind>', 'systemd: stop and start the units; none: you stop and start the appliance')
        .choices(['systemd', 'none'])
        .default('systemd'),
    )
    .option('--passphrase-file <file>', 'encrypt the pre-upgrade key backup (or set SWITCHYARD_BACKUP_PASSPHRASE)')
    .action(
      action(
        async (
          bundle: string | undefined,
          options: { rollback?: boolean; prefix: string; serviceManager: 'systemd' | 'none'; passphraseFile?: string },
        ) => {
          const prefix = path.resolve(options.prefix);
          const file = configFile() ?? installLayout(prefix).configFile;
          if (!fs.existsSync(file)) throw new CliError(`no config file at ${file}: give --config`);
          process.env['SWITCHYARD_CONFIG_FILE'] = file;
          const opts = {
            prefix,
            configFile: file,
            serviceManager: options.serviceManager,
            passphrase: passphrase(options.passphraseFile),
            print: (line: string) => process.stdout.write(`${line}\n`),
          };
          const fail = (error: unknown): never => {
            if (error instanceof UpgradeError || error instanceof BackupError) throw new CliError(error.message, EXIT_REFUSED);
            throw error;
          };
          if (options.rollback) {
            if (bundle) throw new CliError('--rollback takes no bundle');
            await rollback(config(), opts).catch(fail);
          } else {
            if (!bundle) throw new CliError('give the bundle to upgrade to (or --rollback)');
            await upgrade(config(), path.resolve(bundle), opts).catch(fail);
          }
        },
      ),
    );
  program
    .command('backup')
    .description(
      'Back up the database and the config file into one file, and the keys into another (encrypted with a passphrase when one is given).',
    )
    .requiredOption('--out <file>', 'the data backup to write (.tar.gz, mode 0600)')
    .requiredOption('--keys-out <file>', 'the key backup to write (mode 0600); store it apart from the data backup')
    .option('--passphrase-file <file>', 'encrypt the key backup with the passphrase in this file (or set SWITCHYARD_BACKUP_PASSPHRASE)')
    .action(
      action(async (options: { out: string; keysOut: string; passphraseFile?: string }) => {
        const secret = passphrase(options.passphraseFile);
        const made = await backup(config(), {
          out: options.out,
          keysOut: options.keysOut,
          configFile: configFile() ?? null,
          passphrase: secret,
        }).catch(refused);
        process.stdout.write(
          `wrote ${options.out} (${made.database} database${made.files['switchyard.env'] ? ', config file' : ''}) and ${options.keysOut} (keys${secret ? ', encrypted' : ', NOT encrypted'})\n`,
        );
        process.stdout.write(
          'warning: the data backup is useless without the keys file: credentials cannot be decrypted without the master key. Keep both, apart.\n',
        );
      }),
    );
  program
    .command('restore')
    .description(
      'Restore a backup made by switchyard backup: checks it whole first, then puts back the keys, the database and (when absent) the config file.',
    )
    .argument('<backup>', 'the data backup (.tar.gz)')
    .requiredOption('--keys <file>', 'the key backup written with it')
    .option('--passphrase-file <file>', "the key backup's passphrase (or set SWITCHYARD_BACKUP_PASSPHRASE)")
    .action(
      action(async (from: string, options: { keys: string; passphraseFile?: string }) => {
        const made = await restore(config(), {
          from,
          keys: options.keys,
          configFile: configFile() ?? null,
          passphrase: passphrase(options.passphraseFile),
        }).catch(refused);
        process.stdout.write(
          `restored the backup of ${made.createdAt} (Switchyard ${made.version}); start the appliance: it applies any newer migrations first\n`,
        );
      }),
    );
  program
    .command('doctor')
    .description(
      'Check an installed appliance: keys, TLS certificate, disk, database, migrations, clock, workers, queue, failed jobs, circuit breakers. Changes nothing; exits 1 when a check fails.',
    )
    .action(action(() => doctor(config)));
  program
    .command('support-bundle')
    .description(
      'Write a .tar.gz for support: versions, configuration, recent logs and database and queue statistics, with every secret redacted.',
    )
    .requiredOption('--out <file>', 'the bundle to write (mode 0600)')
    .option('--log <file>', 'a log file to include the end of (repeat; e.g. journalctl -u switchyard-api > api.log)', collect)
    .option(
      '--lines <n>',
      'log lines to keep from the end of each file',
      (v) => {
        if (!/^\d+$/.test(v) || Number(v) < 1) throw new CliError('--lines must be a positive whole number');
        return Number(v);
      },
      2000,
    )
    .action(action((options: { out: string; log?: string[]; lines: number }) => supportBundle(config, configFile, options)));
  program
    .command('install')
    .description(
      'Install Switchyard on this host: preflight checks, config file, keys, TLS, database roles and schema, systemd units, and the first admin token.',
    )
    .option('--prefix <dir>', 'install under this folder instead of / (config in <dir>/etc/switchyard, data in <dir>/var/lib/switchyard)')
    .option('--yes', 'unattended: take the answers from flags and --answers without asking')
    .option('--answers <file>', 'JSON answers file (prefix, host, port, hostnames, databaseUrl, tls, serviceUser, ignorePreflight)')
    .option('--host <address>', 'address to listen on (default 0.0.0.0)')
    .option('--port <port>', 'port (default 8443)', port)
    .option('--hostname <name>', "a host name or address clients use (repeat; default: this host's name, localhost, 127.0.0.1)", collect)
    .option('--database-url <url>', 'PostgreSQL 14+ owner connection (default: the embedded server)')
    .option('--embedded-database', 'use the embedded PostgreSQL under the data directory')
    .option('--tls-cert <file>', "the site's server certificate (PEM); with --tls-key")
    .option('--tls-key <file>', 'its private key (PEM)')
    .option('--no-tls', 'serve plain HTTP (behind a TLS-terminating proxy)')
    .option('--service-user <name>', 'the system user the services run as (default switchyard)')
    .addOption(
      new Option('--ignore-preflight', 'install even when a preflight check fails (recorded in the config file and the audit log)'),
    )
    .action(action(runInstall));
}
