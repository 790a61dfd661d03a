import type { Database } from '../db/database.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AdmissionGate } from '../runs/runs.js';

export interface AdmissionOptions {
  /** Steps waiting for a worker (queue and backlogs) above which new runs are refused; 0 turns the check off. */
  maxQueueDepth: number;
  /** Database round trip (pool wait included) above which new runs are refused; 0 turns the check off. */
  maxDbLatencyMs: number;
  /** How often the queue and the database are sampled. */
  sampleIntervalMs: number;
}

const QUEUE_RETRY_AFTER_SECONDS = 5;

interface Sample {
  queueDepth: number;
  dbLatencyMs: number;
  at: number;
}

/**
 * Load shedding for new work: rather than queueing without bound, `startRun` is refused
 * with OVERLOADED and a retryAfterSeconds while the queue of ready steps or the database's
 * latency is past its threshold. Refusing at the door keeps runs already admitted
 * moving; clients that honour Retry-After come back when there is room.
 *
 * The decision reads the latest sample, taken in the background, so a start costs no
 * query. Counting stops at the threshold, so sampling costs the same however deep the
 * queue grows.
 */
export class AdmissionControl implements AdmissionGate {
  private sample: Sample | null = null;
  private timer: NodeJS.Timeout | null = null;
  private probing: Promise<void> | null = null;

  constructor(
    private readonly db: Database,
    private readonly options: AdmissionOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.timer || (this.options.maxQueueDepth === 0 && this.options.maxDbLatencyMs === 0)) return;
    this.timer = setInterval(() => void this.probe(), this.options.sampleIntervalMs);
    this.timer.unref();
    void this.probe();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.probing;
  }

  /** Throws OVERLOADED while the latest sample is past a threshold. */
  admit(): void {
    const refusal = this.refusal();
    if (refusal) throw refusal;
  }

  /** The OVERLOADED error new work would get now, or null. */
  refusal(): AppError | null {
    const s = this.sample;
    if (!s) return null;
    const { maxQueueDepth, maxDbLatencyMs } = this.options;
    if (maxQueueDepth > 0 && s.queueDepth > maxQueueDepth) {
      // The count stops at the threshold (see measure), so there is no depth to derive a drain time from.
      const retryAfterSeconds = QUEUE_RETRY_AFTER_SECONDS;
      return new AppError(
        'OVERLOADED',
        `the appliance is overloaded: more than ${maxQueueDepth} steps are waiting for a worker; retry in ${retryAfterSeconds} s`,
        {
          details: { retryAfterSeconds, reason: 'QUEUE_DEPTH', limit: maxQueueDepth },
        },
      );
    }
    if (maxDbLatencyMs > 0 && s.dbLatencyMs > maxDbLatencyMs) {
      const retryAfterSeconds = Math.min(30, Math.max(1, Math.ceil(s.dbLatencyMs / 1000)));
      return new AppError(
        'OVERLOADED',
        `the appliance is overloaded: database round trips take ${Math.round(s.dbLatencyMs)} ms (limit ${maxDbLatencyMs} ms); retry in ${retryAfterSeconds} s`,
        {
          details: { retryAfterSeconds, reason: 'DATABASE_LATENCY', limit: maxDbLatencyMs },
        },
      );
    }
    return null;
  }

  private probe(): Promise<void> {
    this.probing ??= this.measure().finally(() => {
      this.probing = null;
    });
    return this.probing;
  }

  private async measure(): Promise<void> {
    const started = performance.now();
    // A sample that cannot finish is itself the measurement: record the wait so far.
    const stuck = setInterval(
      () => {
        const waited = performance.now() - started;
        if (this.options.maxDbLatencyMs > 0 && waited > this.options.maxDbLatencyMs) {
          this.sample = { queueDepth: this.sample?.queueDepth ?? 0, dbLatencyMs: waited, at: Date.now() };
        }
      },
      Math.max(10, Math.floor(this.options.maxDbLatencyMs / 2) || 100),
    );
    try {
      const cap = this.options.maxQueueDepth > 0 ? this.options.maxQueueDepth + 1 : 1;
      // The queue and every tenant's backlog (0013_step_backlog.sql): both are steps waiting for a worker.
      const { rows } = await this.db.query<{ depth: number }>('system', 'select waiting_step_jobs($1) as depth', [cap]);
      const next = { queueDepth: rows[0]!.depth, dbLatencyMs: performance.now() - started, at: Date.now() };
      this.sample = next;
    } catch (error) {
      this.logger.warn({ err: error }, 'admission control could not sample the queue');
    } finally {
      clearInterval(stuck);
    }
  }
}
