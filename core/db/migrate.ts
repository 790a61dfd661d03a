import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runMigrations, Logger as GraphileLogger } from 'graphile-worker';
import { ensureRuntimeRole, type RuntimeRole } from './roles.js';

// Migrations are SQL files shipped beside the compiled code's source tree.
const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../core/db/migrations');
// Arbitrary but fixed: every Switchyard process contends for the same key.
const MIGRATION_LOCK_KEY = 0x5357_0001;

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      id: Number(file.slice(0, 4)),
      name: file.replace(/\.sql$/, ''),
      sql: fs.readFileSync(path.join(dir, file), 'utf8'),
    }));
}

export interface MigrationReport {
  applied: string[];
  alreadyApplied: number;
}

/**
 * Applies pending migrations as the owner (the pool's role), each in its own
 * transaction, under a session advisory lock so two instances starting together apply
 * each migration exactly once; then graphile-worker's own migrations. Migration files
 * name the runtime role and the owner as `${runtime_role}` and `${owner_role}`.
 */
export async function migrate(pool: pg.Pool, runtimeRole: RuntimeRole): Promise<MigrationReport> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await ensureRuntimeRole(client, runtimeRole);
      const owner = (await client.query<{ u: string }>('select current_user as u')).rows[0]!.u;
      const placeholders = { '${runtime_role}': pg.escapeIdentifier(runtimeRole.name), '${owner_role}': pg.escapeIdentifier(owner) };
      await client.query(`create table if not exists switchyard_migrations (
        id int primary key, name text not null, applied_at timestamptz not null default now())`);
      const doneRows = (await client.query<{ id: number; name: string }>('select id, name from switchyard_migrations order by id')).rows;
      const done = new Set(doneRows.map((r) => r.id));
      // A database a newer build migrated: this build's code would run on a schema it does not know.
      const known = new Set(listMigrations().map((m) => m.id));
      const unknown = doneRows.filter((r) => !known.has(r.id)).map((r) => r.name);
      if (unknown.length > 0) {
        throw new Error(
          `the database has migrations this build does not have (${unknown.join(', ')}): a newer Switchyard upgraded it. ` +
            'Run that version, or roll back its upgrade (switchyard upgrade --rollback restores the pre-upgrade backup)',
        );
      }
      const applied: string[] = [];
      await runMigrations({ pgPool: pool, logger: silentGraphileLogger });
      for (const migration of listMigrations()) {
        if (done.has(migration.id)) continue;
        await client.query('BEGIN');
        try {
          await client.query(substitute(migration.sql, placeholders));
          await client.query('insert into switchyard_migrations (id, name) values ($1, $2)', [migration.id, migration.name]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
        }
        applied.push(migration.name);
      }
      await indexJobQueue(client);
      await grantJobQueue(client, placeholders['${runtime_role}']);
      return { applied, alreadyApplied: done.size };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

function substitute(sql: string, placeholders: Record<string, string>): string {
  let out = sql;
  for (const [name, value] of Object.entries(placeholders)) out = out.replaceAll(name, value);
  return out;
}

/**
 * The engine's own index on graphile-worker's jobs table: the tenant in each job's
 * payload, so counting one tenant's ready jobs (ready_step_jobs, 0013_step_backlog.sql)
 * reads only that tenant's rows. Made after graphile-worker's migrations on every run, as
 * a later graphile-worker version that rebuilt its table would have dropped it.
 */
async function indexJobQueue(client: pg.PoolClient): Promise<void> {
  await client.query(`create index if not exists sy_jobs_tenant on graphile_worker._private_jobs ((payload->>'t'), run_at)`);
}

/**
 * The job queue belongs to the engine, not to a tenant. Granted after every migration
 * run because graphile-worker's own migrations may add tables. graphile-worker turns on
 * row-level security without policies on its private tables (so only their owner may
 * touch them); the runtime role gets a policy of its own on each.
 */
async function grantJobQueue(client: pg.PoolClient, runtimeRole: string): Promise<void> {
  await client.query(`grant usage on schema graphile_worker to ${runtimeRole};
    grant select, insert, update, delete on all tables in schema graphile_worker to ${runtimeRole};
    grant usage, select on all sequences in schema graphile_worker to ${runtimeRole};
    grant execute on all functions in schema graphile_worker to ${runtimeRole}`);
  const { rows } = await client.query<{ table: string }>(
    `select c.relname as table from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'graphile_worker' and c.relkind = 'r' and c.relrowsecurity
        and not exists (select 1 from pg_policy p where p.polrelid = c.oid and p.polname = 'switchyard_runtime_queue')`,
  );
  for (const { table } of rows) {
    await client.query(
      `create policy switchyard_runtime_queue on graphile_worker.${pg.escapeIdentifier(table)} to ${runtimeRole} using (true) with check (true)`,
    );
  }
}

export async function pendingMigrations(pool: pg.Pool): Promise<string[]> {
  const exists = await pool.query(`select to_regclass('switchyard_migrations') as t`);
  if (!exists.rows[0]?.t) return listMigrations().map((m) => m.name);
  const done = new Set((await pool.query<{ id: number }>('select id from switchyard_migrations')).rows.map((r) => r.id));
  return listMigrations()
    .filter((m) => !done.has(m.id))
    .map((m) => m.name);
}

export const silentGraphileLogger = new GraphileLogger(() => () => undefined);
