/**
 * `switchyard backup` and `switchyard restore`. A backup is two files: the data (a
 * .tar.gz of the database, the config file and a manifest) and, separately, the keys (the
 * master key and the audit signing key), optionally encrypted with a passphrase. The data
 * backup is useless without the keys: credentials cannot be decrypted, and new audit
 * checkpoints would be signed by another key. Keep them apart, and both.
 *
 * The database: an external PostgreSQL is dumped with pg_dump (custom format, restored
 * with pg_restore); the embedded server's data directory is copied whole while it is
 * stopped, which is why backing up an embedded appliance needs it stopped first.
 *
 * pg_dump refuses a server of a newer major version than its own, and pg_restore cannot
 * read an archive from a newer pg_dump; both are the site's tools on PATH, not ours. So
 * the tools are checked against the server (and the archive) before anything is written,
 * and a mismatch is reported with the client package to install rather than as pg_dump's
 * own error halfway through.
 */
import { execFile } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import * as tar from 'tar';
import type { Config } from '../core/config.js';
import { applianceVersion } from '../server/version.js';
import { redactText } from './supportBundle.js';

const run = promisify(execFile);
const MANIFEST = 'manifest.json';
const KEYS_FORMAT = 'switchyard.keys.v1';
// scrypt cost: about 100 ms and 32 MiB here, so guessing passphrases is slow.
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 2 ** 20 };

export type BackupErrorCode =
  /** The data or key backup path given already exists. */
  | 'OUTPUT_EXISTS'
  | 'NO_EMBEDDED_DATABASE'
  | 'EMBEDDED_DATABASE_RUNNING'
  /** The master key or audit signing key file to back up is absent. */
  | 'KEY_FILE_MISSING'
  | 'NOT_A_KEY_BACKUP'
  | 'PASSPHRASE_REQUIRED'
  | 'WRONG_PASSPHRASE'
  | 'NOT_A_BACKUP'
  /** A file in the backup does not match the manifest's digest. */
  | 'BACKUP_DAMAGED'
  /** An embedded backup restored into an external configuration, or the reverse. */
  | 'DATABASE_KIND_MISMATCH'
  | 'DATA_DIR_NOT_EMPTY'
  /** A different key is already in place where the backed-up one would go. */
  | 'KEY_CONFLICT'
  /** pg_dump or pg_restore is not on PATH (or does not run). */
  | 'PG_CLIENT_MISSING'
  /** pg_dump or pg_restore is of an older major version than the server or the archive. */
  | 'PG_CLIENT_TOO_OLD'
  | 'DATABASE_UNREACHABLE'
  | 'PG_DUMP_FAILED'
  | 'PG_RESTORE_FAILED';

export class BackupError extends Error {
  constructor(
    readonly code: BackupErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BackupError';
  }
}

export interface BackupManifest {
  format: 'switchyard.backup.v1';
  version: string;
  createdAt: string;
  database: 'embedded' | 'external';
  files: Record<string, string>;
  /** External backups: the server's and pg_dump's versions, so a restore can check its pg_restore reads the archive. */
  postgres?: { server: string; pgDump: string };
}

type PgClient = 'pg_dump' | 'pg_restore';
interface Version {
  text: string;
  major: number;
}

/** The server's version, e.g. { text: '17.2', major: 17 }. */
async function serverVersion(url: string): Promise<Version> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const num = Number((await client.query<{ server_version_num: string }>('show server_version_num')).rows[0]!.server_version_num);
    const text = String((await client.query<{ server_version: string }>('show server_version')).rows[0]!.server_version).split(' ')[0]!;
    return { text, major: Math.floor(num / 10000) };
  } catch (error) {
    throw new BackupError(
      'DATABASE_UNREACHABLE',
      `cannot read the database server's version: ${redactText((error as Error).message)}; nothing was changed`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

const installHint = (major: number) =>
  `install a PostgreSQL client of major version ${major} or newer (e.g. the postgresql-client-${major} package) and put its bin directory first on PATH`;

/**
 * The version of `tool` on PATH, refused when it is missing or older than `needed`
 * (the server's major version, or the archive's pg_dump for pg_restore).
 */
async function checkClient(tool: PgClient, needed: { major: number; what: string }): Promise<Version> {
  let stdout: string;
  try {
    ({ stdout } = await run(tool, ['--version'], { timeout: 30_000 }));
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    // Debian's pg_wrapper is on PATH even without a client package, and says so on stderr.
    const detail = e.code === 'ENOENT' ? 'was not found on PATH' : `does not run (${redactText(e.stderr || e.message).trim()})`;
    throw new BackupError('PG_CLIENT_MISSING', `${tool} ${detail}: ${installHint(needed.major)}; nothing was changed`);
  }
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout) ?? /\b(\d+)(?:\.(\d+))?/.exec(stdout);
  if (!match)
    throw new BackupError(
      'PG_CLIENT_MISSING',
      `${tool} --version printed no version (${JSON.stringify(stdout.trim())}): ${installHint(needed.major)}; nothing was changed`,
    );
  const version = { text: match[2] === undefined ? match[1]! : `${match[1]}.${match[2]}`, major: Number(match[1]) };
  if (version.major < needed.major) {
    throw new BackupError(
      'PG_CLIENT_TOO_OLD',
      `${tool} ${version.text} is older than ${needed.what} and cannot ${tool === 'pg_dump' ? 'dump it' : 'restore it'}: ${installHint(needed.major)}; nothing was changed`,
    );
  }
  return version;
}

/**
 * The connection for pg_dump and pg_restore: the URL without its password, which goes in
 * PGPASSWORD instead, because a command line is readable by every user of the host (ps)
 * and is quoted in the error of a failed command.
 */
function clientConnection(databaseUrl: string): { dbname: string; env: NodeJS.ProcessEnv } {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    // Several hosts or another form the URL parser rejects: libpq still reads it.
    return { dbname: databaseUrl, env: process.env };
  }
  if (!url.password) return { dbname: databaseUrl, env: process.env };
  const password = decodeURIComponent(url.password);
  url.password = '';
  return { dbname: url.toString(), env: { ...process.env, PGPASSWORD: password } };
}

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const embeddedDir = (config: Config) => path.join(config.dataDir, 'postgres');
const embeddedRunning = (config: Config) => fs.existsSync(path.join(embeddedDir(config), 'postmaster.pid'));

/** Writes the data backup to `out` and the keys to `keysOut` (encrypted when a passphrase is given). */
export async function backup(
  config: Config,
  options: { out: string; keysOut: string; configFile: string | null; passphrase: string | null },
): Promise<BackupManifest> {
  for (const file of [options.out, options.keysOut])
    if (fs.existsSync(file)) throw new BackupError('OUTPUT_EXISTS', `${file} exists; give a new path`);
  let postgres: BackupManifest['postgres'];
  if (config.databaseUrl) {
    // Before the first file is made, so a refusal leaves nothing behind.
    const server = await serverVersion(config.databaseUrl);
    const pgDump = await checkClient('pg_dump', { major: server.major, what: `the PostgreSQL ${server.text} server` });
    postgres = { server: server.text, pgDump: pgDump.text };
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-backup-'));
  try {
    const files: string[] = [];
    if (config.databaseUrl) {
      const connection = clientConnection(config.databaseUrl);
      await run('pg_dump', ['--format=custom', '--no-owner', '--file', path.join(work, 'database.dump'), '--dbname', connection.dbname], {
        maxBuffer: 1 << 24,
        env: connection.env,
      }).catch((error: Error & { stderr?: string }) => {
        throw new BackupError('PG_DUMP_FAILED', `pg_dump failed: ${redactText(error.stderr || error.message).trim()}`);
      });
      files.push('database.dump');
    } else {
      if (!fs.existsSync(path.join(embeddedDir(config), 'PG_VERSION')))
        throw new BackupError('NO_EMBEDDED_DATABASE', `there is no embedded database under ${config.dataDir}`);
      if (embeddedRunning(config))
        throw new BackupError(
          'EMBEDDED_DATABASE_RUNNING',
          'the embedded database is running: stop the appliance first (systemctl stop switchyard-api switchyard-worker), then back up',
        );
      await tar.create({ cwd: config.dataDir, file: path.join(work, 'postgres.tar'), portable: false }, [
        'postgres',
        ...(fs.existsSync(path.join(config.dataDir, 'postgres.secret')) ? ['postgres.secret'] : []),
      ]);
      files.push('postgres.tar');
    }
    if (options.configFile) {
      fs.copyFileSync(options.configFile, path.join(work, 'switchyard.env'));
      files.push('switchyard.env');
    }
    const manifest: BackupManifest = {
      format: 'switchyard.backup.v1',
      version: applianceVersion(),
      createdAt: new Date().toISOString(),
      database: config.databaseUrl ? 'external' : 'embedded',
      files: Object.fromEntries(files.map((f) => [f, sha256(path.join(work, f))])),
      ...(postgres ? { postgres } : {}),
    };
    fs.writeFileSync(path.join(work, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    fs.mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
    await tar.create({ cwd: work, file: options.out, gzip: true, portable: true }, [MANIFEST, ...files]);
    fs.chmodSync(options.out, 0o600);
    writeKeys(config, options.keysOut, options.passphrase);
    return manifest;
  } catch (error) {
    fs.rmSync(options.out, { force: true });
    throw error;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function writeKeys(config: Config, file: string, passphrase: string | null): void {
  const keys: Record<string, string> = {};
  for (const [name, keyFile] of [
    ['masterKey', config.masterKeyFile],
    ['auditSigningKey', config.auditSigningKeyFile],
  ] as const) {
    if (!fs.existsSync(keyFile))
      throw new BackupError('KEY_FILE_MISSING', `${keyFile} (the ${name}) does not exist: nothing to back up it with`);
    keys[name] = fs.readFileSync(keyFile, 'utf8');
  }
  const plain = Buffer.from(JSON.stringify(keys));
  let body: object = { format: KEYS_FORMAT, encrypted: false, keys };
  if (passphrase) {
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', scryptSync(passphrase, salt, 32, SCRYPT), iv);
    const data = Buffer.concat([cipher.update(plain), cipher.final()]);
    body = {
      format: KEYS_FORMAT,
      encrypted: true,
      kdf: { name: 'scrypt', salt: salt.toString('base64'), N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p },
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
  }
  fs.writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
}

function readKeys(file: string, passphrase: string | null): { masterKey: string; auditSigningKey: string } {
  let body: {
    format?: string;
    encrypted?: boolean;
    keys?: { masterKey: string; auditSigningKey: string };
    kdf?: { salt: string; N: number; r: number; p: number };
    iv?: string;
    tag?: string;
    data?: string;
  };
  try {
    body = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new BackupError('NOT_A_KEY_BACKUP', `${file} is not a key backup: ${(error as Error).message}`);
  }
  if (body.format !== KEYS_FORMAT)
    throw new BackupError('NOT_A_KEY_BACKUP', `${file} is not a Switchyard key backup (format ${JSON.stringify(body.format)})`);
  if (!body.encrypted) return body.keys!;
  if (!passphrase)
    throw new BackupError(
      'PASSPHRASE_REQUIRED',
      `${file} is encrypted: give its passphrase (SWITCHYARD_BACKUP_PASSPHRASE or --passphrase-file)`,
    );
  try {
    const { salt, N, r, p } = body.kdf!;
    const decipher = createDecipheriv(
      'aes-256-gcm',
      scryptSync(passphrase, Buffer.from(salt, 'base64'), 32, { N, r, p, maxmem: SCRYPT.maxmem }),
      Buffer.from(body.iv!, 'base64'),
    );
    decipher.setAuthTag(Buffer.from(body.tag!, 'base64'));
    return JSON.parse(Buffer.concat([decipher.update(Buffer.from(body.data!, 'base64')), decipher.final()]).toString('utf8'));
  } catch {
    throw new BackupError('WRONG_PASSPHRASE', `${file} could not be decrypted: wrong passphrase, or the file was changed`);
  }
}

/**
 * Restores a backup made by `backup`: checks every file's digest first, then the keys
 * (never over different keys already in place), the database, and the config file when
 * the installation has none. The embedded data directory must be empty or absent.
 */
export async function restore(
  config: Config,
  options: { from: string; keys: string; configFile: string | null; passphrase: string | null },
): Promise<BackupManifest> {
  const keys = readKeys(options.keys, options.passphrase);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-restore-'));
  try {
    await tar.extract({ file: options.from, cwd: work }).catch((error: Error) => {
      throw new BackupError('NOT_A_BACKUP', `${options.from} is not a backup: ${error.message}`);
    });
    const manifestFile = path.join(work, MANIFEST);
    if (!fs.existsSync(manifestFile)) throw new BackupError('NOT_A_BACKUP', `${options.from} has no ${MANIFEST}: not a Switchyard backup`);
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as BackupManifest;
    for (const [name, digest] of Object.entries(manifest.files)) {
      const file = path.join(work, name);
      if (!fs.existsSync(file) || sha256(file) !== digest)
        throw new BackupError(
          'BACKUP_DAMAGED',
          `${name} in ${options.from} is missing or damaged (its SHA-256 is not the manifest's); nothing was restored`,
        );
    }
    if ((manifest.database === 'external') !== Boolean(config.databaseUrl)) {
      throw new BackupError(
        'DATABASE_KIND_MISMATCH',
        `the backup is of ${manifest.database === 'external' ? 'an external' : 'the embedded'} database, but this configuration uses ${config.databaseUrl ? 'an external one' : 'the embedded one'}`,
      );
    }
    if (!config.databaseUrl && fs.existsSync(embeddedDir(config)) && fs.readdirSync(embeddedDir(config)).length > 0) {
      throw new BackupError(
        'DATA_DIR_NOT_EMPTY',
        `${embeddedDir(config)} is not empty: move it aside (the appliance stopped) before restoring into it`,
      );
    }
    if (config.databaseUrl) {
      // Before the keys are written. pg_restore must read the archive (made by the recorded
      // pg_dump) and, like pg_dump, be at least the server's version.
      const server = await serverVersion(config.databaseUrl);
      const dumpedBy = manifest.postgres ? Number.parseInt(manifest.postgres.pgDump, 10) : 0;
      await checkClient(
        'pg_restore',
        dumpedBy > server.major
          ? { major: dumpedBy, what: `the pg_dump ${manifest.postgres!.pgDump} that made the backup` }
          : { major: server.major, what: `the PostgreSQL ${server.text} server` },
      );
    }
    for (const [file, content] of [
      [config.masterKeyFile, keys.masterKey],
      [config.auditSigningKeyFile, keys.auditSigningKey],
    ] as const) {
      if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') !== content)
        throw new BackupError('KEY_CONFLICT', `${file} exists and holds another key; move it aside to restore the backed-up one`);
    }
    for (const [file, content] of [
      [config.masterKeyFile, keys.masterKey],
      [config.auditSigningKeyFile, keys.auditSigningKey],
    ] as const) {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      if (!fs.existsSync(file)) fs.writeFileSync(file, content, { mode: 0o600 });
    }
    if (config.databaseUrl) {
      const connection = clientConnection(config.databaseUrl);
      await run(
        'pg_restore',
        ['--clean', '--if-exists', '--no-owner', '--single-transaction', '--dbname', connection.dbname, path.join(work, 'database.dump')],
        { maxBuffer: 1 << 24, env: connection.env },
      ).catch((error: Error & { stderr?: string }) => {
        throw new BackupError('PG_RESTORE_FAILED', `pg_restore failed: ${redactText(error.stderr || error.message).trim()}`);
      });
    } else {
      fs.mkdirSync(config.dataDir, { recursive: true });
      await tar.extract({ file: path.join(work, 'postgres.tar'), cwd: config.dataDir, preserveOwner: true });
    }
    if (options.configFile && !fs.existsSync(options.configFile) && manifest.files['switchyard.env']) {
      fs.mkdirSync(path.dirname(options.configFile), { recursive: true });
      fs.copyFileSync(path.join(work, 'switchyard.env'), options.configFile);
      fs.chmodSync(options.configFile, 0o640);
    }
    return manifest;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
