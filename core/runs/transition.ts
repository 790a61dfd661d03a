import type { CompensationDefinition, StepDefinition, WorkflowDefinition } from '../workflows/definition.js';
import { evaluateCondition, renderTemplate } from '../workflows/templates.js';
import { backoffDelayMs } from '../engine/backoff.js';
import {
  SETTLED_COMPENSATION,
  SETTLED_STEP,
  TERMINAL_RUN,
  type CompensationState,
  type RunEvent,
  type RunEventType,
  type RunState,
  type RunStatus,
  type StepState,
} from './model.js';
import { stepFailure, type DeferralReason, type MintedFailure, type RunFailure } from './stepFailures.js';

/** A graphile-worker job to add in the same transaction as the state change that needs it. */
export interface JobSpec {
  identifier: string;
  payload: Record<string, unknown>;
  runAt: string | null;
  jobKey: string;
  maxAttempts: number;
}

export const STEP_TASK = 'sy_step';
/** The same task in the interactive lane: steps of tenants not flooding the queue (see core/engine/fairShare.ts). */
export const INTERACTIVE_STEP_TASK = 'sy_step_i';
export const TIMER_TASK = 'sy_step_timer';
export const RUN_TIMEOUT_TASK = 'sy_run_timeout';
export const COMPENSATION_TASK = 'sy_compensate';

export const stepJobKey = (runId: string, stepId: string): string => `s:${runId}:${stepId}`;
export const timerJobKey = (runId: string, stepId: string): string => `w:${runId}:${stepId}`;
export const compensationJobKey = (runId: string, stepId: string): string => `c:${runId}:${stepId}`;
/**
 * How a step's compensation is named where steps are named by id (running attempts to
 * interrupt, the executor's step id, spans): step ids cannot contain "#".
 */
export const compensationSlot = (stepId: string): string => `${stepId}#compensate`;

// A compensation attempt without its own timeoutMs is budgeted this long when the run's
// deadline is pushed out to leave its compensations time to run.
const COMPENSATION_ATTEMPT_BUDGET_MS = 10 * 60_000;

// graphile-worker's own retries are only for infrastructure failures (database gone);
// step retries follow the step's policy and are scheduled by the engine.
const JOB_MAX_ATTEMPTS = 25;

/**
 * One change to one run, computed in memory on a state loaded under the run's row lock
 * and then persisted as a diff (see store.ts). Every method records the events that
 * explain it, so the event log alone can rebuild the run (see replay.ts).
 */
export class RunTransition {
  readonly events: Omit<RunEvent, 'at'>[] = [];
  readonly jobs: JobSpec[] = [];
  readonly removedJobKeys: string[] = [];
  readonly dirtySteps = new Set<string>();
  /** Steps that were running and must be told to stop (cancel, fail-fast, timeout). */
  readonly interruptedSteps: string[] = [];
  runChanged = false;
  private readonly stepDefs: Map<string, StepDefinition>;
  private readonly now: string;

  /**
   * `resolvedActions` is the workflow version's pinning of plugin actions to plugin
   * versions (see WorkflowService.publish); executor steps carry it to the executor.
   */
  constructor(
    readonly run: RunState,
    readonly definition: WorkflowDefinition,
    now = new Date(),
    readonly resolvedActions: Readonly<Record<string, string>> = {},
  ) {
    this.stepDefs = new Map(definition.steps.map((s) => [s.id, s]));
    this.now = now.toISOString();
    this.startVersion = run.version;
  }

  /** The version the run had when loaded: the compare-and-swap expectation. */
  readonly startVersion: number;

  stepDef(stepId: string): StepDefinition {
    const def = this.stepDefs.get(stepId);
    if (!def) throw new Error(`step ${stepId} is not in the run's definition`);
    return def;
  }

  step(stepId: string): StepState {
    const state = this.run.steps.get(stepId);
    if (!state) throw new Error(`step ${stepId} has no state`);
    return state;
  }

  emit(type: RunEventType, stepId: string | null, data: Record<string, unknown> = {}): void {
    this.run.version += 1;
    this.events.push({ seq: this.run.version, type, stepId, data });
  }

  private patchStep(stepId: string, patch: Partial<StepState>): StepState {
    const state = this.step(stepId);
    Object.assign(state, patch);
    this.dirtySteps.add(stepId);
    return state;
  }

  private setRun(status: RunStatus, patch: Partial<RunState> = {}): void {
    if (this.run.status !== status || Object.keys(patch).length > 0) this.runChanged = true;
    Object.assign(this.run, patch);
    this.run.status = status;
    if (TERMINAL_RUN.has(status)) this.run.finishedAt = this.now;
  }

  private settle(stepId: string, patch: Partial<StepState>): void {
    this.patchStep(stepId, { ...patch, finishedAt: this.now, settledSeq: this.run.version });
  }

  /** Marks a step's attempt as started; returns the attempt number. */
  startStep(stepId: string): number {
    const attempt = this.step(stepId).attempts + 1;
    this.emit('STEP_STARTED', stepId, { attempt });
    this.patchStep(stepId, { status: 'RUNNING', attempts: attempt, startedAt: this.now });
    if (this.run.status === 'QUEUED' || this.run.status === 'WAITING') this.setRun('RUNNING');
    return attempt;
  }

  succeedStep(stepId: string, output: unknown): void {
    this.emit('STEP_SUCCEEDED', stepId, { attempt: this.step(stepId).attempts, output });
    this.settle(stepId, { status: 'SUCCEEDED', output, error: null });
    this.advance();
  }

  /** A step parked without holding a worker: a durable timer or an approval. */
  waitStep(stepId: string, reason: 'delay' | 'approval', until: Date | null): void {
    this.emit('STEP_WAITING', stepId, { reason, until: until?.toISOString() ?? null });
    this.patchStep(stepId, { status: 'WAITING' });
    if (until) {
      this.jobs.push({
        identifier: TIMER_TASK,
        payload: this.jobPayload(stepId),
        runAt: until.toISOString(),
        jobKey: timerJobKey(this.run.id, stepId),
        maxAttempts: JOB_MAX_ATTEMPTS,
      });
    }
    this.updateActiveStatus();
  }

  /**
   * A failed attempt: retried with backoff when the failure is retryable and attempts
   * remain, otherwise the step fails for good and `onError` decides the run's fate.
   */
  failStep(stepId: string, failure: MintedFailure): void {
    const def = this.stepDef(stepId);
    const state = this.step(stepId);
    const maxAttempts = def.retry?.maxAttempts ?? defaultMaxAttempts(def);
    const attempt = Math.max(state.attempts, 1);
    if (failure.retryable && attempt < maxAttempts) {
      const delay = backoffDelayMs(attempt, def.retry?.initialDelayMs ?? 1000, def.retry?.maxDelayMs ?? 60_000);
      const retryAt = new Date(Date.parse(this.now) + delay).toISOString();
      this.emit('STEP_FAILED', stepId, { attempt, error: failure, willRetry: true });
      this.emit('STEP_RETRY_SCHEDULED', stepId, { attempt: attempt + 1, retryAt, delayMs: delay });
      this.patchStep(stepId, { status: 'PENDING', error: failure, queuedAt: this.now });
      this.jobs.push({
        identifier: STEP_TASK,
        payload: this.jobPayload(stepId),
        runAt: retryAt,
        jobKey: stepJobKey(this.run.id, stepId),
        maxAttempts: JOB_MAX_ATTEMPTS,
      });
      this.updateActiveStatus();
      return;
    }
    this.emit('STEP_FAILED', stepId, { attempt, error: failure, willRetry: false });
    this.settle(stepId, { status: 'FAILED', error: failure });
    if (def.onError === 'continue') {
      this.advance();
      return;
    }
    this.failRun({ code: 'STEP_FAILED', message: `step "${stepId}" failed: ${failure.message}` }, { stepId, error: failure });
  }

  /** Puts a running step back in the queue without counting the attempt (graceful shutdown). */
  releaseStep(stepId: string): void {
    const state = this.step(stepId);
    this.emit('STEP_RELEASED', stepId, { attempt: state.attempts });
    this.patchStep(stepId, { status: 'PENDING', attempts: Math.max(0, state.attempts - 1), queuedAt: this.now });
    this.jobs.push({
      identifier: STEP_TASK,
      payload: this.jobPayload(stepId),
      runAt: null,
      jobKey: stepJobKey(this.run.id, stepId),
      maxAttempts: JOB_MAX_ATTEMPTS,
    });
  }

  /**
   * Puts a running step back in the queue until `until` without counting the attempt: it
   * was held back (an integration's rate limit or open circuit), not failed.
   */
  deferStep(stepId: string, until: Date, reason: DeferralReason): void {
    const state = this.step(stepId);
    const runAt = until.toISOString();
    this.emit('STEP_DEFERRED', stepId, { attempt: state.attempts, until: runAt, reason });
    this.patchStep(stepId, { status: 'PENDING', attempts: Math.max(0, state.attempts - 1), queuedAt: this.now });
    this.jobs.push({
      identifier: STEP_TASK,
      payload: this.jobPayload(stepId),
      runAt,
      jobKey: stepJobKey(this.run.id, stepId),
      maxAttempts: JOB_MAX_ATTEMPTS,
    });
  }

  cancel(by: string | null): void {
    this.finish('CANCELLED', { code: 'RUN_CANCELLED', message: 'the run was cancelled' }, 'RUN_CANCELLED', { by });
  }

  timeOut(): void {
    this.finish('TIMED_OUT', { code: 'RUN_TIMEOUT', message: `the run passed its deadline ${this.run.deadlineAt}` }, 'RUN_TIMED_OUT', {
      deadlineAt: this.run.deadlineAt,
    });
  }

  /** Resets failed and cancelled steps so they run again; succeeded outputs are kept. */
  retry(by: string | null, deadlineAt: string): string[] {
    const reset: string[] = [];
    for (const state of this.run.steps.values()) {
      if (state.status === 'FAILED' || state.status === 'CANCELLED') {
        reset.push(state.stepId);
        this.patchStep(state.stepId, {
          status: 'PENDING',
          attempts: 0,
          error: null,
          output: null,
          queuedAt: null,
          startedAt: null,
          finishedAt: null,
          settledSeq: null,
        });
      }
    }
    this.emit('RUN_RETRIED', null, { by, steps: reset });
    this.setRun('QUEUED', { error: null, output: null, finishedAt: null, deadlineAt });
    this.advance();
    return reset;
  }

  private finish(status: RunStatus, error: RunFailure, type: RunEventType, data: Record<string, unknown>): void {
    this.cancelUnsettled();
    this.emit(type, null, { ...data, error });
    this.setRun(status, { error });
  }

  /** Cancels every step and compensation that has not settled, stopping those running. */
  private cancelUnsettled(): void {
    for (const state of this.run.steps.values()) {
      const c = state.compensation;
      if (c && !SETTLED_COMPENSATION.has(c.status)) {
        if (c.status === 'RUNNING') this.interruptedSteps.push(compensationSlot(state.stepId));
        if (c.queuedAt !== null) this.removedJobKeys.push(compensationJobKey(this.run.id, state.stepId));
        this.emit('COMPENSATION_CANCELLED', state.stepId, {});
        this.patchCompensation(state.stepId, { status: 'CANCELLED', finishedAt: this.now });
      }
      if (SETTLED_STEP.has(state.status)) continue;
      if (state.status === 'RUNNING') this.interruptedSteps.push(state.stepId);
      if (state.queuedAt !== null || state.status === 'WAITING') {
        this.removedJobKeys.push(stepJobKey(this.run.id, state.stepId), timerJobKey(this.run.id, state.stepId));
      }
      this.emit('STEP_CANCELLED', state.stepId, {});
      this.settle(state.stepId, { status: 'CANCELLED' });
    }
  }

  /** True between a run's failure and the end of its compensations. */
  get compensating(): boolean {
    return !TERMINAL_RUN.has(this.run.status) && this.compensated;
  }

  /** Whether the run failed and undid (or tried to undo) steps; such a run is not retried. */
  get compensated(): boolean {
    for (const state of this.run.steps.values()) if (state.compensation) return true;
    return false;
  }

  compensationDef(stepId: string): CompensationDefinition {
    const def = this.stepDef(stepId).compensate;
    if (!def) throw new Error(`step ${stepId} has no compensation`);
    return def;
  }

  /**
   * The run failed for good. Steps that succeeded and name a `compensate` are undone first,
   * one at a time, the last completed first; the run is FAILED once they have settled.
   */
  private failRun(error: RunFailure, data: Record<string, unknown>): void {
    const plan = [...this.run.steps.values()]
      .filter((s) => s.status === 'SUCCEEDED' && this.stepDef(s.stepId).compensate)
      .sort((a, b) => (b.settledSeq ?? 0) - (a.settledSeq ?? 0))
      .map((s) => s.stepId);
    if (plan.length === 0) {
      this.finish('FAILED', error, 'RUN_FAILED', data);
      return;
    }
    this.cancelUnsettled();
    this.emit('RUN_COMPENSATING', null, { ...data, error, steps: plan });
    plan.forEach((stepId, order) => {
      this.patchStep(stepId, {
        compensation: {
          status: 'PENDING',
          order,
          attempts: 0,
          output: null,
          error: null,
          queuedAt: null,
          startedAt: null,
          finishedAt: null,
        },
      });
    });
    // The failure's deadline was the steps'; the undo gets time of its own, bounded by its attempts.
    const budget = plan.reduce((sum, stepId) => {
      const c = this.compensationDef(stepId);
      return (
        sum +
        (c.retry?.maxAttempts ?? defaultMaxAttempts(c)) *
          ((c.timeoutMs ?? COMPENSATION_ATTEMPT_BUDGET_MS) + (c.retry?.maxDelayMs ?? 60_000))
      );
    }, 0);
    const deadlineAt = new Date(Math.max(Date.parse(this.run.deadlineAt), Date.parse(this.now) + budget)).toISOString();
    this.setRun('RUNNING', { error, deadlineAt });
    this.queueNextCompensation();
  }

  private patchCompensation(stepId: string, patch: Partial<CompensationState>): CompensationState {
    const state = this.step(stepId);
    if (!state.compensation) throw new Error(`step ${stepId} is not being compensated`);
    state.compensation = { ...state.compensation, ...patch };
    this.dirtySteps.add(stepId);
    return state.compensation;
  }

  /** Queues the next compensation in order when none is running or queued; ends the run when all have settled. */
  private queueNextCompensation(): void {
    const open = [...this.run.steps.values()].filter((s) => s.compensation && !SETTLED_COMPENSATION.has(s.compensation.status));
    if (open.some((s) => s.compensation!.status === 'RUNNING' || s.compensation!.queuedAt !== null)) return;
    const next = open.sort((a, b) => a.compensation!.order - b.compensation!.order)[0];
    if (!next) {
      const all = [...this.run.steps.values()].flatMap((s) => (s.compensation ? [s.compensation] : []));
      const summary = {
        compensated: all.filter((c) => c.status === 'SUCCEEDED').length,
        failed: all.filter((c) => c.status === 'FAILED').length,
      };
      this.emit('RUN_FAILED', null, { error: this.run.error, compensation: summary });
      this.setRun('FAILED', { error: this.run.error });
      return;
    }
    this.patchCompensation(next.stepId, { queuedAt: this.now });
    this.pushCompensationJob(next.stepId, null);
  }

  private pushCompensationJob(stepId: string, runAt: string | null): void {
    this.jobs.push({
      identifier: COMPENSATION_TASK,
      payload: this.jobPayload(stepId),
      runAt,
      jobKey: compensationJobKey(this.run.id, stepId),
      maxAttempts: JOB_MAX_ATTEMPTS,
    });
  }

  /** Starts an attempt of a step's compensation; returns the attempt number. */
  startCompensation(stepId: string): number {
    const attempt = this.step(stepId).compensation!.attempts + 1;
    this.emit('COMPENSATION_STARTED', stepId, { attempt });
    this.patchCompensation(stepId, { status: 'RUNNING', attempts: attempt, startedAt: this.now });
    return attempt;
  }

  succeedCompensation(stepId: string, output: unknown): void {
    const c = this.step(stepId).compensation!;
    this.emit('COMPENSATION_SUCCEEDED', stepId, { attempt: c.attempts, output });
    this.patchCompensation(stepId, { status: 'SUCCEEDED', output, error: null, finishedAt: this.now, queuedAt: null });
    this.queueNextCompensation();
  }

  /** A failed compensation attempt: retried like a step; one that fails for good does not stop the others. */
  failCompensation(stepId: string, failure: MintedFailure): void {
    const def = this.compensationDef(stepId);
    const c = this.step(stepId).compensation!;
    const attempt = Math.max(c.attempts, 1);
    if (failure.retryable && attempt < (def.retry?.maxAttempts ?? defaultMaxAttempts(def))) {
      const delay = backoffDelayMs(attempt, def.retry?.initialDelayMs ?? 1000, def.retry?.maxDelayMs ?? 60_000);
      const retryAt = new Date(Date.parse(this.now) + delay).toISOString();
      this.emit('COMPENSATION_FAILED', stepId, { attempt, error: failure, willRetry: true });
      this.emit('COMPENSATION_RETRY_SCHEDULED', stepId, { attempt: attempt + 1, retryAt, delayMs: delay });
      this.patchCompensation(stepId, { status: 'PENDING', error: failure, queuedAt: this.now });
      this.pushCompensationJob(stepId, retryAt);
      return;
    }
    this.emit('COMPENSATION_FAILED', stepId, { attempt, error: failure, willRetry: false });
    this.patchCompensation(stepId, { status: 'FAILED', error: failure, finishedAt: this.now, queuedAt: null });
    this.queueNextCompensation();
  }

  /** Puts a running compensation back in the queue without counting the attempt (shutdown, a held-back integration). */
  releaseCompensation(stepId: string, until: Date | null = null, reason: DeferralReason | null = null): void {
    const c = this.step(stepId).compensation!;
    if (until) this.emit('COMPENSATION_DEFERRED', stepId, { attempt: c.attempts, until: until.toISOString(), reason });
    else this.emit('COMPENSATION_RELEASED', stepId, { attempt: c.attempts });
    this.patchCompensation(stepId, { status: 'PENDING', attempts: Math.max(0, c.attempts - 1), queuedAt: this.now });
    this.pushCompensationJob(stepId, until?.toISOString() ?? null);
  }

  /**
   * Queues every step whose needs have settled (skipping those whose `if` is false),
   * and finishes the run when every step has settled.
   */
  advance(): void {
    if (TERMINAL_RUN.has(this.run.status) || this.compensating) return;
    for (let progressed = true; progressed;) {
      progressed = false;
      for (const def of this.definition.steps) {
        const state = this.step(def.id);
        if (state.status !== 'PENDING' || state.queuedAt !== null) continue;
        if (!(def.needs ?? []).every((need) => this.satisfies(need))) continue;
        const verdict = def.if === undefined ? true : this.evaluateIf(def);
        if (verdict !== true) {
          if (verdict === false) {
            this.emit('STEP_SKIPPED', def.id, { condition: def.if });
            this.settle(def.id, { status: 'SKIPPED' });
          } else {
            // A condition that cannot be evaluated is the definition's fault: fail the step, never guess.
            this.failStep(def.id, verdict);
          }
          if (TERMINAL_RUN.has(this.run.status)) return;
          progressed = true;
          continue;
        }
        this.patchStep(def.id, { queuedAt: this.now });
        this.jobs.push({
          identifier: STEP_TASK,
          payload: this.jobPayload(def.id),
          runAt: null,
          jobKey: stepJobKey(this.run.id, def.id),
          maxAttempts: JOB_MAX_ATTEMPTS,
        });
      }
    }
    if ([...this.run.steps.values()].every((s) => SETTLED_STEP.has(s.status))) {
      const output = this.runOutput();
      this.emit('RUN_SUCCEEDED', null, { output });
      this.setRun('SUCCEEDED', { output });
      return;
    }
    this.updateActiveStatus();
  }

  private evaluateIf(def: StepDefinition): boolean | MintedFailure {
    try {
      return evaluateCondition(def.if!, this.scope(1));
    } catch (error) {
      return stepFailure('TEMPLATE_ERROR', `if: ${(error as Error).message}`);
    }
  }

  private satisfies(need: string): boolean {
    const state = this.step(need);
    return (
      state.status === 'SUCCEEDED' || state.status === 'SKIPPED' || (state.status === 'FAILED' && this.stepDef(need).onError === 'continue')
    );
  }

  private updateActiveStatus(): void {
    if (TERMINAL_RUN.has(this.run.status) || this.compensating) return;
    // WAITING: nothing can progress without outside input (a timer or a decision); steps
    // still blocked on their needs do not count as progress.
    const steps = [...this.run.steps.values()];
    const runnable = steps.some((s) => s.status === 'RUNNING' || (s.status === 'PENDING' && s.queuedAt !== null));
    if (!runnable && steps.some((s) => s.status === 'WAITING')) this.setRun('WAITING');
    else if (this.run.status === 'WAITING') this.setRun('RUNNING');
  }

  private runOutput(): unknown {
    if (this.definition.output !== undefined) return renderTemplate(this.definition.output, this.scope(1));
    const needed = new Set(this.definition.steps.flatMap((s) => s.needs ?? []));
    const out: Record<string, unknown> = {};
    for (const def of this.definition.steps) {
      const state = this.step(def.id);
      if (!needed.has(def.id) && state.status === 'SUCCEEDED') out[def.id] = state.output;
    }
    return out;
  }

  /** What templates may read for this run. */
  scope(attempt: number): {
    input: unknown;
    steps: Record<string, { output: unknown; status: string; error: unknown }>;
    run: { id: string; attempt: number };
  } {
    const steps: Record<string, { output: unknown; status: string; error: unknown }> = {};
    for (const state of this.run.steps.values()) steps[state.stepId] = { output: state.output, status: state.status, error: state.error };
    return { input: this.run.input, steps, run: { id: this.run.id, attempt } };
  }

  private jobPayload(stepId: string): Record<string, unknown> {
    return { t: this.run.tenantId, r: this.run.id, s: stepId };
  }
}

/** Core actions are deterministic and run once; plugin steps get three attempts unless told otherwise. */
export function defaultMaxAttempts(def: Pick<StepDefinition, 'uses'>): number {
  return def.uses.startsWith('core/') && def.uses !== 'core/code@1' ? 1 : 3;
}
