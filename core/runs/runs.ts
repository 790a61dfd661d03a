import type { Database, Queryable } from '../db/database.js';
import { DEFAULT_GROUP_COMMIT, GroupCommit, type Settled } from '../db/groupCommit.js';
import type { Logger } from '../logger.js';
import { isUniqueViolation } from '../db/database.js';
import { AppError, badInput, notFound } from '../errors.js';
import { isId, newId } from '../ids.js';
import { recordAudit, type AuditEntry } from '../audit/audit.js';
import { tenantOf, type RequestContext } from '../auth/roles.js';
import { admitReactivatedRun, quotaErrorFromDatabase, quotaExceeded, readTenantQuotas } from '../quotas/quotas.js';
import { parsePage, toConnection, type Connection } from '../pagination.js';
import type { WorkflowService, WorkflowVersion } from '../workflows/workflows.js';
import { newStepState, RUN_STATUSES, TERMINAL_RUN, type RunEvent, type RunState, type RunStatus, type StepState } from './model.js';
import { RunTransition, timerJobKey } from './transition.js';
import { stepFailure } from './stepFailures.js';
import { finishedRun, NO_TELEMETRY, reportRunFinished, type Telemetry } from '../telemetry.js';
import type { FinishedRun } from '../tracing.js';
import { loadRunForUpdate, persistNewRuns, persistTransition, type JobScheduler, type NewRun } from './store.js';

export interface Run {
  id: string;
  tenantId: string;
  workflowId: string;
  workflowVersionId: string;
  status: RunStatus;
  input: unknown;
  output: unknown;
  error: unknown;
  idempotencyKey: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  deadlineAt: Date;
  /** The token that started it through the API; null for triggered runs. */
  createdBy: string | null;
  /** Null: started through the API (by createdBy). */
  origin: TriggerOrigin | null;
}

/** What started a run that no token started: a webhook delivery or a schedule's slot. */
export type TriggerOrigin =
  { kind: 'WEBHOOK'; triggerId: string; deliveryId: string | null } | { kind: 'SCHEDULE'; scheduleId: string; slot: string };

/**
 * A start on behalf of a trigger. The trigger is the authority (its signature check or
 * its schedule), so no token's permission is checked; every limit of startRun applies.
 */
export interface TriggeredStart {
  tenantId: string;
  workflowId: string;
  /** Null: the latest version. */
  version: number | null;
  input: unknown;
  /** Required: a trigger's repeated delivery or slot must return the run it started. */
  idempotencyKey: string;
  origin: TriggerOrigin;
  /** Who sent it, for the audit record. */
  client?: { requestId: string; sourceAddress?: string; userAgent?: string };
}

export interface RunFilter {
  status?: string | null;
  workflowId?: string | null;
  createdAfter?: Date | string | null;
  createdBefore?: Date | string | null;
}

/** Load shedding at the door (the engine's admission control): throws OVERLOADED instead of queueing without bound. */
export interface AdmissionGate {
  admit(): void;
}

export interface RunLimits {
  maxInputBytes: number;
  defaultRunTimeoutMs: number;
  /** Orders the step jobs runs enqueue across tenants (fair share); none: plain first-in first-out. */
  scheduler?: JobScheduler;
  admission?: AdmissionGate;
  telemetry?: Telemetry;
}

const RUN = `id, tenant_id as "tenantId", workflow_id as "workflowId", workflow_version_id as "workflowVersionId", status, input,
  output, error, idempotency_key as "idempotencyKey", created_at as "createdAt", finished_at as "finishedAt", deadline_at as "deadlineAt",
  created_by as "createdBy", origin`;

interface StartRequest {
  /** The caller, for API starts; null for triggered starts, audited as the appliance with the sender's address. */
  ctx: RequestContext | null;
  origin: TriggerOrigin | null;
  client?: TriggeredStart['client'];
  tenantId: string;
  workflowId: string;
  version: number | null;
  input: unknown;
  inputBytes: number;
  idempotencyKey: string | null;
}

/** Run operations of the API: start, cancel, retry, approve, and reading runs. */
export class RunService {
  private readonly starts: GroupCommit<StartRequest, Run>;
  // The runs a committed batch created (not idempotent repeats), for telemetry.
  private readonly created = new WeakSet<Run>();
  private readonly telemetry: Telemetry;

  constructor(
    private readonly db: Database,
    private readonly workflows: WorkflowService,
    private readonly limits: RunLimits,
    logger: Logger,
  ) {
    // Starts arriving together share a transaction: under load a start costs a share of
    // one commit and of one add_jobs call instead of its own.
    this.starts = new GroupCommit(db, logger, 'run starts', (q, requests) => this.startBatch(q, requests), DEFAULT_GROUP_COMMIT);
    this.telemetry = limits.telemetry ?? NO_TELEMETRY;
  }

  async startRun(
    ctx: RequestContext,
    input: { workflowId: string; version?: number | null; input?: unknown; idempotencyKey?: string | null },
  ): Promise<Run> {
    const tenantId = tenantOf(ctx.actor, 'run:operate');
    return this.submitStart(
      {
        ctx,
        origin: null,
        tenantId,
        workflowId: input.workflowId,
        version: input.version ?? null,
        input: input.input,
        idempotencyKey: input.idempotencyKey ?? null,
      },
      'input.',
    );
  }

  /**
   * Starts a run for a webhook delivery or a schedule slot; see TriggeredStart. `created`
   * is false when the idempotency key named a run that existed (a repeated delivery).
   */
  async startTriggeredRun(start: TriggeredStart): Promise<{ run: Run; created: boolean }> {
    const run = await this.submitStart(
      {
        ctx: null,
        origin: start.origin,
        client: start.client,
        tenantId: start.tenantId,
        workflowId: start.workflowId,
        version: start.version,
        input: start.input,
        idempotencyKey: start.idempotencyKey,
      },
      '',
    );
    return { run, created: this.created.has(run) };
  }

  private async submitStart(request: Omit<StartRequest, 'inputBytes'>, pathPrefix: string): Promise<Run> {
    const { tenantId } = request;
    this.limits.admission?.admit();
    const runInput = request.input === undefined || request.input === null ? {} : request.input;
    const inputBytes = Buffer.byteLength(JSON.stringify(runInput));
    if (inputBytes > this.limits.maxInputBytes) {
      throw badInput(`${pathPrefix}input`, `run input is ${inputBytes} bytes; the limit is ${this.limits.maxInputBytes}`);
    }
    const key = request.idempotencyKey;
    if (key !== null && (key.length < 1 || key.length > 200)) throw badInput(`${pathPrefix}idempotencyKey`, 'must be 1 to 200 characters');
    if (request.version != null && (!Number.isInteger(request.version) || request.version < 1))
      throw badInput(`${pathPrefix}version`, 'must be a positive whole number');
    try {
      const run = await this.starts.submit(tenantId, { ...request, input: runInput, inputBytes });
      if (this.created.has(run)) this.telemetry.runStarted(tenantId, run.workflowId);
      return run;
    } catch (error) {
      const quota = quotaErrorFromDatabase(error);
      if (quota) throw quota;
      if (key !== null && isUniqueViolation(error)) {
        // A concurrent start with the same key won the race: answer with its run.
        const winner = await this.db.tx({ tenantId }, (q) => runByIdempotencyKey(q, tenantId, request.workflowId, key));
        if (winner) return winner;
      }
      throw error;
    }
  }

  /** Creates the runs of a batch of starts of one tenant; a request's own mistake (unknown workflow) fails only that request. */
  private async startBatch(q: Queryable, requests: readonly StartRequest[]): Promise<Settled<Run>[]> {
    const outcomes: Settled<Run>[] = [];
    const created: (NewRun & { request: StartRequest; version: WorkflowVersion })[] = [];
    const byKey = new Map<string, Run>();
    const now = new Date();
    // A batch is one tenant's; the concurrency and per-day quotas are enforced by the runs insert itself (migration 0009).
    const quotas = await readTenantQuotas(q, requests[0]!.tenantId);
    for (const request of requests) {
      if (quotas.maxInputBytes !== undefined && request.inputBytes > quotas.maxInputBytes) {
        outcomes.push({
          ok: false,
          error: quotaExceeded('maxInputBytes', quotas.maxInputBytes, request.inputBytes, 'bytes of this run input'),
        });
        continue;
      }
      let version: WorkflowVersion;
      try {
        version = await this.workflows.findVersion(q, request.tenantId, request.workflowId, request.version);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        outcomes.push({ ok: false, error });
        continue;
      }
      const key = request.idempotencyKey;
      if (key !== null) {
        const inBatch = byKey.get(`${version.workflowId}:${key}`);
        // A copy: the run this batch creates is answered once as created, its repeats as repeats.
        const repeated = inBatch ? { ...inBatch } : await runByIdempotencyKey(q, request.tenantId, version.workflowId, key);
        if (repeated) {
          outcomes.push({ ok: true, value: repeated });
          continue;
        }
      }
      // The tenant's longest run bounds every run's deadline, whatever its definition asked when published.
      const timeoutMs = Math.min(
        version.definition.timeoutMs ?? this.limits.defaultRunTimeoutMs,
        (quotas.maxRunDurationSeconds ?? Infinity) * 1000,
      );
      const run: RunState = {
        id: newId(),
        tenantId: request.tenantId,
        workflowId: version.workflowId,
        workflowVersionId: version.id,
        status: 'QUEUED',
        input: request.input,
        output: null,
        error: null,
        version: 0,
        createdAt: now.toISOString(),
        finishedAt: null,
        deadlineAt: new Date(now.getTime() + timeoutMs).toISOString(),
        steps: new Map(version.definition.steps.map((s) => [s.id, newStepState(s.id)])),
      };
      const tr = new RunTransition(run, version.definition, now);
      const by = request.ctx?.actor.tokenId ?? null;
      tr.emit('RUN_CREATED', null, {
        workflowVersionId: version.id,
        version: version.version,
        input: request.input,
        by,
        ...(request.origin ? { origin: request.origin } : {}),
      });
      tr.advance();
      created.push({ tr, idempotencyKey: key, createdBy: by, origin: request.origin, request, version });
      const value = toRun(run, key, by, request.origin);
      this.created.add(value);
      if (key !== null) byKey.set(`${version.workflowId}:${key}`, value);
      outcomes.push({ ok: true, value });
    }
    await persistNewRuns(q, created, this.limits.scheduler ?? null);
    // One statement for the batch when its starts share a request context (one caller), else one per caller.
    const byCaller = new Map<RequestContext | StartRequest, AuditEntry[]>();
    for (const { tr, request, version } of created) {
      const caller = request.ctx ?? request;
      const entries = byCaller.get(caller) ?? [];
      entries.push({
        action: 'run.started',
        targetType: 'run',
        targetId: tr.run.id,
        details: { workflowId: version.workflowId, version: version.version, ...(request.origin ? { origin: request.origin } : {}) },
        ...(request.ctx ? {} : { tenantId: request.tenantId, ...(request.client ? { client: request.client } : {}) }),
      });
      byCaller.set(caller, entries);
    }
    for (const [caller, entries] of byCaller) await recordAudit(q, 'actor' in caller ? caller : null, entries);
    return outcomes;
  }

  async cancelRun(ctx: RequestContext, id: string): Promise<Run> {
    return this.change(ctx, id, 'run.cancelled', (tr) => {
      if (TERMINAL_RUN.has(tr.run.status)) throw new AppError('CONFLICT', `run ${id} is already ${tr.run.status}`);
      tr.cancel(ctx.actor.tokenId);
    });
  }

  async retryRun(ctx: RequestContext, id: string): Promise<Run> {
    let maxRunDurationSeconds: number | undefined;
    return this.change(
      ctx,
      id,
      'run.retried',
      (tr) => {
        if (!TERMINAL_RUN.has(tr.run.status) || tr.run.status === 'SUCCEEDED') {
          throw new AppError('CONFLICT', `run ${id} is ${tr.run.status}; only failed, cancelled or timed-out runs can be retried`);
        }
        // Its succeeded steps were undone: keeping their outputs, as a retry does, would build on effects that no longer exist.
        if (tr.compensated)
          throw new AppError('CONFLICT', `run ${id} was compensated (its succeeded steps were undone); start a new run instead`);
        const timeoutMs = Math.min(tr.definition.timeoutMs ?? this.limits.defaultRunTimeoutMs, (maxRunDurationSeconds ?? Infinity) * 1000);
        tr.retry(ctx.actor.tokenId, new Date(Date.now() + timeoutMs).toISOString());
      },
      {},
      {
        before: async (q, tenantId) => {
          maxRunDurationSeconds = (await readTenantQuotas(q, tenantId)).maxRunDurationSeconds;
        },
        // Active again: it counts toward the concurrency quota like a new run.
        after: (q) => admitReactivatedRun(q),
      },
    );
  }

  async approveStep(
    ctx: RequestContext,
    input: { runId: string; stepId: string; approved: boolean; comment?: string | null },
  ): Promise<Run> {
    if (typeof input.approved !== 'boolean') throw badInput('input.approved', 'must be true or false');
    const comment = input.comment ?? null;
    if (comment !== null && comment.length > 2000) throw badInput('input.comment', 'must be at most 2000 characters');
    return this.change(
      ctx,
      input.runId,
      input.approved ? 'run.step_approved' : 'run.step_rejected',
      (tr) => {
        const state = tr.run.steps.get(input.stepId);
        if (!state)
          throw new AppError('NOT_FOUND', `run ${input.runId} has no step ${JSON.stringify(input.stepId)}`, { path: 'input.stepId' });
        if (tr.stepDef(input.stepId).uses !== 'core/approval@1')
          throw badInput('input.stepId', `step "${input.stepId}" is not an approval step`);
        if (state.status !== 'WAITING' || TERMINAL_RUN.has(tr.run.status)) {
          throw new AppError('CONFLICT', `step "${input.stepId}" is not waiting for approval (step ${state.status}, run ${tr.run.status})`);
        }
        tr.removedJobKeys.push(timerJobKey(tr.run.id, input.stepId));
        if (input.approved) tr.succeedStep(input.stepId, { approved: true, comment, by: ctx.actor.tokenId });
        else tr.failStep(input.stepId, stepFailure('APPROVAL_REJECTED', comment ? `rejected: ${comment}` : 'rejected'));
      },
      { stepId: input.stepId },
    );
  }

  /** Loads the run under lock, applies `mutate`, persists and audits, all in one transaction. */
  private async change(
    ctx: RequestContext,
    id: string,
    action: string,
    mutate: (tr: RunTransition) => void,
    details: Record<string, unknown> = {},
    hooks: { before?: (q: Queryable, tenantId: string) => Promise<void>; after?: (q: Queryable) => Promise<void> } = {},
  ): Promise<Run> {
    const tenantId = tenantOf(ctx.actor, 'run:operate');
    if (!isId(id)) throw notFound('run', id);
    let finished: FinishedRun | null = null;
    const changed = await this.db.tx({ tenantId }, async (q) => {
      const run = await loadRunForUpdate(q, id);
      if (!run || run.tenantId !== tenantId) throw notFound('run', id);
      await hooks.before?.(q, tenantId);
      const version = await this.workflows.versionById(q, run.workflowVersionId);
      const tr = new RunTransition(run, version.definition);
      const before = tr.run.status;
      mutate(tr);
      finished = finishedRun(tr, before);
      await persistTransition(q, tr, this.limits.scheduler ?? null);
      await hooks.after?.(q);
      await recordAudit(q, ctx, { action, targetType: 'run', targetId: id, details });
      const { rows } = await q.query<Run>(`select ${RUN} from runs where id = $1`, [id]);
      return rows[0]!;
    });
    const done = finished as FinishedRun | null;
    if (done) reportRunFinished(this.telemetry, done);
    return changed;
  }

  async getRun(ctx: RequestContext, id: string): Promise<Run> {
    const tenantId = tenantOf(ctx.actor, 'run:read');
    const row = isId(id)
      ? (await this.db.query<Run>({ tenantId }, `select ${RUN} from runs where id = $1 and tenant_id = $2`, [id, tenantId])).rows[0]
      : undefined;
    if (!row) throw notFound('run', id);
    return row;
  }

  async listRuns(
    ctx: RequestContext,
    filter: RunFilter | null | undefined,
    first?: number | null,
    after?: string | null,
  ): Promise<Connection<Run>> {
    const tenantId = tenantOf(ctx.actor, 'run:read');
    const page = parsePage(first, after);
    const f = filter ?? {};
    if (f.status && !(RUN_STATUSES as readonly string[]).includes(f.status))
      throw badInput('filter.status', `unknown run status ${JSON.stringify(f.status)}`);
    if (f.workflowId && !isId(f.workflowId)) throw badInput('filter.workflowId', 'not a valid ID');
    // Filtering by a workflow that is not the caller's is NOT_FOUND, like naming it anywhere else.
    if (f.workflowId) await this.workflows.get(ctx, f.workflowId);
    const createdAfter = parseDate(f.createdAfter, 'filter.createdAfter');
    const createdBefore = parseDate(f.createdBefore, 'filter.createdBefore');
    const { rows } = await this.db.query<Run>(
      { tenantId },
      `select ${RUN} from runs
        where tenant_id = $1 and ($2::text is null or status = $2) and ($3::uuid is null or workflow_id = $3)
          and ($4::timestamptz is null or created_at > $4) and ($5::timestamptz is null or created_at < $5)
          and ($6::uuid is null or id < $6)
        order by id desc limit $7`,
      [tenantId, f.status ?? null, f.workflowId ?? null, createdAfter, createdBefore, page.afterId, page.limit + 1],
    );
    return toConnection(rows, page);
  }

  async steps(ctx: RequestContext, runId: string): Promise<(StepState & { runId: string })[]> {
    const tenantId = tenantOf(ctx.actor, 'run:read');
    const { rows } = await this.db.query<StepState & { runId: string }>(
      { tenantId },
      `select s.run_id as "runId", s.step_id as "stepId", s.status, s.attempts, s.output, s.error, s.queued_at as "queuedAt", s.started_at as "startedAt",
              s.finished_at as "finishedAt", s.settled_seq as "settledSeq", s.compensation
         from step_executions s join runs r on r.id = s.run_id
         join workflow_versions v on v.id = r.workflow_version_id
         cross join lateral (select ord from jsonb_array_elements(v.definition->'steps') with ordinality as e(step, ord) where e.step->>'id' = s.step_id) p
        where s.run_id = $1 and s.tenant_id = $2
        order by p.ord`,
      [runId, tenantId],
    );
    return rows;
  }

  /** The sequence number of the run's latest event (its version), and the run's status. */
  async lastEventSeq(ctx: RequestContext, runId: string): Promise<{ seq: number; status: RunStatus | null }> {
    const tenantId = tenantOf(ctx.actor, 'run:read');
    const { rows } = await this.db.query<{ version: number; status: RunStatus }>(
      { tenantId },
      'select version, status from runs where id = $1 and tenant_id = $2',
      [runId, tenantId],
    );
    return { seq: rows[0]?.version ?? 0, status: rows[0]?.status ?? null };
  }

  /** Events after sequence number `afterSeq`, oldest first. */
  async events(ctx: RequestContext, runId: string, afterSeq: number, limit: number): Promise<RunEvent[]> {
    const tenantId = tenantOf(ctx.actor, 'run:read');
    const { rows } = await this.db.query<RunEvent>(
      { tenantId },
      `select seq, type, step_id as "stepId", at, data from run_events where run_id = $1 and tenant_id = $2 and seq > $3 order by seq limit $4`,
      [runId, tenantId, afterSeq, limit],
    );
    return rows;
  }
}

async function runByIdempotencyKey(q: Queryable, tenantId: string, workflowId: string, key: string): Promise<Run | undefined> {
  const { rows } = await q.query<Run>({
    name: 'sy_run_by_idempotency_key',
    text: `select ${RUN} from runs where tenant_id = $1 and workflow_id = $2 and idempotency_key = $3`,
    values: [tenantId, workflowId, key],
  });
  return rows[0];
}

function parseDate(value: Date | string | null | undefined, path: string): Date | null {
  if (value === null || value === undefined) return null;
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw badInput(path, 'not a valid date-time');
  return date;
}

function toRun(run: RunState, idempotencyKey: string | null, createdBy: string | null, origin: TriggerOrigin | null): Run {
  return {
    createdBy,
    origin,
    id: run.id,
    tenantId: run.tenantId,
    workflowId: run.workflowId,
    workflowVersionId: run.workflowVersionId,
    status: run.status,
    input: run.input,
    output: run.output,
    error: run.error,
    idempotencyKey,
    createdAt: new Date(run.createdAt),
    finishedAt: run.finishedAt ? new Date(run.finishedAt) : null,
    deadlineAt: new Date(run.deadlineAt),
  };
}
