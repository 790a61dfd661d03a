import test from 'ava';
import { breakerVerdict, nextBreakerState, type BreakerEvent } from '../../core/integrationGuards/breaker.js';
import { classifyHop, parseRetryAfter, MAX_THROTTLE_MS, MIN_THROTTLE_MS } from '../../core/integrationGuards/hostResponses.js';
import { CLOSED_BREAKER, type BreakerState } from '../../core/integrationGuards/model.js';
import { GuardedHosts } from '../../sandbox/egress/guardedHosts.js';

const settings = { failureThreshold: 3, coolDownSeconds: 10 };
const NOW = 1_000_000;

function apply(b: BreakerState, events: BreakerEvent[], now = NOW): BreakerState {
  return events.reduce((state, event) => nextBreakerState(state, event, settings, now), b);
}

const failure = { kind: 'failure', trial: false } as const;
const success = { kind: 'success', trial: false } as const;

test('a breaker opens at exactly the threshold of consecutive failures; a success in between starts the count again', (t) => {
  const two = apply(CLOSED_BREAKER, [failure, failure]);
  t.is(two.status, 'CLOSED');
  t.is(two.consecutiveFailures, 2);
  t.deepEqual(breakerVerdict(two, settings, NOW), { kind: 'pass' });
  t.is(apply(CLOSED_BREAKER, [failure, failure, success, failure, failure]).status, 'CLOSED', 'not consecutive');
  const open = apply(two, [failure]);
  t.like(open, { status: 'OPEN', consecutiveFailures: 3, openedAt: NOW, retryAt: NOW + 10_000 });
  t.like(breakerVerdict(open, settings, NOW + 4_000), { kind: 'refuse', code: 'CIRCUIT_OPEN', retryAfterMs: 6_000 });
  t.deepEqual(breakerVerdict(open, settings, NOW + 10_000), { kind: 'trial' }, 'after the cool-down one request may try');
});

test('half-open: one trial at a time; its success closes the breaker, its failure opens it for another cool-down', (t) => {
  const open = apply(CLOSED_BREAKER, [failure, failure, failure]);
  const later = NOW + 10_000;
  const halfOpen = nextBreakerState(open, { kind: 'trialStarted', leaseMs: 35_000 }, settings, later);
  t.like(halfOpen, { status: 'HALF_OPEN', trialUntil: later + 35_000 });
  t.like(
    breakerVerdict(halfOpen, settings, later + 1),
    { kind: 'refuse', code: 'CIRCUIT_OPEN', retryAfterMs: 10_000 },
    'waits at most a cool-down for the trial',
  );
  t.deepEqual(
    breakerVerdict(halfOpen, settings, later + 35_000),
    { kind: 'trial' },
    'a trial whose result never came back gives way after its lease',
  );
  t.like(
    nextBreakerState(halfOpen, { kind: 'success', trial: false }, settings, later),
    { status: 'HALF_OPEN' },
    "a straggler's success is not the trial's",
  );
  t.deepEqual(nextBreakerState(halfOpen, { kind: 'success', trial: true }, settings, later + 5), { ...CLOSED_BREAKER });
  t.like(nextBreakerState(halfOpen, { kind: 'failure', trial: true }, settings, later + 5), {
    status: 'OPEN',
    consecutiveFailures: 4,
    openedAt: later + 5,
    retryAt: later + 5 + 10_000,
    trialUntil: null,
  });
});

test('a throttle holds every request back until its end and is not a failure', (t) => {
  const held = nextBreakerState(CLOSED_BREAKER, { kind: 'throttled', trial: false, until: NOW + 2_000 }, settings, NOW);
  t.like(held, { status: 'CLOSED', consecutiveFailures: 0, heldUntil: NOW + 2_000 });
  t.like(breakerVerdict(held, settings, NOW + 500), { kind: 'refuse', code: 'HOST_RATE_LIMITED', retryAfterMs: 1_500 });
  t.deepEqual(breakerVerdict(held, settings, NOW + 2_000), { kind: 'pass' });
  t.is(
    nextBreakerState(held, { kind: 'throttled', trial: false, until: NOW + 1_000 }, settings, NOW).heldUntil,
    NOW + 2_000,
    'a shorter wait never shortens a longer one',
  );
  const halfOpen = { ...apply(CLOSED_BREAKER, [failure, failure, failure]), status: 'HALF_OPEN' as const, trialUntil: NOW + 30_000 };
  t.like(nextBreakerState(halfOpen, { kind: 'throttled', trial: true, until: NOW + 1_000 }, settings, NOW), {
    status: 'HALF_OPEN',
    trialUntil: null,
    heldUntil: NOW + 1_000,
  });
});

test('hop results: no answer and 5xx fail, 429 and 503 with Retry-After throttle, the rest succeed', (t) => {
  t.deepEqual(classifyHop({ status: null }, NOW), { kind: 'failure' });
  t.deepEqual(classifyHop({ status: 500, retryAfter: null }, NOW), { kind: 'failure' });
  t.deepEqual(classifyHop({ status: 503, retryAfter: null }, NOW), { kind: 'failure' });
  t.deepEqual(classifyHop({ status: 503, retryAfter: '7' }, NOW), { kind: 'throttled', waitMs: 7_000 });
  t.deepEqual(classifyHop({ status: 429, retryAfter: null }, NOW), { kind: 'throttled', waitMs: MIN_THROTTLE_MS });
  t.deepEqual(classifyHop({ status: 429, retryAfter: '0' }, NOW), { kind: 'throttled', waitMs: MIN_THROTTLE_MS });
  t.deepEqual(classifyHop({ status: 429, retryAfter: '999999' }, NOW), { kind: 'throttled', waitMs: MAX_THROTTLE_MS });
  for (const status of [200, 204, 301, 400, 404, 499])
    t.deepEqual(classifyHop({ status, retryAfter: null }, NOW), { kind: 'success' }, String(status));
});

test('Retry-After: delay-seconds or an HTTP date', (t) => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  t.is(parseRetryAfter('120', now), 120_000);
  t.is(parseRetryAfter(' 3 ', now), 3_000);
  t.is(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now), 30_000);
  t.is(parseRetryAfter('Wednesday, 01-Jan-25 00:00:30 GMT', now), 30_000);
  t.is(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now), 0, 'a date in the past means now');
  t.is(parseRetryAfter(null, now), null);
  t.is(parseRetryAfter('-1', now), null);
  t.is(parseRetryAfter('1.5', now), null);
  t.is(parseRetryAfter('2025-01-01T00:00:30Z', now), null, 'not an HTTP date');
});

test('a hop falls under its most specific guarded pattern', (t) => {
  const guarded = new GuardedHosts(['*.example.com', 'api.example.com', '*.eu.example.com', 'api.example.com:8443', '*.1.2.3']);
  const at = (host: string, port = 443) => guarded.match({ protocol: 'https:', host, port });
  t.is(at('api.example.com'), 'api.example.com');
  t.is(at('api.example.com', 8443), 'api.example.com:8443');
  t.is(at('x.eu.example.com'), '*.eu.example.com');
  t.is(at('x.example.com'), '*.example.com');
  t.is(at('example.com'), undefined);
  t.is(at('x.example.com', 8443), undefined, 'a pattern without a port covers the default ports only');
});
