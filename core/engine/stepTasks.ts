import type { Logger } from '../logger.js';
import type { StepDefinition } from '../workflows/definition.js';
import { renderTemplate } from '../workflows/templates.js';
import { type RunTransition, compensationSlot, defaultMaxAttempts } from '../runs/transition.js';
import { SETTLED_COMPENSATION, TERMINAL_RUN, compensationIdempotencyKey, stepIdempotencyKey } from '../runs/model.js';
import { stepFailure, type DeferralReason, type MintedFailure } from '../runs/stepFailures.js';
import { CORE_ACTIONS, MAX_DELAY_MS } from './coreActions.js';
import { StepDeferred, StepError, type StepExecutor, type StepUsage } from './executor.js';
import type { SandboxCpuGate } from '../quotas/quotas.js';
import type { RunChangeBatcher } from './runChangeBatcher.js';
import type { Telemetry } from '../telemetry.js';
import { SpanStatusCode } from '@opentelemetry/api';
import { runSpanContext, traceStepAttempt } from '../tracing.js';

export interface StepJobPayload {
  t: string;
  r: string;
  s: string;
}

export interface StepTaskDeps {
  /** Every run change a job makes goes through it (group commit). */
  batcher: RunChangeBatcher;
  executor: StepExecutor;
  logger: Logger;
  maxStepOutputBytes: number;
  /** Running executor steps by `runId:stepId`, so an interrupt notification can abort them. */
  inflight: Map<string, AbortController>;
  /** Refuses executor steps of tenants whose sandbox CPU for the day is used up. */
  cpuGate: SandboxCpuGate;
  telemetry: Telemetry;
}

type Outcome =
  | { kind: 'ok'; output: unknown }
  | { kind: 'failed'; failure: MintedFailure }
  | { kind: 'deferred'; until: Date; reason: DeferralReason }
  | { kind: 'released' }
  | { kind: 'interrupted' };

/** What an attempt runs: a step's action or its compensation's. */
type AttemptAction = Pick<StepDefinition, 'uses' | 'timeoutMs' | 'credential'>;

interface Claimed {
  attempt: number;
  input: unknown;
  action: AttemptAction;
  /** The step's id, or its compensation's slot (compensationSlot): the executor's and the interrupts' name for the attempt. */
  slot: string;
  idempotencyKey: string;
  workflowId: string;
  pluginVersionId: string | null;
  runInput: unknown;
  stepOutputs: Record<string, unknown>;
}

const EXECUTOR_DEADLINE_GRACE_MS = 1000;

/** For a job's last change: its result, a timer firing, a deadline passing. */
const ENDS_JOB = (): boolean => true;

export function parsePayload(payload: unknown): StepJobPayload {
  const p = payload as Partial<StepJobPayload> | null;
  if (!p || typeof p.t !== 'string' || typeof p.r !== 'string' || typeof p.s !== 'string') throw new Error('malformed step job payload');
  return p as StepJobPayload;
}

/**
 * Runs one step attempt: claim (mark RUNNING) in one commit, execute outside any
 * transaction, commit the result in another. Core actions finish inside the claim.
 * A duplicate or stale job finds the step already settled and does nothing; a result
 * whose attempt is no longer current is discarded, so a result is recorded once.
 */
export async function runStepJob(deps: StepTaskDeps, payload: StepJobPayload, shutdownSignal: AbortSignal): Promise<void> {
  const { t: tenantId, r: runId, s: stepId } = payload;
  // A job whose claim has nothing for the executor (a core action settled, a stale job) ends with it.
  const claimed = await deps.batcher.apply(
    tenantId,
    runId,
    (tr) => claimStep(tr, stepId),
    (c) => c === null,
  );
  if (!claimed) return;
  const { outcome, usage } = await attempt(deps, payload, claimed, shutdownSignal);
  await deps.batcher.apply(
    tenantId,
    runId,
    (tr) => {
      const state = tr?.run.steps.get(stepId);
      // Cancelled, timed out, or superseded while running: this result is no longer wanted.
      if (!tr || !state || TERMINAL_RUN.has(tr.run.status) || state.status !== 'RUNNING' || state.attempts !== claimed.attempt) return;
      if (outcome.kind === 'ok') tr.succeedStep(stepId, outcome.output);
      else if (outcome.kind === 'failed') tr.failStep(stepId, outcome.failure);
      else if (outcome.kind === 'deferred') tr.deferStep(stepId, outcome.until, outcome.reason);
      else if (outcome.kind === 'released') tr.releaseStep(stepId);
    },
    ENDS_JOB,
    usage,
  );
}

/**
 * Runs one attempt of a step's compensation, the same way as a step attempt: claim, execute
 * in the sandbox outside any transaction, commit the result (which queues the next one).
 */
export async function runCompensationJob(deps: StepTaskDeps, payload: StepJobPayload, shutdownSignal: AbortSignal): Promise<void> {
  const { t: tenantId, r: runId, s: stepId } = payload;
  const claimed = await deps.batcher.apply(
    tenantId,
    runId,
    (tr) => claimCompensation(tr, stepId),
    (c) => c === null,
  );
  if (!claimed) return;
  const { outcome, usage } = await attempt(deps, payload, claimed, shutdownSignal);
  await deps.batcher.apply(
    tenantId,
    runId,
    (tr) => {
      const c = tr?.run.steps.get(stepId)?.compensation;
      if (!tr || !c || TERMINAL_RUN.has(tr.run.status) || c.status !== 'RUNNING' || c.attempts !== claimed.attempt) return;
      if (outcome.kind === 'ok') tr.succeedCompensation(stepId, outcome.output);
      else if (outcome.kind === 'failed') tr.failCompensation(stepId, outcome.failure);
      else if (outcome.kind === 'deferred') tr.releaseCompensation(stepId, outcome.until, outcome.reason);
      else if (outcome.kind === 'released') tr.releaseCompensation(stepId);
    },
    ENDS_JOB,
    usage,
  );
}

/** Executes a claimed attempt inside its span and reports it. */
async function attempt(
  deps: StepTaskDeps,
  payload: StepJobPayload,
  claimed: Claimed,
  shutdownSignal: AbortSignal,
): Promise<{ outcome: Outcome; usage: StepUsage }> {
  const { t: tenantId, r: runId } = payload;
  const usage: StepUsage = { sandboxCpuMs: 0 };
  const started = performance.now();
  const outcome = await traceStepAttempt(
    { runId, tenantId, workflowId: claimed.workflowId, stepId: claimed.slot, uses: claimed.action.uses, attempt: claimed.attempt },
    async (span) => {
      const result = await execute(deps, payload, claimed, shutdownSignal, usage);
      span.setAttribute('switchyard.outcome', outcomeLabel(result));
      if (result.kind === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: result.failure.code });
      return result;
    },
  );
  deps.telemetry.stepAttempt(tenantId, claimed.action.uses, outcomeLabel(outcome), (performance.now() - started) / 1000);
  return { outcome, usage };
}

/** An attempt's outcome for metrics and spans: `ok`, the failure's code, or the kind. */
const outcomeLabel = (outcome: Outcome): string => (outcome.kind === 'failed' ? outcome.failure.code : outcome.kind);

/** Starts an attempt of a step; core actions settle or park here. Returns what the executor needs, if anything. */
function claimStep(tr: RunTransition | null, stepId: string): Claimed | null {
  const state = tr?.run.steps.get(stepId);
  if (!tr || !state || TERMINAL_RUN.has(tr.run.status)) return null;
  if (state.status !== 'PENDING' && state.status !== 'RUNNING') return null;
  const def = tr.stepDef(stepId);
  if (state.status === 'RUNNING' && state.attempts >= (def.retry?.maxAttempts ?? defaultMaxAttempts(def))) {
    // The process running the last allowed attempt died before it could commit.
    tr.failStep(stepId, stepFailure('WORKER_LOST', `attempt ${state.attempts} was interrupted by a worker failure`));
    return null;
  }
  const attempt = tr.startStep(stepId);
  let input: unknown;
  try {
    input = renderTemplate(def.with ?? {}, tr.scope(attempt));
  } catch (error) {
    tr.failStep(stepId, stepFailure('TEMPLATE_ERROR', `with: ${(error as Error).message}`));
    return null;
  }
  if (def.uses === CORE_ACTIONS.noop) {
    tr.succeedStep(stepId, input);
  } else if (def.uses === CORE_ACTIONS.delay) {
    const ms = (input as { ms?: unknown } | null)?.ms;
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_DELAY_MS) {
      tr.failStep(stepId, stepFailure('BAD_USER_INPUT', `with.ms must be a number of milliseconds between 0 and ${MAX_DELAY_MS}`));
    } else {
      tr.waitStep(stepId, 'delay', new Date(Date.now() + ms));
    }
  } else if (def.uses === CORE_ACTIONS.approval) {
    tr.waitStep(stepId, 'approval', def.timeoutMs ? new Date(Date.now() + def.timeoutMs) : null);
  } else {
    return executorAttempt(tr, def, attempt, input, stepId, stepIdempotencyKey(tr.run.id, stepId));
  }
  return null;
}

function executorAttempt(
  tr: RunTransition,
  action: AttemptAction,
  attempt: number,
  input: unknown,
  slot: string,
  idempotencyKey: string,
): Claimed {
  const stepOutputs: Record<string, unknown> = {};
  for (const s of tr.run.steps.values()) if (s.status === 'SUCCEEDED') stepOutputs[s.stepId] = s.output;
  return {
    attempt,
    input,
    action,
    slot,
    idempotencyKey,
    workflowId: tr.run.workflowId,
    pluginVersionId: tr.resolvedActions[action.uses] ?? null,
    runInput: tr.run.input,
    stepOutputs,
  };
}

/** Starts an attempt of a step's compensation; `core/noop@1` settles here. */
function claimCompensation(tr: RunTransition | null, stepId: string): Claimed | null {
  const c = tr?.run.steps.get(stepId)?.compensation;
  if (!tr || !c || TERMINAL_RUN.has(tr.run.status) || SETTLED_COMPENSATION.has(c.status)) return null;
  const def = tr.compensationDef(stepId);
  if (c.status === 'RUNNING' && c.attempts >= (def.retry?.maxAttempts ?? defaultMaxAttempts(def))) {
    tr.failCompensation(stepId, stepFailure('WORKER_LOST', `compensation attempt ${c.attempts} was interrupted by a worker failure`));
    return null;
  }
  const attempt = tr.startCompensation(stepId);
  let input: unknown;
  try {
    input = renderTemplate(def.with ?? {}, tr.scope(attempt));
  } catch (error) {
    tr.failCompensation(stepId, stepFailure('TEMPLATE_ERROR', `compensate.with: ${(error as Error).message}`));
    return null;
  }
  if (def.uses === CORE_ACTIONS.noop) {
    tr.succeedCompensation(stepId, input);
    return null;
  }
  return executorAttempt(tr, def, attempt, input, compensationSlot(stepId), compensationIdempotencyKey(tr.run.id, stepId));
}

async function execute(
  deps: StepTaskDeps,
  payload: StepJobPayload,
  claimed: Claimed,
  shutdownSignal: AbortSignal,
  usage: StepUsage,
): Promise<Outcome> {
  const { t: tenantId, r: runId } = payload;
  const stepId = claimed.slot;
  const refused = await deps.cpuGate.check(tenantId);
  if (refused) return { kind: 'failed', failure: stepFailure('QUOTA_EXCEEDED', refused.message) };
  const interrupt = new AbortController();
  const key = `${runId}:${stepId}`;
  deps.inflight.set(key, interrupt);
  // A backstop for executors that miss their own deadline: the sandbox enforces timeoutMs
  // itself and reports SANDBOX_TIMEOUT, which must not lose the race to this timer.
  const timeout = claimed.action.timeoutMs ? AbortSignal.timeout(claimed.action.timeoutMs + EXECUTOR_DEADLINE_GRACE_MS) : null;
  const signal = AbortSignal.any([interrupt.signal, shutdownSignal, ...(timeout ? [timeout] : [])]);
  // The trace id ties these lines to the run's spans (core/tracing.ts).
  const logger = deps.logger.child({
    tenantId,
    workflowId: claimed.workflowId,
    runId,
    stepId,
    attempt: claimed.attempt,
    traceId: runSpanContext(runId).traceId,
  });
  try {
    const output = await raceAbort(
      deps.executor.execute(
        {
          tenantId,
          workflowId: claimed.workflowId,
          runId,
          stepId,
          attempt: claimed.attempt,
          idempotencyKey: claimed.idempotencyKey,
          uses: claimed.action.uses,
          input: claimed.input,
          credential: claimed.action.credential ?? null,
          timeoutMs: claimed.action.timeoutMs ?? null,
          logger,
          pluginVersionId: claimed.pluginVersionId,
          runInput: claimed.runInput,
          stepOutputs: claimed.stepOutputs,
          usage,
        },
        signal,
      ),
      signal,
    );
    const json = JSON.stringify(output ?? null);
    const bytes = Buffer.byteLength(json);
    if (bytes > deps.maxStepOutputBytes) {
      return {
        kind: 'failed',
        failure: stepFailure('OUTPUT_TOO_LARGE', `step output is ${bytes} bytes; the limit is ${deps.maxStepOutputBytes}`),
      };
    }
    return { kind: 'ok', output: JSON.parse(json) };
  } catch (error) {
    if (interrupt.signal.aborted) return { kind: 'interrupted' };
    if (shutdownSignal.aborted) return { kind: 'released' };
    if (timeout?.aborted) {
      return {
        kind: 'failed',
        failure: stepFailure('STEP_TIMEOUT', `attempt ${claimed.attempt} exceeded timeoutMs ${claimed.action.timeoutMs}`),
      };
    }
    if (error instanceof StepDeferred) {
      logger.info({ code: error.code, until: error.until.toISOString() }, 'step attempt held back; deferred');
      return { kind: 'deferred', until: error.until, reason: { code: error.code, message: error.message } };
    }
    if (error instanceof StepError)
      return { kind: 'failed', failure: { code: error.code, message: error.message, retryable: error.retryable } };
    logger.error({ err: error }, 'step executor failed unexpectedly');
    return { kind: 'failed', failure: stepFailure('EXECUTOR_ERROR', 'the step executor failed unexpectedly') };
  } finally {
    deps.inflight.delete(key);
  }
}

/** Executors must honour the signal; this makes sure the engine does not wait if one does not. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** A durable timer fired: a delay is over, or an approval waited too long. */
export async function runTimerJob(deps: StepTaskDeps, payload: StepJobPayload): Promise<void> {
  const { t: tenantId, r: runId, s: stepId } = payload;
  await deps.batcher.apply(
    tenantId,
    runId,
    (tr) => {
      const state = tr?.run.steps.get(stepId);
      if (!tr || !state || TERMINAL_RUN.has(tr.run.status) || state.status !== 'WAITING') return;
      const def = tr.stepDef(stepId);
      if (def.uses === CORE_ACTIONS.delay) {
        tr.succeedStep(stepId, { waitedMs: Date.now() - Date.parse(state.startedAt ?? tr.run.createdAt) });
      } else {
        tr.failStep(stepId, stepFailure('APPROVAL_TIMEOUT', `no decision within ${def.timeoutMs} ms`));
      }
    },
    ENDS_JOB,
  );
}

export async function runTimeoutJob(deps: StepTaskDeps, payload: { t: string; r: string }): Promise<void> {
  await deps.batcher.apply(
    payload.t,
    payload.r,
    (tr) => {
      if (!tr || TERMINAL_RUN.has(tr.run.status) || Date.parse(tr.run.deadlineAt) > Date.now()) return;
      tr.timeOut();
    },
    ENDS_JOB,
  );
}
