import type { Queryable } from '../db/database.js';
import type { RunState, StepState } from './model.js';
import type { RunTransition } from './transition.js';

export const RUN_EVENTS_CHANNEL = 'sy_run_events';
export const RUN_INTERRUPT_CHANNEL = 'sy_run_interrupt';

interface RunRow {
  id: string;
  tenant_id: string;
  workflow_id: string;
  workflow_version_id: string;
  status: RunState['status'];
  input: unknown;
  output: unknown;
  error: RunState['error'];
  version: number;
  created_at: Date;
  finished_at: Date | null;
  deadline_at: Date;
  steps: {
    step_id: string; status: StepState['status']; attempts: number; output: unknown; error: StepState['error'];
    queued_at: string | null; started_at: string | null; finished_at: string | null; settled_seq: number | null;
  }[];
}

/** A transition's events and jobs as the JSON rows the write statements unpack. */
function eventAndJobRows(tr: RunTransition): { events: unknown[]; jobs: unknown[] } {
  return {
    events: tr.events.map((e) => ({ seq: e.seq, type: e.type, step_id: e.stepId, data: e.data })),
    jobs: tr.jobs.map((j) => ({ identifier: j.identifier, payload: j.payload, run_at: j.runAt, max_attempts: j.maxAttempts, job_key: j.jobKey })),
  };
}

/** CTE `ev`: appends the events given as a JSON array parameter. */
function insertEventsCte(runId: string, tenantId: string, eventsParam: string): string {
  return `ev as (
        insert into run_events (run_id, seq, tenant_id, type, step_id, data)
        select ${runId}, v.seq, ${tenantId}, v.type, v.step_id, coalesce(v.data, '{}')
          from jsonb_to_recordset(${eventsParam}::jsonb) as v(seq int, type text, step_id text, data jsonb)
        returning 1)`;
}

/** CTE `jb`: adds the graphile-worker jobs given as a JSON array parameter, in the same transaction. */
function addJobsCte(jobsParam: string): string {
  return `jb as (
        select graphile_worker.add_jobs(array(
          select row(v.identifier, v.payload, null, v.run_at, v.max_attempts, v.job_key, null, null)::graphile_worker.job_spec
            from json_to_recordset(${jobsParam}::json) as v(identifier text, payload json, run_at timestamptz, max_attempts int, job_key text)))
         where json_array_length(${jobsParam}::json) > 0)`;
}

/**
 * Loads a run and all its steps, locking the run row until the transaction ends: every
 * change to a run is serialised through this lock, and its version is the CAS check.
 */
export async function loadRunForUpdate(q: Queryable, runId: string): Promise<RunState | null> {
  // Lock first, read after, in separate statements. A statement that waits for a row lock
  // under READ COMMITTED re-reads only the locked row; anything else it reads (a subquery
  // over the steps) comes from the snapshot taken before the wait, i.e. before the
  // concurrent commit it waited for. Reading the steps in a later statement sees that commit.
  const locked = await q.query('select 1 from runs where id = $1 for update', [runId]);
  if (locked.rowCount === 0) return null;
  const { rows } = await q.query<RunRow>(
    `select r.id, r.tenant_id, r.workflow_id, r.workflow_version_id, r.status, r.input, r.output, r.error, r.version,
            r.created_at, r.finished_at, r.deadline_at,
            coalesce((select json_agg(s) from (select step_id, status, attempts, output, error, queued_at, started_at, finished_at, settled_seq
                       from step_executions where run_id = r.id) s), '[]') as steps
       from runs r where r.id = $1`,
    [runId],
  );
  const row = rows[0];
  if (!row) return null;
  const steps = new Map<string, StepState>();
  for (const s of row.steps) {
    steps.set(s.step_id, {
      stepId: s.step_id, status: s.status, attempts: s.attempts, output: s.output, error: s.error,
      queuedAt: s.queued_at, startedAt: s.started_at, finishedAt: s.finished_at, settledSeq: s.settled_seq,
    });
  }
  return {
    id: row.id, tenantId: row.tenant_id, workflowId: row.workflow_id, workflowVersionId: row.workflow_version_id,
    status: row.status, input: row.input, output: row.output, error: row.error, version: row.version,
    createdAt: row.created_at.toISOString(), finishedAt: row.finished_at?.toISOString() ?? null,
    deadlineAt: row.deadline_at.toISOString(), steps,
  };
}

/**
 * Writes a transition in one statement: changed steps, new events, new jobs and the run
 * row, the last guarded by the version it was loaded with. Events are keyed by
 * (run, seq), so even a broken lock could not record a state change twice.
 */
export async function persistTransition(q: Queryable, tr: RunTransition): Promise<void> {
  if (tr.events.length === 0 && tr.dirtySteps.size === 0 && tr.jobs.length === 0 && !tr.runChanged) return;
  const run = tr.run;
  const steps = [...tr.dirtySteps].map((id) => {
    const s = tr.step(id);
    return {
      step_id: s.stepId, status: s.status, attempts: s.attempts, output: s.output, error: s.error,
      queued_at: s.queuedAt, started_at: s.startedAt, finished_at: s.finishedAt, settled_seq: s.settledSeq,
    };
  });
  const { events, jobs } = eventAndJobRows(tr);
  const { rows } = await q.query<{ run_updated: number }>(
    `with
      st as (
        update step_executions s set status = v.status, attempts = v.attempts, output = v.output, error = v.error,
               queued_at = v.queued_at, started_at = v.started_at, finished_at = v.finished_at, settled_seq = v.settled_seq
          from jsonb_to_recordset($2::jsonb) as v(step_id text, status text, attempts int, output jsonb, error jsonb,
               queued_at timestamptz, started_at timestamptz, finished_at timestamptz, settled_seq int)
         where s.run_id = $1 and s.step_id = v.step_id
        returning 1),
      ${insertEventsCte('$1', '$3', '$4')},
      ${addJobsCte('$5')},
      rm as (
        select graphile_worker.remove_job(k) from unnest($6::text[]) as k),
      rn as (
        update runs set version = $7, status = $8, output = $9, error = $10, finished_at = $11, deadline_at = $12
         where id = $1 and version = $13
        returning 1)
    select (select count(*) from rn) as run_updated, (select count(*) from st) as steps, (select count(*) from ev) as events,
           (select count(*) from jb) as jobs, (select count(*) from rm) as removed,
           case when $14::int > 0 then pg_notify('${RUN_EVENTS_CHANNEL}', $1 || ':' || $7) end as notified,
           case when cardinality($15::text[]) > 0 then pg_notify('${RUN_INTERRUPT_CHANNEL}', $1 || ':' || array_to_string($15::text[], ',')) end as interrupted`,
    [
      run.id, JSON.stringify(steps), run.tenantId, JSON.stringify(events), JSON.stringify(jobs), tr.removedJobKeys,
      run.version, run.status, jsonOrNull(run.output), jsonOrNull(run.error), run.finishedAt, run.deadlineAt, tr.startVersion,
      events.length, tr.interruptedSteps,
    ],
  );
  if (rows[0]?.run_updated !== 1) {
    throw new Error(`run ${run.id} changed concurrently (expected version ${tr.startVersion})`);
  }
}

function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** Inserts a new run in the state its first transition left it (steps, events, first jobs). */
export async function persistNewRun(
  q: Queryable,
  tr: RunTransition,
  meta: { idempotencyKey: string | null; createdBy: string | null },
): Promise<void> {
  const run = tr.run;
  const steps = [...run.steps.values()].map((s) => ({
    step_id: s.stepId, status: s.status, attempts: s.attempts, output: s.output, error: s.error,
    queued_at: s.queuedAt, finished_at: s.finishedAt, settled_seq: s.settledSeq,
  }));
  const { events, jobs } = eventAndJobRows(tr);
  await q.query(
    `with
      rn as (
        insert into runs (id, tenant_id, workflow_id, workflow_version_id, status, input, output, error, idempotency_key, version,
                          created_at, created_by, finished_at, deadline_at)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        returning id),
      st as (
        insert into step_executions (run_id, step_id, tenant_id, status, attempts, output, error, queued_at, finished_at, settled_seq)
        select (select id from rn), v.step_id, $2, v.status, v.attempts, v.output, v.error, v.queued_at, v.finished_at, v.settled_seq
          from jsonb_to_recordset($15::jsonb) as v(step_id text, status text, attempts int, output jsonb, error jsonb,
               queued_at timestamptz, finished_at timestamptz, settled_seq int)
        returning 1),
      ${insertEventsCte('(select id from rn)', '$2', '$16')},
      ${addJobsCte('$17')}
    select (select count(*) from st) as steps, (select count(*) from ev) as events, (select count(*) from jb) as jobs`,
    [
      run.id, run.tenantId, run.workflowId, run.workflowVersionId, run.status, JSON.stringify(run.input ?? null), jsonOrNull(run.output),
      jsonOrNull(run.error), meta.idempotencyKey, run.version, run.createdAt, meta.createdBy, run.finishedAt, run.deadlineAt,
      JSON.stringify(steps), JSON.stringify(events), JSON.stringify(jobs),
    ],
  );
}
