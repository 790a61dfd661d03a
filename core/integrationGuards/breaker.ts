/**
 * The circuit breaker of one guard, as pure functions of its stored state and a clock
 * reading (epoch milliseconds). CLOSED lets requests through and counts consecutive
 * failures; at the threshold it opens. OPEN refuses until `retryAt`; then one request
 * becomes the trial (HALF_OPEN) while the rest stay refused; the trial's success closes
 * the breaker, its failure opens it for another cool-down. An upstream's Retry-After
 * (`heldUntil`) refuses every request until then whatever the breaker's status, and is
 * not a failure: the host answered.
 */
import type { BreakerState, GuardRefusalCode, GuardSettings } from './model.js';

export type BreakerVerdict =
  | { kind: 'pass' }
  /** This request may be the half-open trial, if it claims it first (`trialStarted`). */
  | { kind: 'trial' }
  | { kind: 'refuse'; code: GuardRefusalCode; retryAfterMs: number; reason: string };

export type BreakerEvent =
  /** A request claimed the trial; it holds the breaker for `leaseMs` at most. */
  | { kind: 'trialStarted'; leaseMs: number }
  /** The host answered (2xx to 4xx but 429). */
  | { kind: 'success'; trial: boolean }
  /** No answer (connection error, timeout) or a 5xx. */
  | { kind: 'failure'; trial: boolean }
  /** 429, or 503 with Retry-After: the host asks to hear nothing before `until`. */
  | { kind: 'throttled'; trial: boolean; until: number };

export function breakerVerdict(b: BreakerState, settings: Pick<GuardSettings, 'coolDownSeconds'>, now: number): BreakerVerdict {
  if (b.heldUntil !== null && b.heldUntil > now) {
    return {
      kind: 'refuse',
      code: 'HOST_RATE_LIMITED',
      retryAfterMs: b.heldUntil - now,
      reason: 'the host asked to wait (429 or 503 with Retry-After)',
    };
  }
  switch (b.status) {
    case 'CLOSED':
      return { kind: 'pass' };
    case 'OPEN':
      if (b.retryAt !== null && b.retryAt > now) {
        return {
          kind: 'refuse',
          code: 'CIRCUIT_OPEN',
          retryAfterMs: b.retryAt - now,
          reason: `the circuit opened after ${b.consecutiveFailures} consecutive failures`,
        };
      }
      return { kind: 'trial' };
    case 'HALF_OPEN':
      if (b.trialUntil !== null && b.trialUntil > now) {
        // The trial usually settles long before its lease ends; waiting at most a cool-down
        // keeps held-back steps from sleeping through a recovery.
        const retryAfterMs = Math.min(b.trialUntil - now, settings.coolDownSeconds * 1000);
        return {
          kind: 'refuse',
          code: 'CIRCUIT_OPEN',
          retryAfterMs,
          reason: 'the circuit is half-open and its trial request is in flight',
        };
      }
      return { kind: 'trial' };
  }
}

export function nextBreakerState(
  b: BreakerState,
  event: BreakerEvent,
  settings: Pick<GuardSettings, 'failureThreshold' | 'coolDownSeconds'>,
  now: number,
): BreakerState {
  const open = (failures: number): BreakerState => ({
    ...b,
    status: 'OPEN',
    consecutiveFailures: failures,
    openedAt: now,
    retryAt: now + settings.coolDownSeconds * 1000,
    trialUntil: null,
  });
  switch (event.kind) {
    case 'trialStarted':
      return { ...b, status: 'HALF_OPEN', trialUntil: now + event.leaseMs };
    case 'success':
      if (event.trial && b.status === 'HALF_OPEN')
        return { ...b, status: 'CLOSED', consecutiveFailures: 0, openedAt: null, retryAt: null, trialUntil: null };
      // A request let through before the breaker opened proves nothing about the trial to come.
      return b.status === 'CLOSED' ? { ...b, consecutiveFailures: 0 } : b;
    case 'failure': {
      const failures = b.consecutiveFailures + 1;
      if (event.trial && b.status === 'HALF_OPEN') return open(failures);
      if (b.status === 'CLOSED' && failures >= settings.failureThreshold) return open(failures);
      return { ...b, consecutiveFailures: failures };
    }
    case 'throttled': {
      const heldUntil = Math.max(b.heldUntil ?? 0, event.until);
      // A throttled trial says nothing about the host's health: the next request after the wait tries again.
      return event.trial && b.status === 'HALF_OPEN' ? { ...b, heldUntil, trialUntil: null } : { ...b, heldUntil };
    }
  }
}
