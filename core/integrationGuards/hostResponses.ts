/**
 * What one answer of a guarded host means for its guard. The sandbox's egress layer
 * reports the bare facts of each request hop (status and Retry-After, or no answer); the
 * judgement is made here, in one place.
 */

/** A request hop as the egress layer saw it: the status and Retry-After header, or `status: null` for no answer (connection error, timeout). */
export type HopResult = { status: number; retryAfter: string | null } | { status: null };

export type HostOutcome = { kind: 'success' } | { kind: 'failure' } | { kind: 'throttled'; waitMs: number };

/** How long a 429 without a usable Retry-After holds the host back, and the least any throttle does. */
export const MIN_THROTTLE_MS = 1000;
/** The longest wait an upstream can impose; a larger Retry-After is capped (the run's deadline still applies). */
export const MAX_THROTTLE_MS = 3600_000;

/**
 * Connection errors, timeouts and 5xx are failures (for the breaker); 429, and 503 with a
 * Retry-After, are the host asking to wait, which is not a failure; anything else is a
 * success: the host is up and answering, even if its answer is no.
 */
export function classifyHop(hop: HopResult, now: number): HostOutcome {
  if (hop.status === null) return { kind: 'failure' };
  const retryAfterMs = parseRetryAfter(hop.retryAfter, now);
  if (hop.status === 429 || (hop.status === 503 && retryAfterMs !== null)) {
    return { kind: 'throttled', waitMs: Math.min(MAX_THROTTLE_MS, Math.max(MIN_THROTTLE_MS, retryAfterMs ?? MIN_THROTTLE_MS)) };
  }
  return hop.status >= 500 ? { kind: 'failure' } : { kind: 'success' };
}

/** Retry-After (RFC 9110 §10.2.3) as milliseconds from `now`: delay-seconds or an HTTP date; null when absent or malformed. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  // IMF-fixdate and RFC 850 dates name the weekday and GMT; whatever else Date.parse accepts is not an HTTP date.
  if (!/^[A-Za-z]{3,9}, .+ GMT$/.test(text)) return null;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
