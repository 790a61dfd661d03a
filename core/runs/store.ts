import type { Queryable } from '../db/database.js';
import type { RunState, StepState } from './model.js';
import { STEP_TASK, type RunTransition } from './transition.js';

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
    step_id: string;
    status: StepState['status'];
    attempts: number;
    output: unknown;
    error: StepState['error'];
    queued_at: string | null;
    started_at: string | null;
    finished_at: string | null;
    settled_seq: number | null;
    compensation: StepState['compensation'];
  }[];
}

/** Orders step jobs across tenants (the engine's fair share); the domain only asks it. */
export interface JobScheduler {
  /** Task (lane), priority (lower runs first) and flags of the next step job of `tenantId`; counts it. */
  stepJob(tenantId: string): { identifier: string; priority: number; flags: string[] };
  /**
   * Most ready jobs of one tenant in the shared queue; its further immediate step jobs wait
   * in its backlog (0013_step_backlog.sql). 0: no backlog.
   */
  readonly maxReadySteps: number;
}

/** A transition's events and jobs as the JSON rows the write statements unpack. */
function eventAndJobRows(tr: RunTransition, scheduler: JobScheduler | null): { events: unknown[]; jobs: unknown[] } {
  const { id, tenantId } = tr.run;
  return {
    events: tr.events.map((e) => ({ run_id: id, tenant_id: tenantId, seq: e.seq, type: e.type, step_id: e.stepId, data: e.data })),
    jobs: tr.jobs.map((j) => ({
      identifier: j.identifier,
      payload: j.payload,
      run_at: j.runAt,
      max_attempts: j.maxAttempts,
      job_key: j.jobKey,
      priority: 0,
      flags: null,
      ...(scheduler && j.identifier === STEP_TASK ? scheduler.stepJob(tenantId) : {}),
    })),
  };
}

/** A step's state as the JSON row the write statements unpack. */
function stepRow(run: RunState, s: StepState): unknown {
  return {
    run_id: run.id,
    tenant_id: run.tenantId,
    step_id: s.stepId,
    status: s.status,
    attempts: s.attempts,
    output: s.output,
    error: s.error,
    queued_at: s.queuedAt,
    started_at: s.startedAt,
    finished_at: s.finishedAt,
    settled_seq: s.settledSeq,
    compensation: s.compensation,
  };
}

/** CTE `ev`: appends the events given as a JSON array parameter (rows from eventAndJobRows). */
function insertEventsCte(eventsParam: string): string {
  return `ev as (
        insert into run_events (run_id, seq, tenant_id, type, step_id, data)
        select v.run_id, v.seq, v.tenant_id, v.type, v.step_id, coalesce(v.data, '{}')
          from jsonb_to_recordset(${eventsParam}::jsonb) as v(run_id uuid, seq int, tenant_id uuid, type text, step_id text, data jsonb)
        returning 1)`;
}

/**
 * CTE `jb`: adds the jobs given as a JSON array parameter in the same transaction, through
 * the tenant's backlog when it has its most ready jobs in the queue (enqueue_step_jobs).
 * It runs even without jobs when the transaction finishes some, whose places in the queue
 * go to the tenant's backlog.
 */
function addJobsCte(jobsParam: string, maxReadyParam: string, completingParam: string): string {
  return `jb as (
        select enqueue_step_jobs(${jobsParam}::json, ${maxReadyParam}::int, ${completingParam}::int) as added
         where json_array_length(${jobsParam}::json) > 0 or (${maxReadyParam}::int > 0 and ${completingParam}::int > 0))`;
}

/**
 * Loads a run and all its steps, locking the run row until the transaction ends: every
 * change to a run is serialised through this lock, and its version is the CAS check.
 */
export async function loadRunForUpdate(q: Queryable, runId: string): Promise<RunState | null> {
  return (await loadRunsForUpdate(q, [runId])).get(runId) ?? null;
}

/**
 * Locks several runs (in id order, so two batches locking overlapping runs cannot
 * deadlock) and loads them with their steps.
 */
export async function loadRunsForUpdate(q: Queryable, runIds: readonly string[]): Promise<Map<string, RunState>> {
  const ids = [...new Set(runIds)].sort();
  // Lock first, read after, in separate statements. A statement that waits for a row lock
  // under READ COMMITTED re-reads only the locked row; anything else it reads (a subquery
  // over the steps) comes from the snapshot taken before the wait, i.e. before the
  // concurrent commit it waited for. Reading the steps in a later statement sees that commit.
  const locked = await q.query({
    name: 'sy_lock_runs',
    text: 'select id from runs where id = any($1::uuid[]) order by id for update',
    values: [ids],
  });
  const runs = new Map<string, RunState>();
  if (locked.rowCount === 0) return runs;
  const { rows } = await q.query<RunRow>({
    name: 'sy_load_runs',
    text: `select r.id, r.tenant_id, r.workflow_id, r.workflow_version_id, r.status, r.input, r.output, r.error, r.version,
                  r.created_at, r.finished_at, r.deadline_at,
                  coalesce((select json_agg(s) from (select step_id, status, attempts, output, error, queued_at, started_at, finished_at, settled_seq,
                                    compensation from step_executions where run_id = r.id) s), '[]') as steps
             from runs r where r.id = any($1::uuid[])`,
    values: [ids],
  });
  for (const row of rows) runs.set(row.id, toRunState(row));
  return runs;
}

function toRunState(row: RunRow): RunState {
  const steps = new Map<string, StepState>();
  for (const s of row.steps) {
    steps.set(s.step_id, {
      stepId: s.step_id,
      status: s.status,
      attempts: s.attempts,
      output: s.output,
      error: s.error,
      queuedAt: s.queued_at,
      startedAt: s.started_at,
      finishedAt: s.finished_at,
      settledSeq: s.settled_seq,
      compensation: s.compensation ?? null,
    });
  }
  return {
    id: row.id,
    tenantId: row.tenant_id,
    workflowId: row.workflow_id,
    workflowVersionId: row.workflow_version_id,
    status: row.status,
    input: row.input,
    output: row.output,
    error: row.error,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
    deadlineAt: row.deadline_at.toISOString(),
    steps,
  };
}

/** Writes one transition; see persistTransitions. */
export async function persistTransition(q: Queryable, tr: RunTransition, scheduler: JobScheduler | null = null): Promise<void> {
  await persistTransitions(q, [tr], scheduler);
}

/**
 * Writes the transitions of several runs in one statement: changed steps, new events,
 * new jobs and the run rows, each guarded by the version it was loaded with. Events are
 * keyed by (run, seq), so even a broken lock could not record a state change twice.
 * `endedJobs`: queue jobs that finish once this commits (the engine's jobs whose last
 * change this is), whose places in the queue the tenant's next jobs may take.
 */
export async function persistTransitions(
  q: Queryable,
  transitions: readonly RunTransition[],
  scheduler: JobScheduler | null = null,
  endedJobs = 0,
): Promise<void> {
  const changed = transitions.filter((tr) => tr.events.length > 0 || tr.dirtySteps.size > 0 || tr.jobs.length > 0 || tr.runChanged);
  if (changed.length === 0 && endedJobs === 0) return;
  const steps: unknown[] = [];
  const events: unknown[] = [];
  const jobs: unknown[] = [];
  const runs: unknown[] = [];
  const removedJobKeys: string[] = [];
  const interrupts: string[] = [];
  const maxReady = scheduler?.maxReadySteps ?? 0;
  for (const tr of changed) {
    const run = tr.run;
    for (const id of tr.dirtySteps) steps.push(stepRow(run, tr.step(id)));
    const rows = eventAndJobRows(tr, scheduler);
    events.push(...rows.events);
    jobs.push(...rows.jobs);
    removedJobKeys.push(...tr.removedJobKeys);
    if (tr.interruptedSteps.length > 0) interrupts.push(`${run.id}:${tr.interruptedSteps.join(',')}`);
    runs.push({
      id: run.id,
      expected: tr.startVersion,
      version: run.version,
      status: run.status,
      output: run.output ?? null,
      error: run.error ?? null,
      finished_at: run.finishedAt,
      deadline_at: run.deadlineAt,
      notify: tr.events.length > 0,
    });
  }
  const { rows } = await q.query<{ runs_updated: number }>({
    name: 'sy_persist_transitions',
    text: `with
      st as (
        update step_executions s set status = v.status, attempts = v.attempts, output = v.output, error = v.error,
               queued_at = v.queued_at, started_at = v.started_at, finished_at = v.finished_at, settled_seq = v.settled_seq,
               compensation = v.compensation
          from jsonb_to_recordset($1::jsonb) as v(run_id uuid, step_id text, status text, attempts int, output jsonb, error jsonb,
               queued_at timestamptz, started_at timestamptz, finished_at timestamptz, settled_seq int, compensation jsonb)
         where s.run_id = v.run_id and s.step_id = v.step_id
        returning 1),
      ${insertEventsCte('$2')},
      ${addJobsCte('$3', '$7', '$8')},
      rm as (
        select graphile_worker.remove_job(k) from unnest($4::text[]) as k),
      rb as (
        delete from step_backlog b where b.job_key = any($4::text[]) returning 1),
      rn as (
        update runs r set version = v.version, status = v.status, output = v.output, error = v.error, finished_at = v.finished_at,
               deadline_at = v.deadline_at
          from jsonb_to_recordset($5::jsonb) as v(id uuid, expected int, version int, status text, output jsonb, error jsonb,
               finished_at timestamptz, deadline_at timestamptz, notify boolean)
         where r.id = v.id and r.version = v.expected
        returning r.id, r.version, v.notify),
      nt as (
        select pg_notify('${RUN_EVENTS_CHANNEL}', rn.id || ':' || rn.version) from rn where rn.notify),
      it as (
        select pg_notify('${RUN_INTERRUPT_CHANNEL}', i) from unnest($6::text[]) as i)
    select (select count(*) from rn) as runs_updated, (select count(*) from st) as steps, (select count(*) from ev) as events,
           (select count(*) from jb) as jobs, (select count(*) from rm) + (select count(*) from rb) as removed, (select count(*) from nt) as notified,
           (select count(*) from it) as interrupted`,
    values: [
      JSON.stringify(steps),
      JSON.stringify(events),
      JSON.stringify(jobs),
      removedJobKeys,
      JSON.stringify(runs),
      interrupts,
      maxReady,
      endedJobs,
    ],
  });
  if (rows[0]?.runs_updated !== changed.length) {
    const expected = changed.map((tr) => `${tr.run.id}@${tr.startVersion}`).join(', ');
    throw new Error(`runs changed concurrently (expected versions ${expected})`);
  }
  // Jobs removed from the queue (a run cancelled, failed or timed out) free their places;
  // the statement above could not count them gone, a statement after it can.
  if (maxReady > 0 && removedJobKeys.length > 0) {
    await q.query({ name: 'sy_promote_after_removal', text: `select enqueue_step_jobs('[]'::json, $1, 0)`, values: [maxReady] });
  }
}

/** A run to insert, in the state its first transition left it. */
export interface NewRun {
  tr: RunTransition;
  idempotencyKey: string | null;
  createdBy: string | null;
  /** What started it when no token did (a webhook delivery, a schedule slot). */
  origin?: unknown;
}

/** Inserts new runs with their steps, first events and first jobs, in one statement. */
export async function persistNewRuns(q: Queryable, newRuns: readonly NewRun[], scheduler: JobScheduler | null = null): Promise<void> {
  if (newRuns.length === 0) return;
  const runs: unknown[] = [];
  const steps: unknown[] = [];
  const events: unknown[] = [];
  const jobs: unknown[] = [];
  for (const { tr, idempotencyKey, createdBy, origin } of newRuns) {
    const run = tr.run;
    runs.push({
      id: run.id,
      tenant_id: run.tenantId,
      workflow_id: run.workflowId,
      workflow_version_id: run.workflowVersionId,
      status: run.status,
      input: run.input ?? null,
      output: run.output ?? null,
      error: run.error ?? null,
      idempotency_key: idempotencyKey,
      version: run.version,
      created_at: run.createdAt,
      created_by: createdBy,
      finished_at: run.finishedAt,
      deadline_at: run.deadlineAt,
      origin: origin ?? null,
    });
    for (const s of run.steps.values()) steps.push(stepRow(run, s));
    const rows = eventAndJobRows(tr, scheduler);
    events.push(...rows.events);
    jobs.push(...rows.jobs);
  }
  await q.query({
    name: 'sy_persist_new_runs',
    text: `with
      rn as (
        insert into runs (id, tenant_id, workflow_id, workflow_version_id, status, input, output, error, idempotency_key, version,
                          created_at, created_by, finished_at, deadline_at, origin)
        select v.id, v.tenant_id, v.workflow_id, v.workflow_version_id, v.status, coalesce(v.input, 'null'), v.output, v.error, v.idempotency_key,
               v.version, v.created_at, v.created_by, v.finished_at, v.deadline_at, v.origin
          from jsonb_to_recordset($1::jsonb) as v(id uuid, tenant_id uuid, workflow_id uuid, workflow_version_id uuid, status text, input jsonb,
               output jsonb, error jsonb, idempotency_key text, version int, created_at timestamptz, created_by uuid, finished_at timestamptz,
               deadline_at timestamptz, origin jsonb)
        returning 1),
      st as (
        insert into step_executions (run_id, step_id, tenant_id, status, attempts, output, error, queued_at, finished_at, settled_seq)
        select v.run_id, v.step_id, v.tenant_id, v.status, v.attempts, v.output, v.error, v.queued_at, v.finished_at, v.settled_seq
          from jsonb_to_recordset($2::jsonb) as v(run_id uuid, tenant_id uuid, step_id text, status text, attempts int, output jsonb, error jsonb,
               queued_at timestamptz, finished_at timestamptz, settled_seq int)
        returning 1),
      ${insertEventsCte('$3')},
      ${addJobsCte('$4', '$5', '0')}
    select (select count(*) from rn) as runs, (select count(*) from st) as steps, (select count(*) from ev) as events, (select count(*) from jb) as jobs`,
    values: [JSON.stringify(runs), JSON.stringify(steps), JSON.stringify(events), JSON.stringify(jobs), scheduler?.maxReadySteps ?? 0],
  });
}
