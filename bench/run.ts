/**
 * `npm run bench`: raw graphile-worker baseline, engine throughput (service layer and
 * HTTP GraphQL), startRun → SUCCEEDED latency, the plugin sandbox (a noop action against bare
 * isolated-vm, and a workflow of sandboxed steps), in one run against one PostgreSQL.
 * Prints a table and writes docs/PERFORMANCE.md (see bench/report.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../core/logger.js';
import { BenchServer } from './db.js';
import { loadConfig } from '../core/config.js';
import { workerOptions } from './fixture.js';
import { engineThroughput, rawWorker, runLatency } from './scenarios.js';
import { sandboxAction, sandboxedEngine } from './sandbox.js';
import { fairness } from './fairness.js';
import { auditExport } from './auditExport.js';
import { consoleSummary, markdownReport, type BenchResults, type Outcome, type Sizes } from './report.js';
import { analysis } from './analysis.js';

const env = process.env;

function size(name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number ≥ ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

const sizes: Sizes = {
  rawJobs: size('BENCH_RAW_JOBS', 20_000),
  runs: size('BENCH_RUNS', 10_000),
  httpRuns: size('BENCH_HTTP_RUNS', 1_000),
  inflight: size('BENCH_INFLIGHT', 32),
  lightRuns: size('BENCH_LIGHT_RUNS', 200),
  rate: size('BENCH_RATE', 200),
  rateSeconds: size('BENCH_RATE_SECONDS', 10),
  timeoutSeconds: size('BENCH_TIMEOUT_S', 300),
  sandboxWarmCalls: size('BENCH_SANDBOX_WARM', 2_000),
  sandboxColdCalls: size('BENCH_SANDBOX_COLD', 200),
  sandboxCalls: size('BENCH_SANDBOX_CALLS', 20_000),
  sandboxInflight: size('BENCH_SANDBOX_INFLIGHT', 32),
  sandboxedRuns: size('BENCH_SANDBOXED_RUNS', 2_000),
  floodSteps: size('BENCH_FLOOD_STEPS', 20_000),
  quietRuns: size('BENCH_QUIET_RUNS', 100),
  quietIntervalMs: size('BENCH_QUIET_INTERVAL_MS', 50),
  auditEvents: size('BENCH_AUDIT_EVENTS', 1_000_000),
};
const timeoutMs = sizes.timeoutSeconds * 1000;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outputSetting = env['BENCH_OUTPUT'] ?? path.join('docs', 'PERFORMANCE.md');
const output = outputSetting === '-' ? null : path.resolve(repoRoot, outputSetting);

/** The command line, with every benchmark-relevant variable that was set (DATABASE_URL without its value). */
function commandLine(): string {
  const vars = Object.keys(env)
    .filter((k) => /^(BENCH_|SWITCHYARD_(WORKER|DB_POOL|POLL|SANDBOX_POOL|TENANT_MAX|FAIR_SHARE))/.test(k) && k !== 'BENCH_OUTPUT')
    .sort()
    .map((k) => `${k}=${env[k]}`);
  if (env['DATABASE_URL']) vars.unshift('DATABASE_URL=…');
  return [...vars, 'npm run bench'].join(' ');
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function attempt<T>(name: string, fn: () => Promise<T>): Promise<Outcome<T>> {
  log(`${name}…`);
  const t0 = performance.now();
  try {
    const value = await fn();
    log(`${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return { ok: true, value };
  } catch (error) {
    log(`${name} FAILED: ${(error as Error).stack ?? String(error)}`);
    return { ok: false, error: (error as Error).message };
  }
}

async function main(): Promise<number> {
  // The worker options come from the appliance's own configuration, so both sides use the same.
  const config = loadConfig(env);
  const worker = workerOptions(config);
  // Hard stop: everything below is bounded, but the benchmark must never hang a CI job.
  const overallMs = timeoutMs * 8 + 600_000;
  setTimeout(() => {
    log(`exceeded ${overallMs / 1000} s in all; giving up`);
    process.exit(2);
  }, overallMs).unref();

  const started = performance.now();
  const server = await BenchServer.start(createLogger('warn'));
  const stopOnSignal = () => {
    log('interrupted; cleaning up');
    // Dropping the databases cuts the scenario's connections; their errors no longer matter.
    process.on('uncaughtException', () => undefined);
    process.on('unhandledRejection', () => undefined);
    void server.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    const info = await server.info();
    log(`PostgreSQL: ${info.version}; worker concurrency ${worker.concurrency}, batch size ${worker.batchSize}, pool ${worker.poolSize}`);
    const raw = await attempt('raw graphile-worker', () => rawWorker(server, worker, sizes.rawJobs, timeoutMs));
    const service = await attempt('engine via service layer', () =>
      engineThroughput(server, 'service', sizes.runs, 2, sizes.inflight, timeoutMs),
    );
    const http = await attempt('engine via HTTP GraphQL', () =>
      engineThroughput(server, 'http', sizes.httpRuns, 2, sizes.inflight, timeoutMs),
    );
    const rawAfter = await attempt('raw graphile-worker, again', () => rawWorker(server, worker, sizes.rawJobs, timeoutMs));
    const light = await attempt('latency, light load', () =>
      runLatency(server, { kind: 'sequential', runs: sizes.lightRuns }, 3, timeoutMs),
    );
    const loaded = await attempt(`latency, ${sizes.rate} runs/s offered`, () =>
      runLatency(server, { kind: 'rate', perSecond: sizes.rate, seconds: sizes.rateSeconds }, 3, timeoutMs),
    );
    const sandbox = await attempt(`sandboxed noop action, pool of ${config.sandboxPoolSize}`, () =>
      sandboxAction(config.sandboxPoolSize, {
        warmCalls: sizes.sandboxWarmCalls,
        coldCalls: sizes.sandboxColdCalls,
        calls: sizes.sandboxCalls,
        inflight: sizes.sandboxInflight,
      }),
    );
    const sandboxed = await attempt('engine with sandboxed steps via service layer', () =>
      sandboxedEngine(server, sizes.sandboxedRuns, sizes.inflight, timeoutMs),
    );
    const fair = await attempt("fairness: a quiet tenant during another's flood", () =>
      fairness(
        server,
        {
          floodSteps: sizes.floodSteps,
          floodFanOut: 100,
          quietRuns: sizes.quietRuns,
          quietIntervalMs: sizes.quietIntervalMs,
        },
        timeoutMs,
      ),
    );
    const audit = await attempt(`audit export of ${sizes.auditEvents} events`, () => auditExport(server, sizes.auditEvents));
    const results: BenchResults = {
      date: new Date(),
      command: commandLine(),
      server: info,
      worker,
      sizes,
      raw,
      rawAfter,
      service,
      http,
      light,
      loaded,
      sandbox,
      sandboxed,
      fairness: fair,
      auditExport: audit,
      totalSeconds: (performance.now() - started) / 1000,
    };
    process.stdout.write(`\n${consoleSummary(results)}\n\n`);
    if (output) {
      fs.mkdirSync(path.dirname(output), { recursive: true });
      fs.writeFileSync(output, markdownReport(results, analysis(results)));
      log(`wrote ${path.relative(process.cwd(), output) || output}`);
    }
    return [raw, rawAfter, service, http, light, loaded, sandbox, sandboxed, fair, audit].every((o) => o.ok) ? 0 : 1;
  } finally {
    await server.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    log(`failed: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
