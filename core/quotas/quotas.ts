import type { Database, Queryable } from '../db/database.js';
import { AppError } from '../errors.js';
import type { TenantQuotas } from '../tenants/tenants.js';

/** The SQLSTATE of a refusal raised in the database (migration 0009). */
const QUOTA_SQLSTATE = 'SYQ01';

/** QUOTA_EXCEEDED naming the quota, its limit and the current value, as the contract asks. */
export function quotaExceeded(quota: keyof TenantQuotas, limit: number, current: number, what = ''): AppError {
  return new AppError('QUOTA_EXCEEDED', `quota ${quota} exceeded: limit ${limit}, current ${current}${what ? ` (${what})` : ''}`, {
    details: { quota, limit, current },
  });
}

/** The QUOTA_EXCEEDED error a database refusal stands for, or null for any other error. */
export function quotaErrorFromDatabase(error: unknown): AppError | null {
  const e = error as { code?: string; detail?: string } | null;
  if (e?.code !== QUOTA_SQLSTATE || !e.detail) return null;
  const detail = JSON.parse(e.detail) as { quota: keyof TenantQuotas; limit: number; current: number };
  return quotaExceeded(detail.quota, detail.limit, detail.current);
}

export async function readTenantQuotas(q: Queryable, tenantId: string): Promise<TenantQuotas> {
  const { rows } = await q.query<{ quotas: TenantQuotas }>({
    name: 'sy_tenant_quotas',
    text: 'select quotas from tenants where id = $1',
    values: [tenantId],
  });
  return rows[0]?.quotas ?? {};
}

/** Checks, inside the caller's transaction, that a retried run may become active again. */
export async function admitReactivatedRun(q: Queryable): Promise<void> {
  try {
    await q.query('select admit_runs(0, 1)');
  } catch (error) {
    throw quotaErrorFromDatabase(error) ?? error;
  }
}

export interface SandboxCpuUsage {
  limit: number;
  used: number;
}

// A second of staleness lets a tenant overshoot by what its steps started in that second
// use; reading the counter before every step would cost a query per step.
const CPU_CACHE_MS = 1000;

/**
 * The per-day sandbox CPU quota. Usage is written with each step's result (in the same
 * commit, see RunChangeBatcher); this gate refuses new sandboxed attempts once the day's
 * usage has reached the limit.
 */
export class SandboxCpuGate {
  private readonly cache = new Map<string, { at: number; usage: SandboxCpuUsage | null }>();

  constructor(private readonly db: Database) {}

  /** QUOTA_EXCEEDED when the tenant's CPU for today is used up, else null. */
  async check(tenantId: string): Promise<AppError | null> {
    const usage = await this.usage(tenantId);
    if (!usage || usage.used < usage.limit) return null;
    return quotaExceeded('sandboxCpuMsPerDay', usage.limit, usage.used, 'sandbox CPU milliseconds used today (UTC)');
  }

  private async usage(tenantId: string): Promise<SandboxCpuUsage | null> {
    const cached = this.cache.get(tenantId);
    if (cached && Date.now() - cached.at < CPU_CACHE_MS) return cached.usage;
    const { rows } = await this.db.query<{ limit: string | null; used: number | null }>(
      { tenantId },
      `select t.quotas->>'sandboxCpuMsPerDay' as limit,
              (select cpu_ms from tenant_daily_sandbox_usage u where u.tenant_id = t.id and u.day = (now() at time zone 'utc')::date) as used
         from tenants t where t.id = $1`,
      [tenantId],
    );
    const row = rows[0];
    const usage = row?.limit != null ? { limit: Number(row.limit), used: row.used ?? 0 } : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(tenantId, { at: Date.now(), usage });
    return usage;
  }
}

/** Adds sandbox CPU time to the current tenant's day, in the caller's transaction. */
export async function recordSandboxCpu(q: Queryable, cpuMs: number): Promise<void> {
  if (cpuMs <= 0) return;
  await q.query({
    name: 'sy_record_sandbox_cpu',
    text: `insert into tenant_daily_sandbox_usage as d (tenant_id, day, cpu_ms) values (app_tenant_id(), (now() at time zone 'utc')::date, $1)
           on conflict (tenant_id, day) do update set cpu_ms = d.cpu_ms + excluded.cpu_ms`,
    values: [Math.ceil(cpuMs)],
  });
}
