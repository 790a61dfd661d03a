import os from 'node:os';
import { EventEmitter } from 'node:events';
import pg from 'pg';
import {
  run as runGraphileWorker,
  Logger as GraphileLogger,
  type Runner,
  type Task,
  type TaskList,
  type WorkerEvents,
} from 'graphile-worker';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { newId } from '../ids.js';
import type { WorkflowService } from '../workflows/workflows.js';
import { RUN_INTERRUPT_CHANNEL } from '../runs/store.js';
import { COMPENSATION_TASK, INTERACTIVE_STEP_TASK, RUN_TIMEOUT_TASK, STEP_TASK, TIMER_TASK } from '../runs/transition.js';
import type { Notifier } from './notifier.js';
import type { StepExecutor } from './executor.js';
import { RunChangeBatcher } from './runChangeBatcher.js';
import { DEFAULT_GROUP_COMMIT } from '../db/groupCommit.js';
import { SandboxCpuGate } from '../quotas/quotas.js';
import type { JobScheduler } from '../runs/store.js';
import { RunningStepCaps } from './fairShare.js';
import { NO_TELEMETRY, type Telemetry } from '../telemetry.js';
import { parsePayload, runCompensationJob, runStepJob, runTimerJob, runTimeoutJob, type StepTaskDeps } from './stepTasks.js';

export interface EngineOptions {
  connectionString: string;
  /** Orders step jobs across tenants (shared with the API's run starts in this process). */
  scheduler: JobScheduler;
  /** Most step jobs of one tenant this process runs at once. */
  tenantMaxRunningSteps: number;
  concurrency: number;
  batchSize: number;
  pollIntervalMs: number;
  shutdownGraceMs: number;
  sweepIntervalMs: number;
  maxStepOutputBytes: number;
  telemetry?: Telemetry;
}

// How often the engine moves stranded backlogs into the queue (see dispatchBacklogs).
const BACKLOG_PUMP_MS = 1000;

// Namespace of the session advisory locks that say "this engine node is alive".
const LIVENESS_LOCK_NAMESPACE = 0x5357;

/**
 * The worker side of the engine: a graphile-worker runner executing step jobs, a
 * liveness lock other nodes can observe, and a sweeper that releases the jobs of dead
 * nodes and times out runs past their deadline.
 */
export class Engine {
  private runner: Runner | null = null;
  private interactiveRunner: Runner | null = null;
  private livenessClient: pg.Client | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private backlogTimer: NodeJS.Timeout | null = null;
  private unlisten: (() => void) | null = null;
  readonly nodeId = newId();
  private readonly inflight = new Map<string, AbortController>();
  private readonly deps: StepTaskDeps;
  private readonly caps: RunningStepCaps;

  constructor(
    private readonly db: Database,
    workflows: WorkflowService,
    executor: StepExecutor,
    private readonly notifier: Notifier,
    private readonly logger: Logger,
    private readonly options: EngineOptions,
  ) {
    const telemetry = options.telemetry ?? NO_TELEMETRY;
    const batcher = new RunChangeBatcher(db, workflows, logger, DEFAULT_GROUP_COMMIT, options.scheduler, telemetry);
    this.caps = new RunningStepCaps(options.tenantMaxRunningSteps);
    this.deps = {
      batcher,
      executor,
      logger,
      maxStepOutputBytes: options.maxStepOutputBytes,
      inflight: this.inflight,
      cpuGate: new SandboxCpuGate(db),
      telemetry,
    };
  }

  get running(): boolean {
    return this.runner !== null;
  }

  async start(role: string): Promise<void> {
    await this.registerNode(role);
    this.unlisten = await this.notifier.listen(RUN_INTERRUPT_CHANNEL, (payload) => {
      const [runId, steps] = payload.split(':');
      for (const stepId of (steps ?? '').split(',')) this.inflight.get(`${runId}:${stepId}`)?.abort(new Error('run interrupted'));
    });
    const events: WorkerEvents = new EventEmitter() as WorkerEvents;
    // Register every worker id before it can lock a job, so the sweeper can tell live locks from dead ones.
    events.on('pool:create', ({ workerPool }) => void this.registerWorker(workerPool.id));
    events.on('worker:create', ({ worker }) => void this.registerWorker(worker.workerId));
    // Step and compensation attempts count toward the tenant's running-step cap alike.
    const capped =
      (run: typeof runStepJob): Task =>
      async (payload, helpers) => {
        const job = parsePayload(payload);
        this.caps.enter(job.t);
        try {
          await run(this.deps, job, helpers.abortSignal ?? new AbortController().signal);
        } finally {
          this.caps.leave(job.t);
        }
      };
    const stepTask = capped(runStepJob);
    const taskList: TaskList = {
      [STEP_TASK]: stepTask,
      [INTERACTIVE_STEP_TASK]: stepTask,
      [TIMER_TASK]: (payload) => runTimerJob(this.deps, parsePayload(payload)),
      [COMPENSATION_TASK]: capped(runCompensationJob),
      [RUN_TIMEOUT_TASK]: (payload) => runTimeoutJob(this.deps, payload as { t: string; r: string }),
    };
    this.runner = await runGraphileWorker({
      pgPool: this.db.pool,
      taskList,
      concurrency: this.options.concurrency,
      pollInterval: this.options.pollIntervalMs,
      noHandleSignals: true,
      // Schedules are Switchyard's own (core/triggers); graphile-worker's crontab is not used.
      parsedCronItems: [],
      forbiddenFlags: () => this.caps.forbiddenFlags(),
      events,
      logger: graphileLogger(this.logger),
      preset: {
        worker: {
          gracefulShutdownAbortTimeout: this.options.shutdownGraceMs,
          ...(this.options.batchSize > 1
            ? { localQueue: { size: this.options.batchSize }, completeJobBatchDelay: 0, failJobBatchDelay: 0 }
            : {}),
        },
      },
    });
    // The interactive lane: a few workers without a local batch, for steps of tenants that are not flooding (fairShare.ts).
    this.interactiveRunner = await runGraphileWorker({
      pgPool: this.db.pool,
      taskList: { [INTERACTIVE_STEP_TASK]: stepTask },
      concurrency: Math.max(2, Math.ceil(this.options.concurrency / 4)),
      pollInterval: this.options.pollIntervalMs,
      noHandleSignals: true,
      // Schedules are Switchyard's own (core/triggers); graphile-worker's crontab is not used.
      parsedCronItems: [],
      forbiddenFlags: () => this.caps.forbiddenFlags(),
      events,
      logger: graphileLogger(this.logger),
      preset: { worker: { gracefulShutdownAbortTimeout: this.options.shutdownGraceMs } },
    });
    this.sweepTimer = setInterval(
      () => void this.sweep().catch((error) => this.logger.warn({ err: error }, 'engine sweep failed')),
      this.options.sweepIntervalMs,
    );
    this.sweepTimer.unref();
    void this.sweep().catch(() => undefined);
    if (this.options.scheduler.maxReadySteps > 0) {
      this.backlogTimer = setInterval(
        () => void this.dispatchBacklogs().catch((error) => this.logger.warn({ err: error }, 'step backlog dispatch failed')),
        BACKLOG_PUMP_MS,
      );
      this.backlogTimer.unref();
    }
  }

  /**
   * Gives tenants with a backlog the places they have free in the queue. Each tenant's own
   * transactions do this as its jobs finish; the pump catches a backlog written while the
   * tenant's last ready job finished in another transaction, which neither could see.
   */
  async dispatchBacklogs(): Promise<number> {
    const { rows } = await this.db.query<{ moved: number }>('system', 'select dispatch_step_backlogs($1) as moved', [
      this.options.scheduler.maxReadySteps,
    ]);
    return rows[0]!.moved;
  }

  /** Stops claiming jobs, lets running steps finish within the grace period, releases the rest. */
  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.backlogTimer) clearInterval(this.backlogTimer);
    this.sweepTimer = null;
    this.backlogTimer = null;
    const runners = [this.runner, this.interactiveRunner];
    this.runner = null;
    this.interactiveRunner = null;
    await Promise.all(runners.map((runner) => runner?.stop()));
    this.unlisten?.();
    await this.db.query('system', 'delete from engine_nodes where id = $1', [this.nodeId]).catch(() => undefined);
    await this.livenessClient?.end().catch(() => undefined);
    this.livenessClient = null;
  }

  private async registerNode(role: string): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.connectionString, application_name: 'switchyard-liveness' });
    client.on('error', (error) =>
      this.logger.error({ err: error }, "engine liveness connection lost; other nodes will release this node's steps"),
    );
    await client.connect();
    const { rows } = await client.query<{ lock_key: number }>(
      'insert into engine_nodes (id, hostname, pid, role) values ($1, $2, $3, $4) returning lock_key',
      [this.nodeId, os.hostname(), process.pid, role],
    );
    await client.query('select pg_advisory_lock($1, $2)', [LIVENESS_LOCK_NAMESPACE, rows[0]!.lock_key]);
    this.livenessClient = client;
  }

  private async registerWorker(workerId: string): Promise<void> {
    await this.db
      .query('system', 'insert into engine_node_workers (worker_id, node_id) values ($1, $2) on conflict do nothing', [
        workerId,
        this.nodeId,
      ])
      .catch((error) => this.logger.error({ err: error }, 'could not register worker id'));
  }

  /**
   * Runs on every worker node; a transaction-level advisory lock lets one do the work per tick.
   * A node is dead when its session no longer holds its liveness lock (PostgreSQL
   * releases it the moment the connection goes), which needs no heartbeat timeout.
   */
  async sweep(): Promise<{ releasedWorkers: number; timedOutRuns: number }> {
    return this.db.tx('system', async (q) => {
      const { rows: leader } = await q.query<{ ok: boolean }>('select pg_try_advisory_xact_lock($1, 0) as ok', [LIVENESS_LOCK_NAMESPACE]);
      if (!leader[0]?.ok) return { releasedWorkers: 0, timedOutRuns: 0 };
      // pg_locks spans every database on the server: match this database, or another install's live node would mask a dead one here.
      const alive = `exists (select 1 from pg_locks l where l.locktype = 'advisory' and l.classid = ${LIVENESS_LOCK_NAMESPACE}
                       and l.objid = n.lock_key and l.objsubid = 2 and l.granted
                       and l.database = (select oid from pg_database where datname = current_database()))`;
      const { rows: dead } = await q.query<{ locked_by: string }>(
        `select distinct j.locked_by from graphile_worker._private_jobs j
          where j.locked_by is not null and j.locked_at < now() - interval '2 seconds'
            and not exists (select 1 from engine_node_workers w join engine_nodes n on n.id = w.node_id
                             where w.worker_id = j.locked_by and ${alive})`,
      );
      if (dead.length > 0) {
        await q.query('select graphile_worker.force_unlock_workers($1::text[])', [dead.map((d) => d.locked_by)]);
        this.logger.warn({ workers: dead.map((d) => d.locked_by) }, 'released steps claimed by dead worker processes');
      }
      await q.query(`delete from engine_nodes n where not ${alive} and n.started_at < now() - interval '10 seconds'`);
      const { rowCount } = await q.query(
        `select graphile_worker.add_jobs(array(
           select row('${RUN_TIMEOUT_TASK}', json_build_object('t', tenant_id, 'r', id), null, null, 25, 't:' || id, null, null)::graphile_worker.job_spec
             from overdue_runs(500)))`,
      );
      return { releasedWorkers: dead.length, timedOutRuns: rowCount ?? 0 };
    });
  }
}

/**
 * graphile-worker warns when its pool has fewer connections than it runs jobs at once. Here
 * that is by design: a step job spends its time in the sandbox or waiting for its group
 * commit, holding no connection, and the local queue fetches and completes jobs in
 * batches. The warning would greet every operator at every start, so it is kept at debug.
 */
const POOL_SMALLER_THAN_CONCURRENCY = /^WARNING: having maxPoolSize \(\d+\) smaller than concurrency/;

function graphileLogger(logger: Logger): GraphileLogger {
  const child = logger.child({ component: 'graphile-worker' });
  return new GraphileLogger((scope) => (level, message, meta) => {
    const fields = { jobId: scope.jobId, task: scope.taskIdentifier, workerId: scope.workerId, ...(meta ?? {}) };
    if (level === 'warning' && POOL_SMALLER_THAN_CONCURRENCY.test(message)) child.debug(fields, message);
    else if (level === 'error') child.error(fields, message);
    else if (level === 'warning') child.warn(fields, message);
    else if (level === 'info') child.info(fields, message);
    else child.debug(fields, message);
  });
}
