/**
 * The audit log's background work in engine processes: signing checkpoints as chains grow,
 * and the retention job, which removes events past their tenant's retention (never under
 * legal hold) and records in the chain what it removed. Several processes may run it at
 * once: checkpoints of one head are unique, and pruning locks the chain head.
 */
import { scopeOf, type Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { recordAudit } from './audit.js';
import { type AuditCheckpointer } from './checkpoints.js';

const PRUNE_BATCH = 10_000;

export interface PruneResult {
  removed: number;
  firstSeq: number | null;
  lastSeq: number | null;
}

/** Removes the oldest events of one chain that are past retention, recording the removal in the same transaction. */
export async function pruneAuditChain(db: Database, tenantId: string | null, batch = PRUNE_BATCH): Promise<PruneResult> {
  const total: PruneResult = { removed: 0, firstSeq: null, lastSeq: null };
  for (;;) {
    const step = await db.tx(scopeOf(tenantId), async (q) => {
      const { rows } = await q.query<{ removed: number; first_seq: number | null; last_seq: number | null; last_hash: string | null }>(
        `select removed, first_seq, last_seq, encode(last_hash, 'hex') as last_hash from prune_audit_events($1)`,
        [batch],
      );
      const r = rows[0]!;
      if (r.removed > 0) {
        await recordAudit(q, null, {
          action: 'audit.retention_pruned',
          targetType: 'audit_log',
          tenantId,
          details: { removed: r.removed, firstSeq: r.first_seq, lastSeq: r.last_seq, lastRemovedHash: r.last_hash },
        });
      }
      return r;
    });
    if (step.removed === 0) return total;
    total.removed += step.removed;
    total.firstSeq ??= step.first_seq;
    total.lastSeq = step.last_seq;
    if (step.removed < batch) return total;
  }
}

export interface AuditMaintenanceOptions {
  /** How often to look for chains due a checkpoint. */
  checkpointPollMs: number;
  /** How often the retention job runs. */
  retentionIntervalMs: number;
}

export class AuditMaintenance {
  private timers: NodeJS.Timeout[] = [];
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly checkpointer: AuditCheckpointer,
    private readonly options: AuditMaintenanceOptions,
    private readonly logger: Logger,
    private readonly removeExpiredExports: () => number = () => 0,
  ) {}

  start(): void {
    const every = (ms: number, fn: () => Promise<unknown>) => {
      const timer = setInterval(() => {
        this.running = this.running.then(fn).catch((error) => this.logger.error({ err: error }, 'audit maintenance failed'));
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.checkpointPollMs, () => this.checkpointer.signDueChains());
    every(this.options.retentionIntervalMs, async () => {
      await this.pruneAll();
      const removed = this.removeExpiredExports();
      if (removed > 0) this.logger.info({ removed }, 'removed expired audit export bundles');
    });
  }

  /** The retention job over every chain. */
  async pruneAll(): Promise<number> {
    const { rows } = await this.db.query<{ id: string }>('system', 'select id from tenants order by id');
    let removed = 0;
    for (const tenantId of [null, ...rows.map((r) => r.id)]) {
      const result = await pruneAuditChain(this.db, tenantId);
      if (result.removed > 0) this.logger.info({ tenantId, ...result }, 'audit retention removed events');
      removed += result.removed;
    }
    return removed;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.running;
  }
}
