/**
 * `npm test`: runs the whole ava suite against a real PostgreSQL: DATABASE_URL when set,
 * otherwise an embedded server started for this run. A migrated template database is
 * made once; each test file clones it (see database.ts), so files run in parallel
 * without sharing state.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import pg from 'pg';
import { createLogger } from '../../core/logger.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../core/db/embedded.js';
import { migrate } from '../../core/db/migrate.js';
import { derivedRuntimeRole } from '../../core/db/roles.js';
import { adminUrl, databaseUrl, testDatabasePrefix } from './database.js';

const logger = createLogger('warn');
let embedded: EmbeddedDatabase | null = null;
let baseUrl = process.env['DATABASE_URL'];
if (!baseUrl) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-test-'));
  embedded = await startEmbeddedPostgres(dir, 20000 + Math.floor(Math.random() * 20000), logger);
  baseUrl = embedded.superuserUrl;
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
}
const template = `switchyard_tpl_${process.pid}`;
const admin = new pg.Client({ connectionString: adminUrl(baseUrl) });
await admin.connect();
await admin.query(`drop database if exists ${template}`);
await admin.query(`create database ${template}`);
const pool = new pg.Pool({ connectionString: databaseUrl(baseUrl, template), max: 2 });
pool.on('error', () => undefined);
pool.on('connect', (client) => client.on('error', () => undefined));
// Tests connect as the server does: the owner migrates, the derived runtime role serves.
await migrate(pool, derivedRuntimeRole(databaseUrl(baseUrl, template)));
await pool.end();

const require = createRequire(import.meta.url);
const avaCli = path.join(path.dirname(require.resolve('ava')), 'cli.mjs');
const code: number = await new Promise((resolve) => {
  const child = spawn(process.execPath, [avaCli, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, SWITCHYARD_TEST_DATABASE_URL: baseUrl, SWITCHYARD_TEST_TEMPLATE: template },
  });
  child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
});

const { rows } = await admin.query<{ datname: string }>(`select datname from pg_database where starts_with(datname, $2) or datname = $1`, [
  template,
  testDatabasePrefix(template),
]);
for (const row of rows) await admin.query(`drop database if exists ${row.datname} with (force)`).catch(() => undefined);
await admin.end();
await embedded?.stop();
process.exit(code);
