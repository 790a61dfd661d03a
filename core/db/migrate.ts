import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { runMigrations, Logger as GraphileLogger } from 'graphile-worker';

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
    .map((file) => ({ id: Number(file.slice(0, 4)), name: file.replace(/\.sql$/, ''), sql: fs.readFileSync(path.join(dir, file), 'utf8') }));
}

export interface MigrationReport {
  applied: string[];
  alreadyApplied: number;
}

/**
 * Applies pending migrations, each in its own transaction, under a session advisory
 * lock so two instances starting together apply each migration exactly once; then
 * graphile-worker's own migrations.
 */
export async function migrate(pool: pg.Pool): Promise<MigrationReport> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`create table if not exists switchyard_migrations (
        id int primary key, name text not null, applied_at timestamptz not null default now())`);
      const done = new Set((await client.query<{ id: number }>('select id from switchyard_migrations')).rows.map((r) => r.id));
      const applied: string[] = [];
      for (const migration of listMigrations()) {
        if (done.has(migration.id)) continue;
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query('insert into switchyard_migrations (id, name) values ($1, $2)', [migration.id, migration.name]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
        }
        applied.push(migration.name);
      }
      await runMigrations({ pgPool: pool, logger: silentGraphileLogger });
      return { applied, alreadyApplied: done.size };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

export async function pendingMigrations(pool: pg.Pool): Promise<string[]> {
  const exists = await pool.query(`select to_regclass('switchyard_migrations') as t`);
  if (!exists.rows[0]?.t) return listMigrations().map((m) => m.name);
  const done = new Set((await pool.query<{ id: number }>('select id from switchyard_migrations')).rows.map((r) => r.id));
  return listMigrations().filter((m) => !done.has(m.id)).map((m) => m.name);
}

export const silentGraphileLogger = new GraphileLogger(() => () => undefined);
