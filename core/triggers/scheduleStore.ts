import type { Queryable } from '../db/database.js';
import type { CatchUp } from './cronSlots.js';

export interface ScheduleSettings {
  name: string;
  cron: string;
  timeZone: string;
  version: number | null;
  input: unknown;
  catchUp: CatchUp;
  backfillLimit: number;
}

export interface Schedule extends ScheduleSettings {
  id: string;
  tenantId: string;
  workflowId: string;
  paused: boolean;
  nextFireAt: Date;
  lastFiredSlot: Date | null;
  lastRunId: string | null;
  skippedSlots: number;
  lastError: { slot: string; code: string; message: string; at: string } | null;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `id, tenant_id as "tenantId", workflow_id as "workflowId", name, cron, time_zone as "timeZone", version, input, paused,
  catch_up as "catchUp", backfill_limit as "backfillLimit", next_fire_at as "nextFireAt", last_fired_slot as "lastFiredSlot",
  last_run_id as "lastRunId", skipped_slots as "skippedSlots", last_error as "lastError", created_at as "createdAt", updated_at as "updatedAt"`;

export async function insertSchedule(
  q: Queryable,
  row: { id: string; tenantId: string; workflowId: string; settings: ScheduleSettings; paused: boolean; nextFireAt: Date; by: string },
): Promise<Schedule> {
  const s = row.settings;
  const { rows } = await q.query<Schedule>(
    `insert into schedules (id, tenant_id, workflow_id, name, cron, time_zone, version, input, paused, catch_up, backfill_limit, next_fire_at, created_by, updated_by)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) returning ${COLUMNS}`,
    [
      row.id,
      row.tenantId,
      row.workflowId,
      s.name,
      s.cron,
      s.timeZone,
      s.version,
      JSON.stringify(s.input),
      row.paused,
      s.catchUp,
      s.backfillLimit,
      row.nextFireAt,
      row.by,
    ],
  );
  return rows[0]!;
}

export async function updateSchedule(
  q: Queryable,
  id: string,
  s: ScheduleSettings & { paused: boolean; nextFireAt: Date },
  by: string,
): Promise<Schedule> {
  const { rows } = await q.query<Schedule>(
    `update schedules set name = $2, cron = $3, time_zone = $4, version = $5, input = $6, catch_up = $7, backfill_limit = $8, paused = $9,
            next_fire_at = $10, updated_at = now(), updated_by = $11
      where id = $1 returning ${COLUMNS}`,
    [id, s.name, s.cron, s.timeZone, s.version, JSON.stringify(s.input), s.catchUp, s.backfillLimit, s.paused, s.nextFireAt, by],
  );
  return rows[0]!;
}

/** What a tick did to a schedule. */
export async function recordTick(
  q: Queryable,
  id: string,
  tick: {
    nextFireAt: Date;
    lastFiredSlot: Date | null;
    lastRunId: string | null;
    skipped: number;
    lastError: Schedule['lastError'] | undefined;
  },
): Promise<void> {
  await q.query(
    `update schedules set next_fire_at = $2, last_fired_slot = coalesce($3, last_fired_slot), last_run_id = coalesce($4, last_run_id),
            skipped_slots = skipped_slots + $5, last_error = case when $6::boolean then $7::jsonb else last_error end
      where id = $1`,
    [
      id,
      tick.nextFireAt,
      tick.lastFiredSlot,
      tick.lastRunId,
      tick.skipped,
      tick.lastError !== undefined,
      JSON.stringify(tick.lastError ?? null),
    ],
  );
}

export async function scheduleById(q: Queryable, tenantId: string, id: string, forUpdate = false): Promise<Schedule | undefined> {
  const { rows } = await q.query<Schedule>(
    `select ${COLUMNS} from schedules where id = $1 and tenant_id = $2${forUpdate ? ' for update' : ''}`,
    [id, tenantId],
  );
  return rows[0];
}

export async function listSchedules(q: Queryable, tenantId: string, workflowId: string | null): Promise<Schedule[]> {
  const { rows } = await q.query<Schedule>(
    `select ${COLUMNS} from schedules where tenant_id = $1 and ($2::uuid is null or workflow_id = $2) order by created_at, id`,
    [tenantId, workflowId],
  );
  return rows;
}

export async function deleteSchedule(q: Queryable, id: string): Promise<void> {
  await q.query('delete from schedules where id = $1', [id]);
}

export async function countSchedules(q: Queryable, tenantId: string): Promise<number> {
  const { rows } = await q.query<{ n: number }>('select count(*)::int as n from schedules where tenant_id = $1', [tenantId]);
  return rows[0]!.n;
}

/** Due schedules of every tenant, locked for the caller's transaction (0018_schedules.sql). */
export async function claimDueSchedules(q: Queryable, limit: number): Promise<{ id: string; tenantId: string }[]> {
  const { rows } = await q.query<{ id: string; tenant_id: string }>('select id, tenant_id from claim_due_schedules($1)', [limit]);
  return rows.map((r) => ({ id: r.id, tenantId: r.tenant_id }));
}

/** Acts in a tenant's context for the rest of the transaction (a claim spans tenants). */
export async function enterTenant(q: Queryable, tenantId: string): Promise<void> {
  await q.query("select set_config('app.tenant_id', $1, true)", [tenantId]);
}
