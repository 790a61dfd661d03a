/** Run and step states, the events that record their changes, and the failure shape. */

export const RUN_STATUSES = ['QUEUED', 'RUNNING', 'WAITING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const STEP_STATUSES = ['PENDING', 'RUNNING', 'WAITING', 'SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELLED'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const TERMINAL_RUN: ReadonlySet<RunStatus> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);
export const SETTLED_STEP: ReadonlySet<StepStatus> = new Set(['SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELLED']);

/**
 * A failure as stored: `{ code, message }` plus whether a retry can help (a run's error has
 * none). New ones are minted from the catalogue (stepFailures.ts) or by plugins; stored ones
 * may hold codes an older release minted, so the code stays a string here.
 */
export interface StepFailure {
  code: string;
  message: string;
  retryable?: boolean;
}

export const COMPENSATION_STATUSES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type CompensationStatus = (typeof COMPENSATION_STATUSES)[number];
export const SETTLED_COMPENSATION: ReadonlySet<CompensationStatus> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/** What a step and its compensation each record of their attempts. */
interface AttemptRecord {
  attempts: number;
  output: unknown;
  error: StepFailure | null;
  /** Set when a job is queued for the current attempt; internal to the engine. */
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

/** A succeeded step's undo, once its run has failed for good (see RunTransition.failRun). */
export interface CompensationState extends AttemptRecord {
  status: CompensationStatus;
  /** Position in the run's compensation order: 0 undoes the step that completed last. */
  order: number;
}

export interface StepState extends AttemptRecord {
  stepId: string;
  status: StepStatus;
  settledSeq: number | null;
  /** Null unless the run failed for good after this step succeeded and the step names a `compensate`. */
  compensation: CompensationState | null;
}

export interface RunState {
  id: string;
  tenantId: string;
  workflowId: string;
  workflowVersionId: string;
  status: RunStatus;
  input: unknown;
  output: unknown;
  error: StepFailure | null;
  /** CAS counter; equals the sequence number of the run's last event. */
  version: number;
  createdAt: string;
  finishedAt: string | null;
  deadlineAt: string;
  steps: Map<string, StepState>;
}

export type RunEventType =
  | 'RUN_CREATED'
  | 'RUN_SUCCEEDED'
  | 'RUN_FAILED'
  | 'RUN_CANCELLED'
  | 'RUN_TIMED_OUT'
  | 'RUN_RETRIED'
  | 'STEP_STARTED'
  | 'STEP_SUCCEEDED'
  | 'STEP_FAILED'
  | 'STEP_RETRY_SCHEDULED'
  | 'STEP_WAITING'
  | 'STEP_SKIPPED'
  | 'STEP_CANCELLED'
  | 'STEP_RELEASED'
  | 'STEP_DEFERRED'
  | 'RUN_COMPENSATING'
  | 'COMPENSATION_STARTED'
  | 'COMPENSATION_SUCCEEDED'
  | 'COMPENSATION_FAILED'
  | 'COMPENSATION_RETRY_SCHEDULED'
  | 'COMPENSATION_RELEASED'
  | 'COMPENSATION_DEFERRED'
  | 'COMPENSATION_CANCELLED';

export interface RunEvent {
  seq: number;
  type: RunEventType;
  stepId: string | null;
  at: string;
  data: Record<string, unknown>;
}

export function newStepState(stepId: string): StepState {
  return {
    stepId,
    status: 'PENDING',
    attempts: 0,
    output: null,
    error: null,
    queuedAt: null,
    startedAt: null,
    finishedAt: null,
    settledSeq: null,
    compensation: null,
  };
}

/** The key every attempt of a step in a run carries to the outside world. */
export function stepIdempotencyKey(runId: string, stepId: string): string {
  return `${runId}:${stepId}`;
}

/** The key every attempt of a step's compensation carries: its own, so an undo is never mistaken for the step. */
export function compensationIdempotencyKey(runId: string, stepId: string): string {
  return `${runId}:${stepId}:compensate`;
}
