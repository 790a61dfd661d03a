import type { Database, Queryable } from '../db/database.js';
import { GroupCommit, type GroupCommitOptions, type Settled } from '../db/groupCommit.js';
import type { Logger } from '../logger.js';
import type { WorkflowService } from '../workflows/workflows.js';
import { loadRunsForUpdate, persistTransitions, type JobScheduler } from '../runs/store.js';
import { RunTransition } from '../runs/transition.js';
import { recordSandboxCpu } from '../quotas/quotas.js';
import type { StepUsage } from './executor.js';
import { finishedRun, NO_TELEMETRY, reportRunFinished, type Telemetry } from '../telemetry.js';
import type { FinishedRun } from '../tracing.js';

/**
 * A change to one run, applied to its state loaded under the run's row lock. It gets
 * `null` when the run does not exist (or is not visible to the tenant). It must be
 * synchronous and depend only on the transition, because a batch that fails is replayed
 * change by change.
 */
export type RunChange<T> = (tr: RunTransition | null) => T;

/** Whether the job asking for a change finishes with it, given what the change returned. */
export type EndsJob<T> = (value: T) => boolean;

interface ChangeRequest {
  runId: string;
  change: RunChange<unknown>;
  usage: StepUsage | undefined;
  endsJob: EndsJob<unknown>;
}

/**
 * The engine's run changes (step claims, results, timers, timeouts) in group commits:
 * changes asked for at about the same time for runs of one tenant cost one lock-and-load
 * of all their runs, one write of all their transitions and one commit.
 */
export class RunChangeBatcher {
  private readonly group: GroupCommit<ChangeRequest, unknown>;

  constructor(
    db: Database,
    private readonly workflows: WorkflowService,
    logger: Logger,
    options: GroupCommitOptions,
    private readonly scheduler: JobScheduler | null = null,
    private readonly telemetry: Telemetry = NO_TELEMETRY,
  ) {
    this.group = new GroupCommit(db, logger, 'run changes', (q, requests) => this.applyBatch(q, requests), options);
  }

  /**
   * Applies `change` to run `runId` of `tenantId` and commits it; resolves with what
   * `change` returned. `usage` (what a step attempt consumed) is added to the tenant's
   * counters in the same commit, whether or not the change still wants the result.
   * `endsJob` says whether the queue job asking is done once this commits, so that its
   * place in the queue can go to the tenant's next job in the same commit.
   */
  async apply<T>(tenantId: string, runId: string, change: RunChange<T>, endsJob: EndsJob<T>, usage?: StepUsage): Promise<T> {
    // The change that turns the run terminal says so; it is reported once its commit is done.
    let finished: FinishedRun | null = null;
    const observed: RunChange<T> = (tr) => {
      const before = tr?.run.status;
      const value = change(tr);
      finished = finishedRun(tr, before);
      return value;
    };
    const value = (await this.group.submit(tenantId, { runId, change: observed, usage, endsJob: endsJob as EndsJob<unknown> })) as T;
    const done = finished as FinishedRun | null;
    if (done) reportRunFinished(this.telemetry, done);
    return value;
  }

  private async applyBatch(q: Queryable, requests: readonly ChangeRequest[]): Promise<Settled<unknown>[]> {
    const runs = await loadRunsForUpdate(
      q,
      requests.map((r) => r.runId),
    );
    const transitions = new Map<string, RunTransition>();
    for (const run of runs.values()) {
      const { definition, resolvedActions } = await this.workflows.versionById(q, run.workflowVersionId);
      transitions.set(run.id, new RunTransition(run, definition, new Date(), resolvedActions));
    }
    // Several changes to one run (parallel branches finishing together) apply in order to
    // one transition. A change that throws may have half-applied it, so it throws the batch
    // away (GroupCommit then retries each change alone).
    const values = requests.map((request) => request.change(transitions.get(request.runId) ?? null));
    const endedJobs = requests.filter((request, i) => request.endsJob(values[i])).length;
    await persistTransitions(q, [...transitions.values()], this.scheduler, endedJobs);
    await recordSandboxCpu(
      q,
      requests.reduce((sum, r) => sum + (r.usage?.sandboxCpuMs ?? 0), 0),
    );
    return values.map((value) => ({ ok: true, value }));
  }
}
