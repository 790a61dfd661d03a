import { run as runGraphileWorker } from 'graphile-worker';
import { silentGraphileLogger } from '../core/db/migrate.js';
import { counterDelta, databaseName, quietPool, type BenchServer, type DbCounters, type StatementStat } from './db.js';
import { EventClock, startBenchAppliance, startRunsOverHttp, type BenchAppliance, type WorkerOptions } from './fixture.js';
import { boundedParallel, CpuSampler, sleep, summarize, waitUntil, type CpuShares, type Percentiles } from './stats.js';

export interface ThroughputResult {
  /** Units finished (jobs, or runs) and how many were asked for. */
  done: number;
  asked: number;
  completed: boolean;
  seconds: number;
  perSecond: number;
  /** Steps (jobs) per second; equals perSecond for the raw baseline. */
  stepsPerSecond: number;
  /** How fast the load generator got its starts accepted (engine scenarios). */
  startsPerSecond: number | null;
  db: DbCounters;
  cpu: CpuShares | null;
  /** pg_stat_statements over the measured phase, when available. */
  statements: { top: StatementStat[]; calls: number; totalMs: number } | null;
}

export interface LatencyResult {
  /** Client-observed: from the call to startRun (or its scheduled time) to the SUCCEEDED commit notification. */
  client: Percentiles;
  /** From the database: runs.finished_at - runs.created_at (both set by the engine's clock). */
  recorded: Percentiles;
  asked: number;
  succeeded: number;
  /** Starts that threw (open loop only: e.g. no pool connection within its timeout), and the first error. */
  failedStarts: number;
  firstError: string | null;
  offeredPerSecond: number | null;
  achievedStartsPerSecond: number | null;
  cpu: CpuShares | null;
}

const ACTIVE = `select exists(select 1 from runs where status in ('QUEUED', 'RUNNING', 'WAITING')) as busy`;

/** graphile-worker alone: a noop task, the engine's worker options, `jobs` jobs queued in one statement. */
export async function rawWorker(server: BenchServer, options: WorkerOptions, jobs: number, timeoutMs: number): Promise<ThroughputResult> {
  const url = await server.freshDatabase('raw');
  const pool = quietPool(url, options.poolSize);
  try {
    // The same runner options the engine passes (core/engine/engine.ts).
    const runner = await runGraphileWorker({
      pgPool: pool,
      taskList: { noop: async () => undefined },
      concurrency: options.concurrency,
      pollInterval: options.pollIntervalMs,
      noHandleSignals: true,
      logger: silentGraphileLogger,
      preset: {
        worker: options.batchSize > 1 ? { localQueue: { size: options.batchSize }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } : {},
      },
    });
    try {
      const before = await server.counters();
      await server.resetStatements();
      const cpu = new CpuSampler(server.postmasterPid());
      const t0 = performance.now();
      await pool.query(
        `select graphile_worker.add_jobs(array(
           select row('noop', '{}'::json, null, null, null, null, null, null)::graphile_worker.job_spec from generate_series(1, $1::int)))`,
        [jobs],
      );
      const completed = await waitUntil(async () => {
        const { rows } = await pool.query<{ any: boolean }>('select exists(select 1 from graphile_worker._private_jobs) as any');
        return !rows[0]!.any;
      }, timeoutMs);
      const seconds = (performance.now() - t0) / 1000;
      const usage = cpu.finish();
      const { rows } = await pool.query<{ left: number }>('select count(*)::int as left from graphile_worker._private_jobs');
      const done = jobs - rows[0]!.left;
      const statements = await server.statements(databaseName(url));
      const db = counterDelta(before, await server.counters());
      return {
        done,
        asked: jobs,
        completed,
        seconds,
        perSecond: done / seconds,
        stepsPerSecond: done / seconds,
        startsPerSecond: null,
        db,
        cpu: usage,
        statements,
      };
    } finally {
      await runner.stop();
    }
  } finally {
    await pool.end();
  }
}

/** Starts `count` runs with `inflight` starts in flight. */
type Starter = (bench: BenchAppliance, count: number, inflight: number) => Promise<void>;

export const startRunViaService = async (bench: BenchAppliance, i: number): Promise<string> =>
  (await bench.appliance.services.runs.startRun(bench.ctx, { workflowId: bench.workflowId, input: { i } })).id;
const viaService: Starter = (bench, count, inflight) => boundedParallel(count, inflight, (i) => startRunViaService(bench, i));
const viaHttp: Starter = (bench, count, inflight) => startRunsOverHttp(bench, count, inflight);

/** Waits until the tenant has no run left QUEUED, RUNNING or WAITING; false after `timeoutMs`. */
export async function settle(bench: BenchAppliance, timeoutMs: number): Promise<boolean> {
  const { db } = bench.appliance.services;
  return waitUntil(async () => !(await db.query<{ busy: boolean }>({ tenantId: bench.tenantId }, ACTIVE)).rows[0]!.busy, timeoutMs);
}

/**
 * `runs` runs of a `steps`-step noop workflow, started with `inflight` concurrent calls through
 * the service layer or HTTP GraphQL; timed from the first start until the last run has settled.
 */
export async function engineThroughput(
  server: BenchServer,
  via: 'service' | 'http',
  runs: number,
  steps: number,
  inflight: number,
  timeoutMs: number,
): Promise<ThroughputResult> {
  const url = await server.freshDatabase(via);
  const bench = await startBenchAppliance(url, steps);
  const start = via === 'service' ? viaService : viaHttp;
  try {
    // Warm-up (JIT, connection pool, plan and definition caches); not counted.
    const warm = Math.min(100, runs);
    await start(bench, warm, inflight);
    if (!(await settle(bench, timeoutMs))) throw new Error('warm-up runs did not finish');
    const warmDone = await bench.succeeded();

    const before = await server.counters();
    await server.resetStatements();
    const cpu = new CpuSampler(server.postmasterPid());
    const t0 = performance.now();
    await start(bench, runs, inflight);
    const startsSeconds = (performance.now() - t0) / 1000;
    const completed = await settle(bench, timeoutMs);
    const seconds = (performance.now() - t0) / 1000;
    const usage = cpu.finish();
    const statements = await server.statements(databaseName(url));
    const done = (await bench.succeeded()) - warmDone;
    const db = counterDelta(before, await server.counters());
    return {
      done,
      asked: runs,
      completed: completed && done === runs,
      seconds,
      perSecond: done / seconds,
      stepsPerSecond: (done * steps) / seconds,
      startsPerSecond: runs / startsSeconds,
      db,
      cpu: usage,
      statements,
    };
  } finally {
    await bench.stop();
  }
}

export type LatencyLoad = { kind: 'sequential'; runs: number } | { kind: 'rate'; perSecond: number; seconds: number };

/** startRun → SUCCEEDED latency of a three-step linear noop workflow, one run at a time or at a fixed offered rate. */
export async function runLatency(server: BenchServer, load: LatencyLoad, steps: number, timeoutMs: number): Promise<LatencyResult> {
  const url = await server.freshDatabase(load.kind);
  const bench = await startBenchAppliance(url, steps);
  const clock = await EventClock.listen(url);
  const { db } = bench.appliance.services;
  try {
    // Warm-up, and the run version (= last event seq) a successful run of this workflow ends at.
    let finalSeq = 0;
    for (let i = 0; i < 20; i++) {
      const id = await startRunViaService(bench, i);
      const ok = await waitUntil(
        async () => {
          const { rows } = await db.query<{ status: string; version: number }>(
            { tenantId: bench.tenantId },
            'select status, version from runs where id = $1',
            [id],
          );
          finalSeq = rows[0]!.version;
          return rows[0]!.status === 'SUCCEEDED';
        },
        10_000,
        5,
      );
      if (!ok) throw new Error('warm-up run did not succeed');
    }

    const ids: string[] = [];
    const started: number[] = [];
    let failedStarts = 0;
    let firstError: string | null = null;
    let offeredPerSecond: number | null = null;
    let achievedStartsPerSecond: number | null = null;
    const cpu = new CpuSampler(server.postmasterPid());
    if (load.kind === 'sequential') {
      for (let i = 0; i < load.runs; i++) {
        started[i] = performance.now();
        ids[i] = await startRunViaService(bench, i);
        if ((await clock.waitFor(`${ids[i]}:${finalSeq}`, timeoutMs)) === null) break;
      }
    } else {
      // Open loop: starts are fired on schedule whether or not earlier runs have finished.
      const total = Math.round(load.perSecond * load.seconds);
      const interval = 1000 / load.perSecond;
      const pending: Promise<void>[] = [];
      const t0 = performance.now();
      let i = 0;
      while (i < total) {
        const now = performance.now();
        for (; i < total && t0 + i * interval <= now; i++) {
          const k = i;
          started[k] = t0 + k * interval;
          pending.push(
            startRunViaService(bench, k).then(
              (id) => {
                ids[k] = id;
              },
              (error: Error) => {
                failedStarts++;
                firstError ??= error.message;
              },
            ),
          );
        }
        await sleep(1);
      }
      await Promise.all(pending);
      offeredPerSecond = total / load.seconds;
      achievedStartsPerSecond = total / ((performance.now() - t0) / 1000);
      await Promise.all(ids.filter(Boolean).map((id) => clock.waitFor(`${id}:${finalSeq}`, timeoutMs)));
    }
    const usage = cpu.finish();

    const client: number[] = [];
    ids.forEach((id, k) => {
      const arrived = clock.arrivals.get(`${id}:${finalSeq}`);
      if (arrived !== undefined) client.push(arrived - started[k]!);
    });
    const { rows } = await db.query<{ ms: number }>(
      { tenantId: bench.tenantId },
      `select extract(epoch from finished_at - created_at) * 1000 as ms from runs where id = any($1::uuid[]) and status = 'SUCCEEDED'`,
      [ids.filter(Boolean)],
    );
    return {
      client: summarize(client),
      recorded: summarize(rows.map((r) => Number(r.ms))),
      asked: load.kind === 'sequential' ? load.runs : started.length,
      succeeded: rows.length,
      failedStarts,
      firstError,
      offeredPerSecond,
      achievedStartsPerSecond,
      cpu: usage,
    };
  } finally {
    await clock.close();
    await bench.stop();
  }
}
