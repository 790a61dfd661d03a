/** The `integration_guards` table (migration 0010). Callers run these in the tenant's transaction scope. */
import type { Queryable } from '../db/database.js';
import type { BreakerState, GuardSettings, IntegrationGuard } from './model.js';

interface GuardRow {
  tenant_id: string;
  host: string;
  rate_per_second: number | null;
  burst: number | null;
  failure_threshold: number;
  cool_down_seconds: number;
  state: BreakerState['status'];
  consecutive_failures: number;
  opened_at: Date | null;
  retry_at: Date | null;
  trial_until: Date | null;
  held_until: Date | null;
  updated_at: Date;
}

const COLUMNS = `tenant_id, host, rate_per_second, burst, failure_threshold, cool_down_seconds, state, consecutive_failures,
  opened_at, retry_at, trial_until, held_until, updated_at`;

const ms = (d: Date | null): number | null => (d === null ? null : d.getTime());
const date = (n: number | null): Date | null => (n === null ? null : new Date(n));

function toGuard(row: GuardRow): IntegrationGuard {
  return {
    tenantId: row.tenant_id,
    host: row.host,
    settings: {
      ratePerSecond: row.rate_per_second,
      burst: row.burst,
      failureThreshold: row.failure_threshold,
      coolDownSeconds: row.cool_down_seconds,
    },
    breaker: {
      status: row.state,
      consecutiveFailures: row.consecutive_failures,
      openedAt: ms(row.opened_at),
      retryAt: ms(row.retry_at),
      trialUntil: ms(row.trial_until),
      heldUntil: ms(row.held_until),
    },
    updatedAt: row.updated_at,
  };
}

export async function readGuards(q: Queryable, tenantId: string): Promise<IntegrationGuard[]> {
  const { rows } = await q.query<GuardRow>({
    name: 'sy_read_guards',
    text: `select ${COLUMNS} from integration_guards where tenant_id = $1 order by host`,
    values: [tenantId],
  });
  return rows.map(toGuard);
}

/** Locks the guard's row until the transaction ends: breaker transitions of every process serialise here. */
export async function lockGuard(q: Queryable, tenantId: string, host: string): Promise<IntegrationGuard | null> {
  const { rows } = await q.query<GuardRow>({
    name: 'sy_lock_guard',
    text: `select ${COLUMNS} from integration_guards where tenant_id = $1 and host = $2 for update`,
    values: [tenantId, host],
  });
  return rows[0] ? toGuard(rows[0]) : null;
}

export async function writeBreaker(q: Queryable, tenantId: string, host: string, b: BreakerState): Promise<IntegrationGuard> {
  const { rows } = await q.query<GuardRow>({
    name: 'sy_write_breaker',
    text: `update integration_guards set state = $3, consecutive_failures = $4, opened_at = $5, retry_at = $6, trial_until = $7, held_until = $8
            where tenant_id = $1 and host = $2 returning ${COLUMNS}`,
    values: [tenantId, host, b.status, b.consecutiveFailures, date(b.openedAt), date(b.retryAt), date(b.trialUntil), date(b.heldUntil)],
  });
  return toGuard(rows[0]!);
}

/** Creates the guard (its breaker CLOSED) or replaces its settings, keeping its breaker's state. */
export async function upsertGuardSettings(
  q: Queryable,
  tenantId: string,
  host: string,
  s: GuardSettings,
  by: string,
): Promise<{ guard: IntegrationGuard; created: boolean }> {
  const { rows } = await q.query<GuardRow & { created: boolean }>(
    `insert into integration_guards as g (tenant_id, host, rate_per_second, burst, failure_threshold, cool_down_seconds, updated_by)
     values ($1, $2, $3, $4, $5, $6, $7)
     on conflict (tenant_id, host) do update set rate_per_second = excluded.rate_per_second, burst = excluded.burst,
       failure_threshold = excluded.failure_threshold, cool_down_seconds = excluded.cool_down_seconds, updated_by = excluded.updated_by, updated_at = now()
     returning ${COLUMNS}, (xmax = 0) as created`,
    [tenantId, host, s.ratePerSecond, s.burst, s.failureThreshold, s.coolDownSeconds, by],
  );
  return { guard: toGuard(rows[0]!), created: rows[0]!.created };
}

export async function deleteGuard(q: Queryable, tenantId: string, host: string): Promise<IntegrationGuard | null> {
  const { rows } = await q.query<GuardRow>(`delete from integration_guards where tenant_id = $1 and host = $2 returning ${COLUMNS}`, [
    tenantId,
    host,
  ]);
  return rows[0] ? toGuard(rows[0]) : null;
}
