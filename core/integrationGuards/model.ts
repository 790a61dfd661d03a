/** Integration guards: the administrator's settings, the breaker's state, and the refusal codes. */
import type { StepFailureCode } from '../runs/stepFailures.js';

export const BREAKER_STATES = ['CLOSED', 'OPEN', 'HALF_OPEN'] as const;
export type BreakerStatus = (typeof BREAKER_STATES)[number];

/** Consecutive failures that open a breaker when the administrator names none. */
export const DEFAULT_FAILURE_THRESHOLD = 5;
/** Seconds an open breaker waits before letting a trial request through, when the administrator names none. */
export const DEFAULT_COOL_DOWN_SECONDS = 30;

/** What an administrator sets for one host pattern of a tenant. */
export interface GuardSettings {
  /** Sustained requests per second in each engine process; null: no rate limit (the breaker alone). */
  ratePerSecond: number | null;
  /** Requests that may go at once before the rate applies; null exactly when `ratePerSecond` is. */
  burst: number | null;
  failureThreshold: number;
  coolDownSeconds: number;
}

/** A breaker as stored; times are epoch milliseconds. */
export interface BreakerState {
  status: BreakerStatus;
  consecutiveFailures: number;
  openedAt: number | null;
  /** OPEN: when the next request may be the trial. */
  retryAt: number | null;
  /** HALF_OPEN: until when the trial in flight holds the breaker (null: no trial in flight). */
  trialUntil: number | null;
  /** The upstream asked to hear nothing before then (429, or 503 with Retry-After). */
  heldUntil: number | null;
}

export interface IntegrationGuard {
  tenantId: string;
  host: string;
  settings: GuardSettings;
  breaker: BreakerState;
  updatedAt: Date;
}

export const CLOSED_BREAKER: Readonly<BreakerState> = Object.freeze({
  status: 'CLOSED',
  consecutiveFailures: 0,
  openedAt: null,
  retryAt: null,
  trialUntil: null,
  heldUntil: null,
});

/** Why a request to a guarded host was not sent (catalogue codes). Retryable: the step waits, it does not fail. */
export type GuardRefusalCode = Extract<StepFailureCode, 'HOST_RATE_LIMITED' | 'CIRCUIT_OPEN'>;
