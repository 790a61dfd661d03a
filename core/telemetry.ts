/**
 * What the domain reports as it works, for the appliance's metrics. The server plugs in
 * Prometheus (server/metrics.ts); the domain only calls this interface, after commit, so a
 * batch that rolls back and is retried counts once.
 */
import { TERMINAL_RUN, type RunStatus } from './runs/model.js';
import type { RunTransition } from './runs/transition.js';
import { recordRunSpan, type FinishedRun } from './tracing.js';

export interface Telemetry {
  /** A new run was committed (an idempotent repeat is not a start). */
  runStarted(tenantId: string, workflowId: string): void;
  /** A run reached a terminal state: SUCCEEDED, FAILED, CANCELLED or TIMED_OUT. */
  runFinished(run: FinishedRun): void;
  /** A step attempt ran in the executor: `outcome` is `ok`, an error code, `deferred`, `released` or `interrupted`. */
  stepAttempt(tenantId: string, uses: string, outcome: string, seconds: number): void;
}

/** The run of `tr` if a change just made it terminal (it was `before`), else null. */
export function finishedRun(tr: RunTransition | null, before: RunStatus | undefined): FinishedRun | null {
  if (!tr || before === undefined || TERMINAL_RUN.has(before) || !TERMINAL_RUN.has(tr.run.status)) return null;
  const { id, tenantId, workflowId, status, createdAt, finishedAt } = tr.run;
  return { id, tenantId, workflowId, status, createdAt, finishedAt };
}

/** A run ended: counted, and its root span emitted (core/tracing.ts). */
export function reportRunFinished(telemetry: Telemetry, run: FinishedRun): void {
  telemetry.runFinished(run);
  recordRunSpan(run);
}

export const NO_TELEMETRY: Telemetry = Object.freeze({
  runStarted: () => undefined,
  runFinished: () => undefined,
  stepAttempt: () => undefined,
});
