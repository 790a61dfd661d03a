/**
 * Fairness: tenant A floods the queue with step jobs; tenant B starts single-step runs
 * during the flood. B's startRun → SUCCEEDED latency is compared with B alone on the same
 * appliance, and with the flood under plain first-in first-out scheduling (the fair
 * share turned off) to show what the fair share buys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { BenchServer } from './db.js';
import { addBenchTenant, EventClock, startBenchAppliance, type BenchAppliance } from './fixture.js';
import { boundedParallel, CpuSampler, sleep, summarize, waitUntil, type CpuShares, type Percentiles } from './stats.js';
import { settle } from './scenarios.js';

export interface FairnessOptions {
  /** Step jobs tenant A enqueues: runs of `floodFanOut` parallel noop steps. */
  floodSteps: number;
  floodFanOut: number;
  /** Single-step runs tenant B starts, one every `quietIntervalMs`. */
  quietRuns: number;
  quietIntervalMs: number;
}

export interface FairnessPhase {
  /** B's startRun → SUCCEEDED, client-observed. */
  quiet: Percentiles;
  /** Where B's time went: the startRun call; run created → its step claimed (queue wait, database clock). */
  startCall: Percentiles;
  queued: Percentiles;
  /** How long A's flood took to drain (null without a flood). */
  floodSeconds: number | null;
  /** A's steps still queued when B's last run finished (null without a flood). */
  floodQueuedAtEnd: number | null;
  cpu: CpuShares | null;
}

export interface FairnessResult {
  options: FairnessOptions;
  unloaded: FairnessPhase;
  fair: FairnessPhase;
  fifo: FairnessPhase;
  /**
   * B alone while plain CPU loops (no database, no queue) keep the machine about as busy
   * as A's flood did: what contention for the cores alone costs B, whatever the scheduler.
   */
  cpuLoaded: FairnessPhase;
  cpuLoadDuty: number;
  /** B's P95 during the flood ÷ B's P95 alone (target: at most 2). */
  fairRatio: number;
  fifoRatio: number;
}

const QUIET = [{ id: 'only', uses: 'core/noop@1' }];

export async function fairness(server: BenchServer, options: FairnessOptions, timeoutMs: number): Promise<FairnessResult> {
  const fairUrl = await server.freshDatabase('fair');
  const fairRun = await phaseOnAppliance(server, fairUrl, options, timeoutMs, {});
  const fifoUrl = await server.freshDatabase('fifo');
  // A burst no tenant reaches: every step job gets priority 0, i.e. plain first-in first-out.
  const fifoRun = await phaseOnAppliance(server, fifoUrl, options, timeoutMs, {
    fairShareBurst: 1_000_000,
    tenantMaxRunningSteps: 1_000_000,
    tenantMaxReadySteps: 0,
  });
  return {
    options,
    unloaded: fairRun.unloaded,
    fair: fairRun.flooded,
    fifo: fifoRun.flooded,
    cpuLoaded: fairRun.cpuLoaded,
    cpuLoadDuty: fairRun.cpuLoadDuty,
    fairRatio: fairRun.flooded.quiet.p95 / fairRun.unloaded.quiet.p95,
    fifoRatio: fifoRun.flooded.quiet.p95 / fairRun.unloaded.quiet.p95,
  };
}

async function phaseOnAppliance(
  server: BenchServer,
  url: string,
  options: FairnessOptions,
  timeoutMs: number,
  overrides: { fairShareBurst?: number; tenantMaxRunningSteps?: number; tenantMaxReadySteps?: number },
): Promise<{ unloaded: FairnessPhase; flooded: FairnessPhase; cpuLoaded: FairnessPhase; cpuLoadDuty: number }> {
  const fanOut = Array.from({ length: options.floodFanOut }, (_, i) => ({ id: `p${i}`, uses: 'core/noop@1' }));
  // The bench appliance's own tenant is B (quiet); A floods.
  const quiet = await startBenchAppliance(url, 1, { name: 'quiet', steps: QUIET }, overrides);
  const clock = await EventClock.listen(url);
  try {
    const flood = await addBenchTenant(quiet, 'flood', fanOut);
    const finalSeq = await warmUp(quiet, clock);
    const unloaded = await quietRuns(server, quiet, clock, finalSeq, options, null);
    const floodRuns = Math.ceil(options.floodSteps / options.floodFanOut);
    const t0 = performance.now();
    const starting = boundedParallel(floodRuns, 8, (i) =>
      quiet.appliance.services.runs.startRun(flood.ctx, { workflowId: flood.workflowId, input: { i } }).then(() => undefined),
    );
    // B starts once A has queued a good part of its flood.
    await sleep(300);
    const flooded = await quietRuns(server, quiet, clock, finalSeq, options, flood.tenantId);
    await starting;
    const drained = await waitUntil(async () => (await queuedSteps(quiet, flood.tenantId)) === 0, timeoutMs);
    if (!drained) throw new Error('the flood did not drain');
    flooded.floodSeconds = (performance.now() - t0) / 1000;
    if (!(await settle(quiet, timeoutMs))) throw new Error('runs did not settle');
    // As busy as the flood kept the machine, less what B's runs alone take.
    const cpuLoadDuty = Math.min(0.95, Math.max(0, (flooded.cpu?.machineBusy ?? 0) - (unloaded.cpu?.machineBusy ?? 0)));
    const hogs = startCpuLoad(cpuLoadDuty);
    try {
      await sleep(500);
      const cpuLoaded = await quietRuns(server, quiet, clock, finalSeq, options, null);
      return { unloaded, flooded, cpuLoaded, cpuLoadDuty };
    } finally {
      for (const hog of hogs) hog.kill('SIGKILL');
    }
  } finally {
    await clock.close();
    await quiet.stop();
  }
}

/** One run to learn the sequence number of a finished single-step run's last event; a few more to warm up. */
async function warmUp(bench: BenchAppliance, clock: EventClock): Promise<number> {
  const { db, runs } = bench.appliance.services;
  let finalSeq = 0;
  for (let i = 0; i < 20; i++) {
    const run = await runs.startRun(bench.ctx, { workflowId: bench.workflowId, input: { i } });
    const ok = await waitUntil(
      async () => {
        const { rows } = await db.query<{ status: string; version: number }>(
          { tenantId: bench.tenantId },
          'select status, version from runs where id = $1',
          [run.id],
        );
        finalSeq = rows[0]!.version;
        return rows[0]!.status === 'SUCCEEDED';
      },
      10_000,
      5,
    );
    if (!ok) throw new Error('warm-up run did not succeed');
  }
  void clock;
  return finalSeq;
}

async function quietRuns(
  server: BenchServer,
  bench: BenchAppliance,
  clock: EventClock,
  finalSeq: number,
  options: FairnessOptions,
  floodTenant: string | null,
): Promise<FairnessPhase> {
  const cpu = new CpuSampler(server.postmasterPid());
  const waits: Promise<number | null>[] = [];
  const starts: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < options.quietRuns; i++) {
    const due = t0 + i * options.quietIntervalMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const started = performance.now();
    waits.push(
      bench.appliance.services.runs
        .startRun(bench.ctx, { workflowId: bench.workflowId, input: { i } })
        .then((run) => {
          starts.push(performance.now() - started);
          return run;
        })
        .then((run) => clock.waitFor(`${run.id}:${finalSeq}`, 120_000))
        .then((arrived) => (arrived === null ? null : arrived - started)),
    );
  }
  const latencies = await Promise.all(waits);
  if (latencies.some((l) => l === null)) throw new Error('a quiet run did not finish');
  const queuedAtEnd = floodTenant ? await queuedSteps(bench, floodTenant) : null;
  const usage = cpu.finish();
  const { rows } = await bench.appliance.services.db.query<{ queued: number }>(
    { tenantId: bench.tenantId },
    `select extract(epoch from s.started_at - r.created_at) * 1000 as queued
       from runs r join step_executions s on s.run_id = r.id
      where r.tenant_id = $1 and r.created_at >= now() - make_interval(secs => $2)`,
    [bench.tenantId, (performance.now() - t0) / 1000],
  );
  return {
    quiet: summarize(latencies as number[]),
    startCall: summarize(starts),
    queued: summarize(rows.map((r) => Number(r.queued))),
    floodSeconds: null,
    floodQueuedAtEnd: queuedAtEnd,
    cpu: usage,
  };
}

/** One process per core, each spinning for `duty` of every 10 ms and sleeping the rest. */
function startCpuLoad(duty: number): ChildProcess[] {
  const busyMs = Math.round(duty * 10);
  const code = `const tick = () => { const end = Date.now() + ${busyMs}; while (Date.now() < end); setTimeout(tick, ${10 - busyMs}); }; tick();`;
  return os.cpus().map(() => spawn(process.execPath, ['-e', code], { stdio: 'ignore' }));
}

/** Step jobs of a tenant still waiting in the queue. */
async function queuedSteps(bench: BenchAppliance, tenantId: string): Promise<number> {
  const { rows } = await bench.appliance.services.db.query<{ n: number }>(
    { tenantId },
    `select count(*)::int as n from step_executions where tenant_id = $1 and status in ('PENDING', 'RUNNING')`,
    [tenantId],
  );
  return rows[0]!.n;
}
