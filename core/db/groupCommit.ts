import type { Database, Queryable } from './database.js';
import type { Logger } from '../logger.js';

/** What one request of a batch came to: a value, or an error that is this request's alone. */
export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * Does the work of a batch of requests inside one transaction of one tenant. Returns one
 * outcome per request, in order. Throwing rolls the whole batch back, after which each
 * request is retried alone, so it must have no effects outside the transaction.
 */
export type BatchWork<Q, R> = (q: Queryable, requests: readonly Q[]) => Promise<Settled<R>[]>;

export interface GroupCommitOptions {
  /** Most requests in one transaction. */
  maxBatch: number;
  /** Most transactions in flight per tenant; each holds a pooled connection. */
  maxInflightPerTenant: number;
}

/**
 * The engine's and the API's setting: batches up to 64, and two transactions in flight
 * per tenant, so one commits while the next gathers.
 */
export const DEFAULT_GROUP_COMMIT: GroupCommitOptions = Object.freeze({ maxBatch: 64, maxInflightPerTenant: 2 });

interface Pending<Q, R> {
  request: Q;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

interface TenantQueue<Q, R> {
  pending: Pending<Q, R>[];
  inflight: number;
  scheduled: boolean;
}

/**
 * Group commit: requests of one tenant that arrive at about the same time share one
 * transaction (its round trips, statement plans and WAL flush). A lone request commits
 * at once, so light-load latency is that of a single transaction; under load batches
 * grow by themselves while earlier ones commit.
 *
 * A batch never mixes tenants: every transaction runs in exactly one tenant's context,
 * as row-level security needs. A batch that fails is rolled back and its requests are
 * retried one per transaction, so one bad request cannot fail its neighbours.
 */
export class GroupCommit<Q, R> {
  private readonly queues = new Map<string, TenantQueue<Q, R>>();

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    private readonly name: string,
    private readonly work: BatchWork<Q, R>,
    private readonly options: GroupCommitOptions,
  ) {}

  submit(tenantId: string, request: Q): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let queue = this.queues.get(tenantId);
      if (!queue) {
        queue = { pending: [], inflight: 0, scheduled: false };
        this.queues.set(tenantId, queue);
      }
      queue.pending.push({ request, resolve, reject });
      this.schedule(tenantId, queue);
    });
  }

  // Deferred to the next turn of the event loop, so requests made in the same tick (a
  // fetched batch of jobs handed out at once, a burst of HTTP requests) share a transaction.
  private schedule(tenantId: string, queue: TenantQueue<Q, R>): void {
    if (queue.scheduled) return;
    queue.scheduled = true;
    setImmediate(() => {
      queue.scheduled = false;
      this.pump(tenantId, queue);
    });
  }

  private pump(tenantId: string, queue: TenantQueue<Q, R>): void {
    while (queue.inflight < this.options.maxInflightPerTenant && queue.pending.length > 0) {
      const batch = queue.pending.splice(0, this.options.maxBatch);
      queue.inflight += 1;
      void this.flush(tenantId, batch).finally(() => {
        queue.inflight -= 1;
        if (queue.pending.length > 0) this.pump(tenantId, queue);
        else if (queue.inflight === 0 && this.queues.get(tenantId) === queue) this.queues.delete(tenantId);
      });
    }
  }

  private async flush(tenantId: string, batch: Pending<Q, R>[]): Promise<void> {
    let outcomes: Settled<R>[];
    try {
      outcomes = await this.db.tx({ tenantId }, (q) =>
        this.work(
          q,
          batch.map((p) => p.request),
        ),
      );
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      this.logger.warn(
        { err: error, tenantId, batch: this.name, requests: batch.length },
        'batched transaction failed; retrying its requests one by one',
      );
      await Promise.all(batch.map((pending) => this.flush(tenantId, [pending])));
      return;
    }
    batch.forEach((pending, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    });
  }
}
