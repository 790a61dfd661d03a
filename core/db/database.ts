import pg from 'pg';
import { isId } from '../ids.js';

export type Queryable = Pick<pg.PoolClient, 'query'>;

/**
 * Whose data a transaction may touch. Tenant-scoped work sets `app.tenant_id` for the
 * transaction only (never a session-wide SET, which would leak across pooled
 * connections); row-level security policies read it. `system` is for appliance-wide
 * tables (tenants, tokens, engine nodes) and sets no tenant.
 */
export type TxScope = { tenantId: string } | 'system';

/** The scope of a row that may be appliance-wide (tenant null) or a tenant's. */
export function scopeOf(tenantId: string | null): TxScope {
  return tenantId === null ? 'system' : { tenantId };
}

// int8 and numeric stay strings by default in pg; counters here fit in a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export class Database {
  readonly pool: pg.Pool;

  constructor(connectionString: string, poolSize: number, applicationName = 'switchyard') {
    this.pool = new pg.Pool({
      connectionString,
      max: poolSize,
      application_name: applicationName,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 10_000,
    });
    // A dropped idle connection must not crash the process; the pool replaces it.
    this.pool.on('error', () => undefined);
    this.pool.on('connect', (client) => client.on('error', () => undefined));
  }

  /** Runs `fn` in one transaction with the tenant context set; retries serialization failures. */
  async tx<T>(scope: TxScope, fn: (q: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      try {
        await client.query(beginStatement(scope));
        const result = await fn(client);
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.release();
        if (attempt < 5 && isRetryableConflict(error)) continue;
        throw error;
      }
    }
  }

  /** A single statement outside an explicit transaction, in the given scope. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    scope: TxScope,
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    if (scope === 'system') return this.pool.query<R>(text, values);
    return this.tx(scope, (q) => q.query<R>(text, values));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

function beginStatement(scope: TxScope): string {
  if (scope === 'system') return 'BEGIN';
  // Inlined so BEGIN and the tenant context cost one round trip; the id is validated as a UUID.
  if (!isId(scope.tenantId)) throw new Error('tenant id must be a UUID');
  return `BEGIN; SELECT set_config('app.tenant_id', '${scope.tenantId}', true)`;
}

function isRetryableConflict(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === '40001' || code === '40P01';
}

/** PostgreSQL unique-violation, for turning constraint races into CONFLICT or idempotent replays. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: string; constraint?: string } | null;
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}
