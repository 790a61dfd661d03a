/**
 * A tenant's operating picture for the admin UI's first page: runs started and failed per
 * minute over the last hour, runs in flight, steps queued, approvals waiting and circuit
 * breakers open. Every count is an index range of the tenant's own rows (row-level security
 * applies as for any query), so the page stays cheap however large the history grows.
 */
import { tenantOf, type RequestContext } from '../auth/roles.js';
import type { Database } from '../db/database.js';

export const OVERVIEW_MINUTES = 60;

export interface RunOverview {
  /** One entry per minute of the last hour that started runs, oldest first. */
  runsPerMinute: { minute: Date; started: number; failed: number }[];
  startedLastHour: number;
  failedLastHour: number;
  queued: number;
  running: number;
  waiting: number;
  /** Step jobs due in the queue or held in the tenant's backlog. */
  queueDepth: number;
  waitingApprovals: number;
  openCircuitBreakers: number;
}

export interface PendingApproval {
  runId: string;
  stepId: string;
  workflowId: string;
  since: Date;
  /** When the approval times out, if it does. */
  until: string | null;
}

/** The smallest UUIDv7 of a moment: runs created since then have ids at or above it. */
function idFloor(at: Date): string {
  const hex = at.getTime().toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

export async function runOverview(db: Database, ctx: RequestContext): Promise<RunOverview> {
  const tenantId = tenantOf(ctx.actor, 'run:read');
  const since = new Date(Date.now() - OVERVIEW_MINUTES * 60_000);
  return db.tx({ tenantId }, async (q) => {
    const perMinute = await q.query<{ minute: Date; started: number; failed: number }>(
      `select date_trunc('minute', created_at) as minute, count(*)::int as started,
              count(*) filter (where status in ('FAILED', 'TIMED_OUT'))::int as failed
         from runs where tenant_id = $1 and id >= $2 and created_at >= $3
        group by 1 order by 1`,
      [tenantId, idFloor(since), since],
    );
    const active = await q.query<{ status: string; n: number }>(
      `select status, count(*)::int as n from runs where tenant_id = $1 and status in ('QUEUED', 'RUNNING', 'WAITING') group by status`,
      [tenantId],
    );
    const other = await q.query<{ queue_depth: number; approvals: number; open_breakers: number }>(
      `select ready_step_jobs($1) + (select count(*)::int from step_backlog where tenant_id = $1) as queue_depth,
              (select count(*)::int ${WAITING_APPROVALS}) as approvals,
              (select count(*)::int from integration_guards where tenant_id = $1 and state = 'OPEN') as open_breakers`,
      [tenantId],
    );
    const count = (status: string) => active.rows.find((r) => r.status === status)?.n ?? 0;
    return {
      runsPerMinute: perMinute.rows,
      startedLastHour: perMinute.rows.reduce((sum, r) => sum + r.started, 0),
      failedLastHour: perMinute.rows.reduce((sum, r) => sum + r.failed, 0),
      queued: count('QUEUED'),
      running: count('RUNNING'),
      waiting: count('WAITING'),
      queueDepth: other.rows[0]!.queue_depth,
      waitingApprovals: other.rows[0]!.approvals,
      openCircuitBreakers: other.rows[0]!.open_breakers,
    };
  });
}

// The tenant's ($1) steps waiting for approval, with their latest wait as `w`: a waiting
// step is an approval when its latest wait says so (delays wait too).
const WAITING_APPROVALS = `from runs r
       join step_executions s on s.run_id = r.id and s.tenant_id = $1 and s.status = 'WAITING'
       join lateral (select e.at, e.data from run_events e
                      where e.run_id = s.run_id and e.step_id = s.step_id and e.type = 'STEP_WAITING'
                      order by e.seq desc limit 1) w on w.data->>'reason' = 'approval'
      where r.tenant_id = $1 and r.status in ('RUNNING', 'WAITING')`;

/** Steps waiting for an operator's decision, oldest first (at most `limit`). */
export async function pendingApprovals(db: Database, ctx: RequestContext, limit = 100): Promise<PendingApproval[]> {
  const tenantId = tenantOf(ctx.actor, 'run:read');
  const { rows } = await db.query<PendingApproval>(
    { tenantId },
    `select s.run_id as "runId", s.step_id as "stepId", r.workflow_id as "workflowId", w.at as since, w.data->>'until' as until
       ${WAITING_APPROVALS}
      order by w.at limit $2`,
    [tenantId, limit],
  );
  return rows;
}
