import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../core/logger.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../core/db/embedded.js';
import { derivedRuntimeRole } from '../core/db/roles.js';
import { migrate } from '../core/db/migrate.js';

/** The same server, another database. */
export function databaseUrl(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

/** A pool whose idle-connection errors are handled (graphile-worker warns about pools without handlers). */
export function quietPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: 'switchyard-bench' });
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

export interface ServerInfo {
  version: string;
  embedded: boolean;
  statementStats: boolean;
  settings: Record<string, string>;
}

/** Database activity counters, server-wide (scenarios run one after another). */
export interface DbCounters {
  commits: number;
  walRecords: number | null;
  walBytes: number | null;
  /** WAL flushes to disk and the time they took (time needs track_wal_io_timing). */
  walSyncs: number | null;
  walSyncMs: number | null;
}

/** One normalised statement's share of a scenario, from pg_stat_statements. */
export interface StatementStat {
  query: string;
  calls: number;
  /** Execution plus planning time. */
  totalMs: number;
  meanExecMs: number;
  meanPlanMs: number;
}

const SETTINGS = ['fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers', 'max_connections'];

/**
 * The PostgreSQL server every scenario of one run uses: DATABASE_URL when set, otherwise
 * an embedded server in a temporary directory on a random port (restarted once with
 * pg_stat_statements preloaded unless BENCH_PG_STATS=0). Each scenario gets its own
 * freshly migrated database; all of them are dropped by `close()`.
 */
export class BenchServer {
  private readonly created: string[] = [];
  private statementStats = false;

  private constructor(
    readonly baseUrl: string,
    private admin: pg.Client,
    private readonly embedded: EmbeddedDatabase | null,
    private readonly tempDir: string | null,
  ) {}

  static async start(logger: Logger, env: Record<string, string | undefined> = process.env): Promise<BenchServer> {
    const external = env['DATABASE_URL'] || undefined;
    if (external) {
      const server = new BenchServer(external, await connectAdmin(external), null, null);
      await server.enableStatementStats();
      return server;
    }
    const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-'));
    const port = 20000 + Math.floor(Math.random() * 20000);
    let embedded: EmbeddedDatabase | null = null;
    try {
      embedded = await startEmbeddedPostgres(tempDir, port, logger);
      if (env['BENCH_PG_STATS'] !== '0') {
        // shared_preload_libraries only takes effect at server start.
        const admin = await connectAdmin(embedded.superuserUrl);
        await admin.query(`alter system set shared_preload_libraries = 'pg_stat_statements'`);
        await admin.query(`alter system set pg_stat_statements.track_planning = on`);
        await admin.query(`alter system set track_wal_io_timing = on`);
        await admin.end();
        await embedded.stop();
        embedded = await startEmbeddedPostgres(tempDir, port, logger);
      }
      const server = new BenchServer(embedded.superuserUrl, await connectAdmin(embedded.superuserUrl), embedded, tempDir);
      await server.enableStatementStats();
      return server;
    } catch (error) {
      await embedded?.stop().catch(() => undefined);
      fs.rmSync(tempDir, { recursive: true, force: true });
      throw error;
    }
  }

  private async enableStatementStats(): Promise<void> {
    try {
      await this.admin.query('create extension if not exists pg_stat_statements');
      await this.admin.query('select pg_stat_statements_reset()');
      this.statementStats = true;
    } catch {
      this.statementStats = false;
    }
  }

  /** The postmaster's process id, when the server is the embedded one (for CPU accounting). */
  postmasterPid(): number | null {
    if (!this.tempDir) return null;
    try {
      return Number(fs.readFileSync(path.join(this.tempDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]) || null;
    } catch {
      return null;
    }
  }

  async info(): Promise<ServerInfo> {
    const { rows } = await this.admin.query<{ version: string }>('select version()');
    const settings: Record<string, string> = {};
    for (const name of SETTINGS) {
      const r = await this.admin.query<{ setting: string }>(`select current_setting($1) as setting`, [name]);
      settings[name] = r.rows[0]!.setting;
    }
    return { version: rows[0]!.version, embedded: this.embedded !== null, statementStats: this.statementStats, settings };
  }

  /** A new database with Switchyard's and graphile-worker's migrations applied; returns its URL. */
  async freshDatabase(label: string): Promise<string> {
    const name = `sy_bench_${label}_${randomBytes(4).toString('hex')}`;
    await this.admin.query(`create database ${name}`);
    this.created.push(name);
    const url = databaseUrl(this.baseUrl, name);
    const pool = quietPool(url, 2);
    try {
      await migrate(pool, derivedRuntimeRole(url));
    } finally {
      await pool.end();
    }
    return url;
  }

  async counters(): Promise<DbCounters> {
    // Backends report their statistics at most about once a second; let them catch up.
    await new Promise((r) => setTimeout(r, 1100));
    const { rows } = await this.admin.query<{ commits: string }>('select sum(xact_commit) as commits from pg_stat_database');
    const counters: DbCounters = { commits: Number(rows[0]!.commits), walRecords: null, walBytes: null, walSyncs: null, walSyncMs: null };
    try {
      const wal = await this.admin.query<{ wal_records: string; wal_bytes: string }>('select wal_records, wal_bytes from pg_stat_wal');
      counters.walRecords = Number(wal.rows[0]!.wal_records);
      counters.walBytes = Number(wal.rows[0]!.wal_bytes);
      // PostgreSQL 14 to 17 (18 moved these to pg_stat_io).
      const sync = await this.admin.query<{ wal_sync: string; wal_sync_time: number; timing: string }>(
        `select wal_sync, wal_sync_time, current_setting('track_wal_io_timing') as timing from pg_stat_wal`,
      );
      counters.walSyncs = Number(sync.rows[0]!.wal_sync);
      counters.walSyncMs = sync.rows[0]!.timing === 'on' ? Number(sync.rows[0]!.wal_sync_time) : null;
    } catch {
      // Older or newer servers: leave what is missing as null.
    }
    return counters;
  }

  async resetStatements(): Promise<void> {
    if (this.statementStats) await this.admin.query('select pg_stat_statements_reset()');
  }

  /** Statements run in `database` since the last reset, most expensive first (null without pg_stat_statements). */
  async statements(database: string, limit = 8): Promise<{ top: StatementStat[]; calls: number; totalMs: number } | null> {
    if (!this.statementStats) return null;
    const { rows } = await this.admin.query<{ query: string; calls: string; exec: number; plan: number }>(
      `select query, calls, total_exec_time as exec, total_plan_time as plan from pg_stat_statements
        where dbid = (select oid from pg_database where datname = $1) order by total_exec_time + total_plan_time desc`,
      [database],
    );
    const top = rows.slice(0, limit).map((r) => {
      const calls = Math.max(1, Number(r.calls));
      return {
        query: r.query.replace(/\s+/g, ' ').trim(),
        calls: Number(r.calls),
        totalMs: r.exec + r.plan,
        meanExecMs: r.exec / calls,
        meanPlanMs: r.plan / calls,
      };
    });
    return { top, calls: rows.reduce((a, r) => a + Number(r.calls), 0), totalMs: rows.reduce((a, r) => a + r.exec + r.plan, 0) };
  }

  async close(): Promise<void> {
    for (const name of this.created) {
      await this.admin.query(`drop database if exists ${name} with (force)`).catch(() => undefined);
    }
    await this.admin.end().catch(() => undefined);
    await this.embedded?.stop().catch(() => undefined);
    if (this.tempDir) fs.rmSync(this.tempDir, { recursive: true, force: true });
  }
}

async function connectAdmin(url: string): Promise<pg.Client> {
  const admin = new pg.Client({ connectionString: databaseUrl(url, 'postgres'), application_name: 'switchyard-bench' });
  await admin.connect();
  admin.on('error', () => undefined);
  return admin;
}

export function counterDelta(before: DbCounters, after: DbCounters): DbCounters {
  return {
    commits: after.commits - before.commits,
    walRecords: before.walRecords === null || after.walRecords === null ? null : after.walRecords - before.walRecords,
    walBytes: before.walBytes === null || after.walBytes === null ? null : after.walBytes - before.walBytes,
    walSyncs: before.walSyncs === null || after.walSyncs === null ? null : after.walSyncs - before.walSyncs,
    walSyncMs: before.walSyncMs === null || after.walSyncMs === null ? null : after.walSyncMs - before.walSyncMs,
  };
}
