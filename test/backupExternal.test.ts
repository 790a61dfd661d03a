/**
 * `switchyard backup` and `switchyard restore` of an appliance on an external PostgreSQL:
 * pg_dump (custom format) while the appliance runs, the database, data directory and keys
 * wiped, pg_restore, and the runs intact and the audit chain verifying. Then the refusals
 * that must come before anything is written: a pg_dump older than the server, and a
 * pg_dump or pg_restore that is not on PATH.
 *
 * pg_dump refuses servers of a newer major version, and the suite's server may be the
 * embedded PostgreSQL 17 while the host's client tools are older, so the round trip runs
 * on the first server the host's pg_dump can dump: the suite's, else the host's own at
 * 127.0.0.1:5432. With neither, it asserts the version refusal instead (never a skip).
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import * as tar from 'tar';
import { loadConfig } from '../core/config.js';
import { startEmbeddedPostgres } from '../core/db/embedded.js';
import { createLogger } from '../core/logger.js';
import { backup, BackupError, type BackupManifest } from '../installer/backup.js';
import { adminUrl, databaseUrl, freshDatabase, testDatabasePrefix } from './support/database.js';
import { freePort, runSwitchyard } from './fixtures/processes.js';
import { startBackupSubject, stop } from './fixtures/backupSubject.js';

const ADMIN = 'sy_BaCkExTs_0123456789abcdef0123456789abcdef';
const PASSPHRASE = 'correct horse battery staple';
/** The host's own server (trust auth), present on the development and CI machines. */
const HOST_SERVER = 'postgres://postgres@127.0.0.1:5432/postgres';

const suiteServer = (): string => {
  const url = process.env['SWITCHYARD_TEST_DATABASE_URL'];
  if (!url) throw new Error('run the tests with `npm test` (it provides the database)');
  return url;
};

/** The major version of pg_dump on PATH; null when there is none. */
async function pgDumpMajor(): Promise<number | null> {
  try {
    const { stdout } = await promisify(execFile)('pg_dump', ['--version']);
    return Number(/\(PostgreSQL\)\s+(\d+)/.exec(stdout)![1]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The server's major version (server_version_num / 10000); null when nothing answers. */
async function serverMajor(url: string): Promise<number | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return Math.floor(
      Number((await client.query<{ server_version_num: string }>('show server_version_num')).rows[0]!.server_version_num) / 10000,
    );
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function admin<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl(serverUrl) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const databaseName = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

/** A database of our own on `serverUrl` (a migrated clone on the suite's server), dropped at teardown. */
async function ownDatabase(t: ExecutionContext, serverUrl: string): Promise<string> {
  let url: string;
  if (serverUrl === suiteServer()) {
    url = await freshDatabase();
  } else {
    // Not the suite's server, so not its template either: empty, and the appliance migrates it.
    url = databaseUrl(serverUrl, `${testDatabasePrefix()}${randomBytes(6).toString('hex')}`);
    await admin(serverUrl, (c) => c.query(`create database ${pg.escapeIdentifier(databaseName(url))}`));
  }
  t.teardown(() =>
    admin(serverUrl, (c) => c.query(`drop database if exists ${pg.escapeIdentifier(databaseName(url))} with (force)`)).then(
      () => undefined,
    ),
  );
  return url;
}

/** Tables outside the system schemas: 0 for a wiped database. */
async function userTables(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number(
      (
        await client.query<{ n: string }>(
          `select count(*) as n from pg_tables where schemaname not in ('pg_catalog', 'information_schema')`,
        )
      ).rows[0]!.n,
    );
  } finally {
    await client.end();
  }
}

function tempDir(t: ExecutionContext, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('an appliance on an external PostgreSQL backed up with pg_dump while running restores with pg_restore after its database, data directory and keys are wiped: runs intact, audit chain verifies; a restore without pg_restore on PATH changes nothing', async (t) => {
  const dump = await pgDumpMajor();
  const suite = suiteServer();
  const suiteMajor = await serverMajor(adminUrl(suite));
  t.not(suiteMajor, null, "the suite's server answers");
  let server: string | null = null;
  if (dump !== null && suiteMajor! <= dump) server = suite;
  else if (dump !== null && ((await serverMajor(HOST_SERVER)) ?? Infinity) <= dump) server = HOST_SERVER;
  t.log(
    `pg_dump ${dump ?? 'missing'}, suite's server PostgreSQL ${suiteMajor}: round trip on ${server === null ? 'no server (asserting the refusal)' : server === suite ? "the suite's server" : HOST_SERVER}`,
  );

  const root = tempDir(t, 'switchyard-backup-ext-');
  const out = path.join(root, 'backup.tar.gz');
  const keysOut = path.join(root, 'keys.json');
  if (server === null || dump === null) {
    // No server this pg_dump can dump: what an operator gets here is the refusal, before any file.
    const refused = await runSwitchyard(
      ['backup', '--out', out, '--keys-out', keysOut],
      { DATABASE_URL: await ownDatabase(t, suite), SWITCHYARD_DATA_DIR: path.join(root, 'data') },
      60_000,
    );
    t.is(refused.code, 1);
    t.regex(
      refused.stderr,
      dump === null
        ? /pg_dump was not found on PATH/
        : new RegExp(`pg_dump ${dump}\\.\\d+ is older than the PostgreSQL ${suiteMajor}\\.\\S+ server.*postgresql-client-${suiteMajor}`),
    );
    t.false(fs.existsSync(out));
    t.false(fs.existsSync(keysOut));
    return;
  }

  const dbUrl = await ownDatabase(t, server);
  const dataDir = path.join(root, 'data');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    DATABASE_URL: dbUrl,
    SWITCHYARD_DATA_DIR: dataDir,
    PORT: String(port),
    SWITCHYARD_ADMIN_TOKEN: ADMIN,
    SWITCHYARD_LOG_LEVEL: 'warn',
    SWITCHYARD_BACKUP_PASSPHRASE: PASSPHRASE,
  };
  const subject = await startBackupSubject(t, env, base, ADMIN, 'backed up externally');
  let appliance = subject.appliance;
  const { start, gql, tenantId, statuses, before } = subject;

  // pg_dump takes a consistent snapshot, so unlike the embedded copy this needs no stop.
  const made = await runSwitchyard(['backup', '--out', out, '--keys-out', keysOut], env, 120_000);
  t.is(made.code, 0, made.stderr);
  t.regex(made.stdout, /wrote .* \(external database\)/);
  t.is(fs.statSync(out).mode & 0o777, 0o600);
  t.is(fs.statSync(keysOut).mode & 0o777, 0o600);
  const listing = tempDir(t, 'switchyard-backup-ext-manifest-');
  await tar.extract({ file: out, cwd: listing });
  const manifest = JSON.parse(fs.readFileSync(path.join(listing, 'manifest.json'), 'utf8')) as BackupManifest;
  t.is(manifest.database, 'external');
  t.deepEqual(Object.keys(manifest.files).sort(), ['database.dump']);
  t.is(Number.parseInt(manifest.postgres!.pgDump, 10), dump, 'the manifest records the pg_dump that made it');
  t.is(fs.readFileSync(path.join(listing, 'database.dump')).subarray(0, 5).toString(), 'PGDMP', 'a pg_dump custom-format archive');
  const masterKey = fs.readFileSync(path.join(dataDir, 'master.key'), 'utf8').trim();
  await stop(t, appliance);

  // The disaster: the database dropped and made again empty, the keys gone with the data directory.
  await admin(server, async (c) => {
    await c.query(`drop database ${pg.escapeIdentifier(databaseName(dbUrl))} with (force)`);
    await c.query(`create database ${pg.escapeIdentifier(databaseName(dbUrl))}`);
  });
  fs.rmSync(dataDir, { recursive: true, force: true });
  t.is(await userTables(dbUrl), 0, 'the database is wiped');

  const noTools = tempDir(t, 'switchyard-no-pg-');
  const missing = await runSwitchyard(['restore', out, '--keys', keysOut], { ...env, PATH: noTools }, 60_000);
  t.is(missing.code, 1);
  t.regex(
    missing.stderr,
    new RegExp(
      `pg_restore was not found on PATH: install a PostgreSQL client of major version ${dump} or newer \\(e\\.g\\. the postgresql-client-${dump} package\\)`,
    ),
  );
  t.false(fs.existsSync(path.join(dataDir, 'master.key')), 'no key was written');
  t.is(await userTables(dbUrl), 0, 'nothing was restored');

  const restored = await runSwitchyard(['restore', out, '--keys', keysOut], env, 120_000);
  t.is(restored.code, 0, restored.stderr);
  t.is(fs.readFileSync(path.join(dataDir, 'master.key'), 'utf8').trim(), masterKey);

  appliance = await start();
  t.deepEqual(await statuses(), before, 'every run is back as it was');
  const exported = (
    await gql('mutation($i: AuditExportInput!) { exportAuditReport(input: $i) { verified verificationProblem eventCount } }', {
      i: { tenantId },
    })
  ).exportAuditReport;
  t.true(exported.verified, `the tenant's audit chain verifies after the restore: ${exported.verificationProblem}`);
  t.true(exported.eventCount >= before.length + 2);
  await stop(t, appliance);
});

test("a pg_dump older than the server is refused before anything is written, naming both versions and the client package to install, without the URL's password", async (t) => {
  const dump = await pgDumpMajor();
  t.not(dump, null, "pg_dump is on PATH (the host's PostgreSQL client)");
  // A server newer than pg_dump: the suite's when it is (the embedded 17), else an embedded one of our own.
  let server = suiteServer();
  if ((await serverMajor(adminUrl(server)))! <= dump!) {
    const dir = tempDir(t, 'switchyard-backup-newer-pg-');
    const embedded = await startEmbeddedPostgres(dir, await freePort(), createLogger('warn'));
    t.teardown(() => embedded.stop());
    server = embedded.superuserUrl;
  }
  const newer = (await serverMajor(adminUrl(server)))!;
  t.true(newer > dump!, `this needs a server newer than pg_dump ${dump}; the embedded one is ${newer}`);
  const password = decodeURIComponent(new URL(server).password);
  t.true(password.length > 0, 'the URL carries a password that must not be shown');

  const root = tempDir(t, 'switchyard-backup-old-');
  const out = path.join(root, 'backup.tar.gz');
  const keysOut = path.join(root, 'keys.json');
  const env = { DATABASE_URL: adminUrl(server), SWITCHYARD_DATA_DIR: path.join(root, 'data') };
  const error = await t.throwsAsync(backup(loadConfig(env), { out, keysOut, configFile: null, passphrase: null }), {
    instanceOf: BackupError,
  });
  t.is(error!.code, 'PG_CLIENT_TOO_OLD');
  t.regex(
    error!.message,
    new RegExp(
      `^pg_dump ${dump}\\.\\d+ is older than the PostgreSQL ${newer}\\.\\S+ server and cannot dump it: install a PostgreSQL client of major version ${newer} or newer \\(e\\.g\\. the postgresql-client-${newer} package\\)`,
    ),
  );
  t.false(error!.message.includes(password));

  const cli = await runSwitchyard(['backup', '--out', out, '--keys-out', keysOut], env, 60_000);
  t.is(cli.code, 1);
  t.true(cli.stderr.includes(error!.message), cli.stderr);
  t.false(cli.stderr.includes(password));
  t.false(fs.existsSync(out), 'no data backup, not even a partial one');
  t.false(fs.existsSync(keysOut), 'no key backup');
});

test("a backup with no pg_dump on PATH is refused naming pg_dump and the client package for the server's version, and writes nothing", async (t) => {
  const dbUrl = await ownDatabase(t, suiteServer());
  const major = (await serverMajor(dbUrl))!;
  const root = tempDir(t, 'switchyard-backup-nopg-');
  const noTools = tempDir(t, 'switchyard-no-pg-');
  const out = path.join(root, 'backup.tar.gz');
  const keysOut = path.join(root, 'keys.json');
  // A real host without the PostgreSQL client: PATH holds nothing (the CLI is started by absolute path).
  const refused = await runSwitchyard(
    ['backup', '--out', out, '--keys-out', keysOut],
    { DATABASE_URL: dbUrl, SWITCHYARD_DATA_DIR: path.join(root, 'data'), PATH: noTools },
    60_000,
  );
  t.is(refused.code, 1);
  t.regex(
    refused.stderr,
    new RegExp(
      `pg_dump was not found on PATH: install a PostgreSQL client of major version ${major} or newer \\(e\\.g\\. the postgresql-client-${major} package\\)`,
    ),
  );
  t.false(fs.existsSync(out));
  t.false(fs.existsSync(keysOut));
});
