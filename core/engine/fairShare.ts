/**
 * Fair scheduling across tenants through graphile-worker's job priority (lower runs
 * first; equal priorities run oldest first).
 *
 * Each tenant's step jobs get a priority from how many step jobs that tenant queued
 * recently: a tenant within its burst gets 0; a tenant flooding the queue gets higher
 * numbers the harder it floods (one more per doubling). A quiet tenant's steps therefore
 * go ahead of a flood's backlog instead of behind it, while jobs of equal priority stay
 * first-in first-out, so a flood's own steps keep their order. It costs no query: the
 * estimate is kept per process (a flood spread over several API processes still floods
 * each of them), and a priority is only ever a hint to the queue, never a refusal.
 *
 * Tenants within a few bursts also get the interactive lane (INTERACTIVE_MAX_PRIORITY).
 *
 * A flood's tail can wait while quieter tenants keep every worker busy; that is the
 * point, and admission control (OVERLOADED) keeps such saturation from lasting.
 *
 * Priorities order the queue; they do not keep it short. A flood's jobs beyond
 * `maxReadySteps` per tenant wait in the tenant's backlog in the database instead
 * (0013_step_backlog.sql), because every fetch that has to skip them (a tenant at its
 * running cap, the interactive lane) would otherwise read all of them.
 */
import type { JobScheduler } from '../runs/store.js';
import { INTERACTIVE_STEP_TASK, STEP_TASK } from '../runs/transition.js';

export interface FairShareOptions {
  /** Step jobs a tenant may queue within one window at the top priority. */
  burst: number;
  /** Length of the window over which a tenant's queued jobs are counted. */
  windowMs: number;
  /** Most ready jobs of one tenant in the shared queue, the rest in its backlog (JobScheduler.maxReadySteps); 0: no backlog. */
  maxReadySteps: number;
}

/** The job flag naming a step job's tenant, so a worker can skip the jobs of tenants at their cap. */
export const tenantFlag = (tenantId: string): string => `t:${tenantId}`;

/**
 * Per-process cap on a tenant's running step jobs. While a tenant is at its cap, this
 * process's workers fetch other tenants' jobs only (graphile-worker's forbidden flags), so
 * a flood cannot occupy every worker, nor load the machine so that others' steps crawl.
 */
export class RunningStepCaps {
  private readonly running = new Map<string, number>();
  private atCap: string[] | null = null;

  constructor(private readonly cap: number) {}

  enter(tenantId: string): void {
    const n = (this.running.get(tenantId) ?? 0) + 1;
    this.running.set(tenantId, n);
    if (n === this.cap) this.atCap = null;
  }

  leave(tenantId: string): void {
    const n = (this.running.get(tenantId) ?? 1) - 1;
    if (n <= 0) this.running.delete(tenantId);
    else this.running.set(tenantId, n);
    if (n === this.cap - 1) this.atCap = null;
  }

  /** graphile-worker's forbiddenFlags: null (the fast, batched fetch) unless a tenant is at its cap. */
  forbiddenFlags(): string[] | null {
    if (this.atCap === null) {
      const flags: string[] = [];
      for (const [tenant, n] of this.running) if (n >= this.cap) flags.push(tenantFlag(tenant));
      this.atCap = flags;
    }
    return this.atCap.length > 0 ? this.atCap : null;
  }
}

export const DEFAULT_FAIR_SHARE: FairShareOptions = { burst: 64, windowMs: 10_000, maxReadySteps: 512 };

const MAX_PRIORITY = 20;

/**
 * Steps of tenants queueing fewer than four bursts per window go to the interactive lane:
 * a second set of workers per process that fetch straight from the queue (no local
 * batch), so such a step starts as soon as it is committed instead of waiting for the
 * bulk workers to work through the batch they already hold.
 */
const INTERACTIVE_MAX_PRIORITY = 2;

interface Window {
  start: number;
  current: number;
  previous: number;
}

export class FairShare implements JobScheduler {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly options: FairShareOptions = DEFAULT_FAIR_SHARE,
    private readonly now: () => number = Date.now,
  ) {}

  get maxReadySteps(): number {
    return this.options.maxReadySteps;
  }

  stepJob(tenantId: string): { identifier: string; priority: number; flags: string[] } {
    const priority = this.stepPriority(tenantId);
    return {
      identifier: priority <= INTERACTIVE_MAX_PRIORITY ? INTERACTIVE_STEP_TASK : STEP_TASK,
      priority,
      flags: [tenantFlag(tenantId)],
    };
  }

  stepPriority(tenantId: string): number {
    const at = this.now();
    const window = this.roll(tenantId, at);
    // Sliding-window estimate: the previous window's count, weighted by how much of it is still within reach.
    const recent = window.previous * Math.max(0, 1 - (at - window.start) / this.options.windowMs) + window.current;
    window.current += 1;
    if (recent < this.options.burst) return 0;
    return Math.min(MAX_PRIORITY, 1 + Math.floor(Math.log2(recent / this.options.burst)));
  }

  private roll(tenantId: string, at: number): Window {
    let window = this.windows.get(tenantId);
    if (!window) {
      if (this.windows.size > 100_000) this.prune(at);
      window = { start: at, current: 0, previous: 0 };
      this.windows.set(tenantId, window);
      return window;
    }
    const elapsed = at - window.start;
    if (elapsed >= 2 * this.options.windowMs) {
      window.previous = 0;
      window.current = 0;
      window.start = at;
    } else if (elapsed >= this.options.windowMs) {
      window.previous = window.current;
      window.current = 0;
      window.start += this.options.windowMs;
    }
    return window;
  }

  /** Forgets tenants idle for two windows, so the map stays bounded. */
  private prune(at: number): void {
    for (const [tenant, window] of this.windows) {
      if (at - window.start >= 2 * this.options.windowMs) this.windows.delete(tenant);
    }
  }
}
