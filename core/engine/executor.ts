import type { Logger } from '../logger.js';
import { catalogueEntry, type PluginFailureCode, type StepFailureCode } from '../runs/stepFailures.js';

/** What an executor is given for one attempt of one step. Everything is copied data. */
export interface StepRequest {
  tenantId: string;
  workflowId: string;
  runId: string;
  stepId: string;
  attempt: number;
  /** Stable across retries of this step in this run; plugins pass it to the outside world. */
  idempotencyKey: string;
  /** `plugin/action@major`. */
  uses: string;
  /** The step's `with`, templates already rendered. */
  input: unknown;
  credential: string | null;
  timeoutMs: number | null;
  /** The exact plugin version the workflow version pinned for `uses` (null if it pinned none). */
  pluginVersionId: string | null;
  /** The run's input and the outputs of settled steps, for actions that read the run (core/code). */
  runInput: unknown;
  stepOutputs: Record<string, unknown>;
  logger: Logger;
  /** What the attempt consumed, added to by the executor (also when the attempt fails); counts toward the tenant's quotas. */
  usage: StepUsage;
}

export interface StepUsage {
  sandboxCpuMs: number;
}

/**
 * A step's failure as the executor reports it: a catalogue code (core/runs/stepFailures.ts),
 * retryable as the catalogue says unless told otherwise, or a code a plugin raised.
 * `retryable: false` is a permanent error (bad input, rejected by the remote side): the step
 * fails at once, whatever attempts remain.
 */
export class StepError extends Error {
  constructor(
    readonly code: StepFailureCode | PluginFailureCode,
    message: string,
    readonly retryable: boolean = catalogueEntry(code)?.retryable ?? false,
  ) {
    super(message);
    this.name = 'StepError';
  }
}

/**
 * An attempt that was held back rather than failed: the outside world asked it to wait (an
 * integration's rate limit or circuit breaker, an upstream's Retry-After). The step goes
 * back to the queue until `until` without using up an attempt.
 */
export class StepDeferred extends Error {
  constructor(
    readonly until: Date,
    readonly code: StepFailureCode,
    message: string,
  ) {
    super(message);
    this.name = 'StepDeferred';
  }
}

/**
 * The boundary between the engine and whatever runs non-core actions. The engine owns
 * retries, timeouts, cancellation and commit; an executor only runs one attempt and
 * must stop promptly when `signal` aborts.
 */
export interface StepExecutor {
  execute(request: StepRequest, signal: AbortSignal): Promise<unknown>;
}
