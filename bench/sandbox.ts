import { createHash } from 'node:crypto';
import { Piscina } from 'piscina';
import { SandboxSupervisor, type SandboxInvocation, type SandboxResult } from '../sandbox/runtime/index.js';
import { counterDelta, type BenchServer } from './db.js';
import { codeChain, startBenchAppliance } from './fixture.js';
import type { BareTask } from './sandboxBareWorker.js';
import { settle, startRunViaService, type ThroughputResult } from './scenarios.js';
import { boundedParallel, CpuSampler, summarize, type CpuShares, type Percentiles } from './stats.js';

/** The plugin every sandbox scenario runs: the cheapest action there is. */
export const NOOP_SOURCE = "defineAction('noop', async (input) => input);";

export interface SandboxLatency {
  /** Through `SandboxSupervisor.invoke`: from the call until its promise resolved. */
  client: Percentiles;
  /** Inside the worker thread (`stats.wallMs`). */
  worker: Percentiles;
  /** Calls that were warm (or cold) when they should have been the other; they are left out. */
  misclassified: number;
}

export interface CallsThroughput {
  calls: number;
  seconds: number;
  perSecond: number;
  /** `nodeBusy` is the benchmark's process; `postgresBusy` here is the sandbox process (null for the bare baseline). */
  cpu: CpuShares | null;
}

export interface SandboxActionResult {
  poolSize: number;
  inflight: number;
  warm: SandboxLatency;
  cold: SandboxLatency;
  /** Through the supervisor, the sandbox process and its pool. */
  sandboxed: CallsThroughput;
  /** Bare isolated-vm on a piscina pool of the same size in this process, before and after the sandboxed figure. */
  bare: CallsThroughput[];
}

export interface SandboxedEngineResult extends ThroughputResult {
  poolSize: number;
  /** The sandbox process's share of all cores (`postgresBusy`/`postgresMs` of this sampler). */
  sandboxCpu: CpuShares | null;
}

export interface SandboxSizes {
  warmCalls: number;
  coldCalls: number;
  calls: number;
  inflight: number;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const NOOP_SHA = sha256(NOOP_SOURCE);

/** An invocation with the limits the executor gives a plugin that asks for nothing more. */
function noopInvocation(i: number, source = NOOP_SOURCE, sha = NOOP_SHA): SandboxInvocation {
  return {
    invocationId: `bench-${i}`,
    script: { sha256: sha, source, name: 'bench-noop@1.0.0' },
    action: 'noop',
    input: { i },
    context: { tenantId: 'bench', runId: 'bench', stepId: 'noop', attempt: 1, idempotencyKey: `bench:${i}` },
    limits: { memoryMb: 64, timeoutMs: 30_000, cpuMs: 10_000, maxOutputBytes: 4 * 1024 * 1024 },
    network: { allowedHosts: [], allowedPrivate: [], maxRequests: 10, maxResponseBytes: 1024 * 1024, requestTimeoutMs: 10_000 },
    credentials: [],
  };
}

function expectEcho(result: SandboxResult, i: number): Extract<SandboxResult, { ok: true }> {
  if (!result.ok) throw new Error(`sandboxed noop failed: ${result.error.code}: ${result.error.message}`);
  if ((result.output as { i?: unknown } | null)?.i !== i) throw new Error(`sandboxed noop returned ${JSON.stringify(result.output)}`);
  return result;
}

/** `calls` calls of `call(i)` with `inflight` in flight, timed, with the CPU of this process (and of `pid`'s process, if given). */
async function throughput(
  calls: number,
  inflight: number,
  call: (i: number) => Promise<unknown>,
  pid: number | null,
): Promise<CallsThroughput> {
  const cpu = new CpuSampler(pid);
  const t0 = performance.now();
  await boundedParallel(calls, inflight, call);
  const seconds = (performance.now() - t0) / 1000;
  return { calls, seconds, perSecond: calls / seconds, cpu: cpu.finish() };
}

async function bareThroughput(poolSize: number, calls: number, inflight: number): Promise<CallsThroughput> {
  const pool = new Piscina<BareTask, unknown>({
    filename: new URL('./sandboxBareWorker.js', import.meta.url).href,
    minThreads: poolSize,
    maxThreads: poolSize,
    idleTimeout: 60_000,
  });
  const call = async (i: number) => {
    const out = (await pool.run({ sha256: NOOP_SHA, source: NOOP_SOURCE, action: 'noop', input: { i } })) as { i?: unknown } | null;
    if (out?.i !== i) throw new Error(`bare noop returned ${JSON.stringify(out)}`);
  };
  try {
    // Warm-up: every thread makes its isolate and compiles the script; not counted.
    await boundedParallel(Math.max(200, poolSize * 50), inflight, call);
    return await throughput(calls, inflight, call, null);
  } finally {
    await pool.destroy();
  }
}

/**
 * A noop plugin action through `SandboxSupervisor.invoke` with the appliance's pool size: warm
 * latency (one call at a time, script cached), cold latency (a script text no thread has seen,
 * so its sha256 differs), and invocations/s with `inflight` calls in flight, against bare
 * isolated-vm on a piscina pool of the same size (bench/sandboxBareWorker.ts) measured before
 * and after it.
 */
export async function sandboxAction(poolSize: number, sizes: SandboxSizes): Promise<SandboxActionResult> {
  const bare: CallsThroughput[] = [await bareThroughput(poolSize, sizes.calls, sizes.inflight)];
  const supervisor = await SandboxSupervisor.start({ poolSize });
  let sandboxed: CallsThroughput;
  const warm = { client: [] as number[], worker: [] as number[], misclassified: 0 };
  const cold = { client: [] as number[], worker: [] as number[], misclassified: 0 };
  try {
    // Warm-up (JIT, every thread's isolate); not counted.
    await boundedParallel(Math.max(200, poolSize * 50), sizes.inflight, async (i) =>
      expectEcho(await supervisor.invoke(noopInvocation(i)), i),
    );
    for (let i = 0; i < sizes.warmCalls; i++) {
      const t0 = performance.now();
      const result = expectEcho(await supervisor.invoke(noopInvocation(i)), i);
      const ms = performance.now() - t0;
      if (result.stats.cold) {
        warm.misclassified++;
        continue;
      }
      warm.client.push(ms);
      warm.worker.push(result.stats.wallMs);
    }
    const salt = `${process.pid}-${Date.now()}`;
    for (let i = 0; i < sizes.coldCalls; i++) {
      const source = `${NOOP_SOURCE} // cold ${salt} ${i}`;
      const t0 = performance.now();
      const result = expectEcho(await supervisor.invoke(noopInvocation(i, source, sha256(source))), i);
      const ms = performance.now() - t0;
      if (!result.stats.cold) {
        cold.misclassified++;
        continue;
      }
      cold.client.push(ms);
      cold.worker.push(result.stats.wallMs);
    }
    sandboxed = await throughput(
      sizes.calls,
      sizes.inflight,
      async (i) => expectEcho(await supervisor.invoke(noopInvocation(i)), i),
      supervisor.pid ?? null,
    );
  } finally {
    await supervisor.stop();
  }
  bare.push(await bareThroughput(poolSize, sizes.calls, sizes.inflight));
  const latency = (l: typeof warm): SandboxLatency => ({
    client: summarize(l.client),
    worker: summarize(l.worker),
    misclassified: l.misclassified,
  });
  return { poolSize, inflight: sizes.inflight, warm: latency(warm), cold: latency(cold), sandboxed, bare };
}

/**
 * `runs` runs of a two-step workflow of sandboxed core/code steps (`return input;`), started
 * through the service layer with `inflight` starts in flight, like the engine throughput
 * scenario; the sandbox process's CPU is sampled on its own.
 */
export async function sandboxedEngine(
  server: BenchServer,
  runs: number,
  inflight: number,
  timeoutMs: number,
): Promise<SandboxedEngineResult> {
  const steps = 2;
  const url = await server.freshDatabase('sandboxed');
  const bench = await startBenchAppliance(url, steps, codeChain(steps));
  const start = (count: number) => boundedParallel(count, inflight, (i) => startRunViaService(bench, i));
  try {
    const sandbox = bench.appliance.sandbox;
    if (!sandbox) throw new Error('the appliance started without its sandbox');
    // Warm-up (JIT, pools, every sandbox thread's isolate for core/code); not counted.
    const warm = Math.min(100, runs);
    await start(warm);
    if (!(await settle(bench, timeoutMs))) throw new Error('warm-up runs did not finish');
    const warmDone = await bench.succeeded();
    if (warmDone !== warm) throw new Error(`only ${warmDone} of ${warm} warm-up runs succeeded`);

    const before = await server.counters();
    const cpu = new CpuSampler(server.postmasterPid());
    const sandboxCpu = new CpuSampler(sandbox.pid ?? null);
    const t0 = performance.now();
    await start(runs);
    const startsSeconds = (performance.now() - t0) / 1000;
    const completed = await settle(bench, timeoutMs);
    const seconds = (performance.now() - t0) / 1000;
    const usage = cpu.finish();
    const sandboxUsage = sandboxCpu.finish();
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
      statements: null,
      poolSize: bench.appliance.config.sandboxPoolSize,
      sandboxCpu: sandboxUsage,
    };
  } finally {
    await bench.stop();
  }
}
