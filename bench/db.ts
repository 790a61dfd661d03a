import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../core/logger.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../core/db/embedded.js';
import { migrate } from '../core/db/migrate.js';

/** The same server, another database. */
export function databaseUrl(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

export interface ServerInfo {
  version: string;
  embedded: boolean;
  settings: Record<string, string>;
}

/** Database activity counters, server-wide (scenarios run one after another). */
export interface DbCounters {
  commits: number;
  walRecords: number | null;
  walBytes: number | null;
}

const SETTINGS = ['fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers', 'max_connections'];

/**
 * The PostgreSQL server every scenario of one run uses: DATABASE_URL when set, otherwise
 * an embedded server in a temporary directory on a random port. Each scenario gets its
 * own freshly migrated database; all of them are dropped by `close()`.
 */
export class BenchServer {
  private readonly created: string[] = [];

  private constructor(
    readonly baseUrl: string,
    private readonly admin: pg.Client,
    private readonly embedded: EmbeddedDatabase | null,
    private readonly tempDir: string | null,
  ) {}

  static async start(logger: Logger, env: Record<string, string | undefined> = process.env): Promise<BenchServer> {
    let baseUrl = env['DATABASE_URL'] || undefined;
    let embedded: EmbeddedDatabase | null = null;
    let tempDir: string | null = null;
    if (!baseUrl) {
      tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-'));
      embedded = await startEmbeddedPostgres(tempDir, 20000 + Math.floor(Math.random() * 20000), logger);
      baseUrl = embedded.url;
    }
    const admin = new pg.Client({ connectionString: databaseUrl(baseUrl, 'postgres'), application_name: 'switchyard-bench' });
    try {
      await admin.connect();
    } catch (error) {
      await embedded?.stop().catch(() => undefined);
      throw error;
    }
    admin.on('error', () => undefined);
    return new BenchServer(baseUrl, admin, embedded, tempDir);
  }

  async info(): Promise<ServerInfo> {
    const { rows } = await this.admin.query<{ version: string }>('select version()');
    const settings: Record<string, string> = {};
    for (const name of SETTINGS) {
      const r = await this.admin.query<{ setting: string }>(`select current_setting($1) as setting`, [name]);
      settings[name] = r.rows[0]!.setting;
    }
    return { version: rows[0]!.version, embedded: this.embedded !== null, settings };
  }

  /** A new database with Switchyard's and graphile-worker's migrations applied; returns its URL. */
  async freshDatabase(label: string): Promise<string> {
    const name = `sy_bench_${label}_${randomBytes(4).toString('hex')}`;
    await this.admin.query(`create database ${name}`);
    this.created.push(name);
    const url = databaseUrl(this.baseUrl, name);
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    try {
      await migrate(pool);
    } finally {
      await pool.end();
    }
    return url;
  }

  async counters(): Promise<DbCounters> {
    // Backends report their statistics at most about once a second; let them catch up.
    await new Promise((r) => setTimeout(r, 1100));
    const { rows } = await this.admin.query<{ commits: string }>('select sum(xact_commit) as commits from pg_stat_database');
    let walRecords: number | null = null;
    let walBytes: number | null = null;
    try {
      const wal = await this.admin.query<{ wal_records: string; wal_bytes: string }>('select wal_records, wal_bytes from pg_stat_wal');
      walRecords = Number(wal.rows[0]!.wal_records);
      walBytes = Number(wal.rows[0]!.wal_bytes);
    } catch {
      // pg_stat_wal needs PostgreSQL 14+.
    }
    return { commits: Number(rows[0]!.commits), walRecords, walBytes };
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

export function counterDelta(before: DbCounters, after: DbCounters): DbCounters {
  return {
    commits: after.commits - before.commits,
    walRecords: before.walRecords === null || after.walRecords === null ? null : after.walRecords - before.walRecords,
    walBytes: before.walBytes === null || after.walBytes === null ? null : after.walBytes - before.walBytes,
  };
}
