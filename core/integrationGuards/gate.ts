/**
 * The engine's side of integration guards: admits each request a plugin step sends to a
 * guarded host and records what the host answered. Breaker state and an upstream's
 * Retry-After live in PostgreSQL, so every engine process honours them; each process
 * reads a tenant's guards at most once per `cacheMs` and changes a breaker under its row
 * lock. Token buckets are per process: each engine process enforces the configured rate.
 */
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { TokenBucket, type Clock, type TakeResult } from '../rateLimit/tokenBucket.js';
import { breakerVerdict, nextBreakerState, type BreakerEvent } from './breaker.js';
import { lockGuard, readGuards, writeBreaker } from './guardStore.js';
import { classifyHop, type HopResult } from './hostResponses.js';
import type { GuardRefusalCode, IntegrationGuard } from './model.js';

export interface IntegrationGuardGateOptions {
  /** How long a process trusts its copy of a tenant's guards and breakers. Default 1000 ms. */
  cacheMs?: number;
  /**
   * How long a half-open trial holds its breaker when its result never comes back (its
   * sandbox or process died): the longest a request can take, plus a margin.
   */
  trialLeaseMs: number;
  clock?: Clock;
}

/** What an attempt's egress layer is told: a permit to report the request's result with (null: not guarded), or a refusal. */
export type Admission = { ok: true; permit: string | null } | { ok: false; code: GuardRefusalCode; retryAfterMs: number; message: string };

/** The gate's answer for one request: not guarded, admitted (possibly as the half-open trial), or refused. */
export type Decision =
  | { kind: 'unguarded' }
  | { kind: 'admitted'; trial: boolean }
  /** `until` is when a request may go (epoch ms), from the same clock reading as `retryAfterMs`. */
  | { kind: 'refused'; code: GuardRefusalCode; retryAfterMs: number; until: number; message: string };

/** What held a step attempt back: the step waits until `until` (epoch ms) instead of failing. */
export interface HeldBack {
  code: GuardRefusalCode;
  until: number;
  message: string;
}

interface TenantGuards {
  at: number;
  guards: Map<string, IntegrationGuard>;
}

interface Bucket {
  bucket: TokenBucket;
  ratePerSecond: number;
  burst: number;
  /** The latest Retry-After this bucket was drained for. */
  drainedUntil: number;
}

const DEFAULT_CACHE_MS = 1000;
/** The cool-down ended between the locked read and now: try again shortly, as the trial may be free. */
const TRIAL_RACE_RETRY_MS = 1000;

export class IntegrationGuardGate {
  private readonly tenants = new Map<string, TenantGuards>();
  private readonly loading = new Map<string, Promise<TenantGuards>>();
  /** By `tenant\nhost`; only configured guards have one, so the map stays as small as the configuration. */
  private readonly buckets = new Map<string, Bucket>();
  private readonly cacheMs: number;
  private readonly clock: Clock;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    private readonly options: IntegrationGuardGateOptions,
  ) {
    this.cacheMs = options.cacheMs ?? DEFAULT_CACHE_MS;
    this.clock = options.clock ?? Date.now;
  }

  /** Host patterns the tenant guards; the sandbox checks only requests to these. */
  async guardedHosts(tenantId: string): Promise<string[]> {
    return [...(await this.guards(tenantId)).guards.keys()];
  }

  /** Drops this process's copy of a tenant's guards (their settings changed here). */
  forget(tenantId: string): void {
    this.tenants.delete(tenantId);
  }

  /** One step attempt's guard: admits its requests, records their results, remembers what held it back. */
  forAttempt(tenantId: string): AttemptGuard {
    return new AttemptGuard(this, tenantId);
  }

  /**
   * @internal (AttemptGuard) Whether a request to `host` may go now. The guards fail open:
   * when the database cannot answer, requests go unguarded (and the step could not commit anyway).
   */
  async admit(tenantId: string, host: string): Promise<{ decision: Decision; heldBack: HeldBack | null }> {
    try {
      const decision = await this.decide(tenantId, host);
      const heldBack =
        decision.kind === 'refused' ? { code: decision.code, until: decision.until, message: `${host}: ${decision.message}` } : null;
      return { decision, heldBack };
    } catch (error) {
      this.logger.warn({ err: error, tenantId, host }, 'integration guard unavailable; the request goes unguarded');
      return { decision: { kind: 'unguarded' }, heldBack: null };
    }
  }

  /** @internal (AttemptGuard) Records a hop's result; returns the wait it imposes, if the host asked for one. */
  async record(tenantId: string, host: string, trial: boolean, hop: HopResult): Promise<HeldBack | null> {
    try {
      return await this.recordResult(tenantId, host, trial, hop);
    } catch (error) {
      this.logger.warn({ err: error, tenantId, host }, "integration guard unavailable; a request's result was not recorded");
      return null;
    }
  }

  private async decide(tenantId: string, host: string): Promise<Decision> {
    const guard = (await this.guards(tenantId)).guards.get(host);
    if (!guard) return { kind: 'unguarded' };
    const now = this.clock();
    const verdict = breakerVerdict(guard.breaker, guard.settings, now);
    if (verdict.kind === 'refuse') return refused(verdict.code, verdict.retryAfterMs, verdict.reason, now);
    const taken = this.takeToken(guard);
    if (!taken.allowed) {
      const { ratePerSecond, burst } = guard.settings;
      return refused(
        'HOST_RATE_LIMITED',
        taken.retryAfterSeconds * 1000,
        `the rate limit of ${ratePerSecond}/s (burst ${burst}) is reached`,
        now,
      );
    }
    if (verdict.kind === 'pass') return { kind: 'admitted', trial: false };
    // Every process may see the cool-down end; the row lock lets one request be the trial.
    const claimed = await this.transition(tenantId, host, (current, at) =>
      breakerVerdict(current.breaker, current.settings, at).kind === 'trial'
        ? { kind: 'trialStarted', leaseMs: this.options.trialLeaseMs }
        : null,
    );
    if (claimed.applied) return { kind: 'admitted', trial: true };
    if (!claimed.guard) return { kind: 'unguarded' };
    const later = this.clock();
    const after = breakerVerdict(claimed.guard.breaker, claimed.guard.settings, later);
    // Closed meanwhile by another process's trial: nothing holds the request back.
    if (after.kind === 'pass') return { kind: 'admitted', trial: false };
    if (after.kind === 'refuse') return refused(after.code, after.retryAfterMs, after.reason, later);
    return refused('CIRCUIT_OPEN', TRIAL_RACE_RETRY_MS, 'the circuit is open and another request is claiming its trial', later);
  }

  private async recordResult(tenantId: string, host: string, trial: boolean, hop: HopResult): Promise<HeldBack | null> {
    const now = this.clock();
    const outcome = classifyHop(hop, now);
    let event: BreakerEvent;
    if (outcome.kind === 'success') {
      const known = this.tenants.get(tenantId)?.guards.get(host)?.breaker;
      // The common case writes nothing: a closed breaker that counts no failure (as of this process's copy).
      if (!trial && known?.status === 'CLOSED' && known.consecutiveFailures === 0) return null;
      event = { kind: 'success', trial };
    } else if (outcome.kind === 'failure') {
      event = { kind: 'failure', trial };
    } else {
      event = { kind: 'throttled', trial, until: now + outcome.waitMs };
    }
    const { guard } = await this.transition(tenantId, host, () => event);
    if (event.kind !== 'throttled') return null;
    if (guard) this.takeToken(guard, 0);
    return {
      code: 'HOST_RATE_LIMITED',
      until: event.until,
      message: `${host} answered ${hop.status} and asked to wait ${Math.ceil((event.until - now) / 1000)} s`,
    };
  }

  /**
   * Applies the event `decide` picks for the guard's current state (null: none) under the
   * row's lock, writes the breaker if it changed and refreshes this process's copy.
   */
  private async transition(
    tenantId: string,
    host: string,
    decide: (current: IntegrationGuard, now: number) => BreakerEvent | null,
  ): Promise<{ guard: IntegrationGuard | null; applied: boolean }> {
    const result = await this.db.tx({ tenantId }, async (q) => {
      const current = await lockGuard(q, tenantId, host);
      if (!current) return { guard: null, applied: false };
      const now = this.clock();
      const event = decide(current, now);
      if (event === null) return { guard: current, applied: false };
      const next = nextBreakerState(current.breaker, event, current.settings, now);
      if (JSON.stringify(next) === JSON.stringify(current.breaker)) return { guard: current, applied: true };
      const written = await writeBreaker(q, tenantId, host, next);
      if (next.status !== current.breaker.status) {
        this.logger.warn(
          { tenantId, host, from: current.breaker.status, to: next.status, consecutiveFailures: next.consecutiveFailures },
          'integration circuit breaker changed state',
        );
      }
      return { guard: written, applied: true };
    });
    const cached = this.tenants.get(tenantId);
    if (cached && result.guard) cached.guards.set(host, result.guard);
    return result;
  }

  /** Takes `count` tokens from the guard's bucket in this process (0: only brings the bucket up to date). */
  private takeToken(guard: IntegrationGuard, count = 1): TakeResult {
    const { ratePerSecond, burst } = guard.settings;
    if (ratePerSecond === null || burst === null) return { allowed: true };
    const key = `${guard.tenantId}\n${guard.host}`;
    let entry = this.buckets.get(key);
    if (!entry || entry.ratePerSecond !== ratePerSecond || entry.burst !== burst) {
      entry = { bucket: new TokenBucket({ ratePerSecond, burst, clock: this.clock }), ratePerSecond, burst, drainedUntil: 0 };
      this.buckets.set(key, entry);
    }
    // Whichever process heard the Retry-After, every bucket refills from its end, not from full.
    const held = guard.breaker.heldUntil;
    if (held !== null && held > entry.drainedUntil) {
      entry.bucket.drainUntil(held);
      entry.drainedUntil = held;
    }
    return count === 0 ? { allowed: true } : entry.bucket.take(count);
  }

  private async guards(tenantId: string): Promise<TenantGuards> {
    const cached = this.tenants.get(tenantId);
    if (cached && this.clock() - cached.at < this.cacheMs) return cached;
    let loading = this.loading.get(tenantId);
    if (!loading) {
      loading = this.load(tenantId).finally(() => this.loading.delete(tenantId));
      this.loading.set(tenantId, loading);
    }
    return loading;
  }

  private async load(tenantId: string): Promise<TenantGuards> {
    const list = await this.db.tx({ tenantId }, (q) => readGuards(q, tenantId));
    const loaded: TenantGuards = { at: this.clock(), guards: new Map(list.map((g) => [g.host, g])) };
    this.tenants.set(tenantId, loaded);
    for (const key of this.buckets.keys()) {
      const [tenant, host] = key.split('\n');
      if (tenant === tenantId && !loaded.guards.has(host!)) this.buckets.delete(key);
    }
    return loaded;
  }
}

function refused(code: GuardRefusalCode, retryAfterMs: number, message: string, now: number): Decision {
  return { kind: 'refused', code, retryAfterMs, until: now + retryAfterMs, message };
}

/**
 * One step attempt's view of the gate: hands out permits for its requests, takes each
 * permit's result once, and keeps the latest wait a refusal or a throttling host imposed.
 * Only the permits it issued are accepted, so whatever runs in the sandbox can report
 * results only for requests the gate admitted.
 */
export class AttemptGuard {
  private readonly permits = new Map<string, { host: string; trial: boolean }>();
  private held: HeldBack | null = null;
  private issued = 0;

  constructor(
    private readonly gate: IntegrationGuardGate,
    private readonly tenantId: string,
  ) {}

  get heldBack(): HeldBack | null {
    return this.held;
  }

  async admit(host: string): Promise<Admission> {
    const { decision, heldBack } = await this.gate.admit(this.tenantId, host);
    if (heldBack) this.hold(heldBack);
    if (decision.kind === 'refused')
      return { ok: false, code: decision.code, retryAfterMs: decision.retryAfterMs, message: decision.message };
    if (decision.kind === 'unguarded') return { ok: true, permit: null };
    const permit = `p${++this.issued}`;
    this.permits.set(permit, { host, trial: decision.trial });
    return { ok: true, permit };
  }

  async report(permit: string, result: HopResult): Promise<void> {
    const issued = this.permits.get(permit);
    if (!issued) return;
    this.permits.delete(permit);
    const held = await this.gate.record(this.tenantId, issued.host, issued.trial, result);
    if (held) this.hold(held);
  }

  private hold(held: HeldBack): void {
    if (!this.held || held.until > this.held.until) this.held = held;
  }
}
