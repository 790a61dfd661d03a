import { fairnessRows, fairnessSection } from './fairnessReport.js';
import { auditExportRows, auditExportSection } from './auditExportReport.js';
import type { AuditExportResult } from './auditExport.js';
import type { FairnessResult } from './fairness.js';
import os from 'node:os';
import type { ServerInfo } from './db.js';
import type { WorkerOptions } from './fixture.js';
import type { LatencyResult, ThroughputResult } from './scenarios.js';
import type { CallsThroughput, SandboxActionResult, SandboxedEngineResult, SandboxLatency } from './sandbox.js';
import { fmt } from './stats.js';
import type { Outcome } from './outcome.js';

export interface Sizes {
  rawJobs: number;
  runs: number;
  httpRuns: number;
  inflight: number;
  lightRuns: number;
  rate: number;
  rateSeconds: number;
  timeoutSeconds: number;
  sandboxWarmCalls: number;
  sandboxColdCalls: number;
  sandboxCalls: number;
  sandboxInflight: number;
  sandboxedRuns: number;
  floodSteps: number;
  quietRuns: number;
  quietIntervalMs: number;
  auditEvents: number;
}

/** Each scenario's result, or the error that stopped it. */
export type { Outcome } from './outcome.js';

export interface BenchResults {
  date: Date;
  command: string;
  server: ServerInfo;
  worker: WorkerOptions;
  sizes: Sizes;
  /** The raw baseline, measured before and again after the engine throughput scenarios. */
  raw: Outcome<ThroughputResult>;
  rawAfter: Outcome<ThroughputResult>;
  service: Outcome<ThroughputResult>;
  http: Outcome<ThroughputResult>;
  light: Outcome<LatencyResult>;
  loaded: Outcome<LatencyResult>;
  /** A noop plugin action through the sandbox supervisor, against bare isolated-vm. */
  sandbox: Outcome<SandboxActionResult>;
  /** Two-step workflows of sandboxed core/code steps through the service layer. */
  sandboxed: Outcome<SandboxedEngineResult>;
  fairness: Outcome<FairnessResult>;
  auditExport: Outcome<AuditExportResult>;
  totalSeconds: number;
}

type Row = [measure: string, measured: string, target: string, met: string];

const verdict = (ok: boolean | null): string => (ok === null ? '—' : ok ? 'met' : '**not met**');

function value<T>(o: Outcome<T>): T | null {
  return o.ok ? o.value : null;
}

function failed(o: Outcome<unknown>): string {
  return o.ok ? '' : `failed: ${o.error.replace(/\|/g, '/').slice(0, 120)}`;
}

function partial(r: ThroughputResult): string {
  return r.completed ? '' : ` (incomplete: ${fmt(r.done)} of ${fmt(r.asked)} in ${fmt(r.seconds, 1)} s)`;
}

function latencyCell(r: LatencyResult): string {
  const c = r.client;
  const failures = r.failedStarts ? `; ${r.failedStarts} starts failed: ${(r.firstError ?? '').replace(/\|/g, '/').slice(0, 80)}` : '';
  const missing = r.succeeded < r.asked ? ` (${r.asked - r.succeeded} of ${r.asked} not SUCCEEDED${failures})` : '';
  return `${fmt(c.p50, 1)} / ${fmt(c.p95, 1)} / ${fmt(c.p99, 1)} ms${missing}`;
}

/** Mean of the completed raw baseline measurements, the denominator of every ratio. */
export function rawJobsPerSecond(r: BenchResults): number {
  const ok = [value(r.raw), value(r.rawAfter)].filter((t): t is ThroughputResult => t !== null && t.completed);
  return ok.length ? ok.reduce((a, t) => a + t.perSecond, 0) / ok.length : Number.NaN;
}

export function tableRows(r: BenchResults): Row[] {
  const rawRate = rawJobsPerSecond(r);
  const rows: Row[] = [];
  const cell = (o: Outcome<ThroughputResult>) => (o.ok ? `${fmt(o.value.perSecond)}${partial(o.value)}` : failed(o));
  rows.push([
    `Raw graphile-worker, noop jobs/s (${fmt(r.sizes.rawJobs)} queued in one statement; before / after the engine runs)`,
    `**${fmt(rawRate)} jobs/s** (${cell(r.raw)} / ${cell(r.rawAfter)})`,
    'baseline',
    '—',
  ]);
  for (const [label, outcome, n] of [
    ['service layer', r.service, r.sizes.runs],
    ['HTTP GraphQL', r.http, r.sizes.httpRuns],
  ] as const) {
    const e = value(outcome);
    if (!e) {
      rows.push([`Engine via ${label}: two-step runs/s (${fmt(n)} runs)`, failed(outcome), '≥ 1,000', verdict(false)]);
      continue;
    }
    const ratio = e.stepsPerSecond / rawRate;
    rows.push([
      `Engine via ${label}: two-step runs/s (${fmt(n)} runs, ${r.sizes.inflight} starts in flight)`,
      `${fmt(e.perSecond)} runs/s${partial(e)}`,
      '≥ 1,000',
      verdict(e.completed && e.perSecond >= 1000),
    ]);
    rows.push([`Engine via ${label}: steps/s`, `${fmt(e.stepsPerSecond)} steps/s`, '—', '—']);
    rows.push([
      `Engine via ${label}: steps/s ÷ raw jobs/s`,
      fmt(ratio, 2),
      '≥ 0.50',
      verdict(Number.isFinite(ratio) ? ratio >= 0.5 : null),
    ]);
  }
  const light = value(r.light);
  rows.push([
    `Latency startRun → SUCCEEDED, three steps, light load (${fmt(r.sizes.lightRuns)} runs one at a time): P50 / P95 / P99`,
    light ? latencyCell(light) : failed(r.light),
    'P95 < 50 ms',
    verdict(light ? light.client.p95 < 50 && light.succeeded === light.asked : false),
  ]);
  const loaded = value(r.loaded);
  rows.push([
    `Latency startRun → SUCCEEDED, three steps, ${fmt(r.sizes.rate)} runs/s offered for ${r.sizes.rateSeconds} s: P50 / P95 / P99`,
    loaded ? latencyCell(loaded) : failed(r.loaded),
    'P95 < 250 ms',
    verdict(loaded ? loaded.client.p95 < 250 && loaded.succeeded === loaded.asked : false),
  ]);
  rows.push(...sandboxRows(r, rawRate));
  rows.push(...fairnessRows(r.fairness));
  rows.push(...auditExportRows(r.auditExport));
  return rows;
}

/** Mean invocations/s of the bare isolated-vm baseline (before and after), the denominator of the sandbox ratio. */
export function bareCallsPerSecond(s: SandboxActionResult): number {
  return s.bare.length ? s.bare.reduce((a, t) => a + t.perSecond, 0) / s.bare.length : Number.NaN;
}

function sandboxLatencyCell(l: SandboxLatency): string {
  return `${fmt(l.client.p50, 2)} / ${fmt(l.client.p95, 2)} ms (in the worker ${fmt(l.worker.p50, 2)} / ${fmt(l.worker.p95, 2)} ms)`;
}

function sandboxRows(r: BenchResults, rawRate: number): Row[] {
  const rows: Row[] = [];
  const s = value(r.sandbox);
  const pool = s ? `pool of ${s.poolSize} threads` : 'appliance pool size';
  if (!s) {
    rows.push([
      `Sandboxed noop action via SandboxSupervisor.invoke (${pool})`,
      failed(r.sandbox),
      'warm P50 ≤ 1 ms, cold P50 ≤ 10 ms',
      verdict(false),
    ]);
  } else {
    rows.push([
      `Sandboxed noop action, warm (cached script, fresh context; ${fmt(s.warm.client.count)} calls one at a time): P50 / P95 via SandboxSupervisor.invoke`,
      sandboxLatencyCell(s.warm),
      'P50 ≤ 1 ms',
      verdict(s.warm.client.count > 0 && s.warm.client.p50 <= 1),
    ]);
    rows.push([
      `Sandboxed noop action, cold (a script no thread has seen; ${fmt(s.cold.client.count)} calls): P50 / P95 via SandboxSupervisor.invoke`,
      sandboxLatencyCell(s.cold),
      'P50 ≤ 10 ms',
      verdict(s.cold.client.count > 0 && s.cold.client.p50 <= 10),
    ]);
    const bare = bareCallsPerSecond(s);
    const ratio = s.sandboxed.perSecond / bare;
    rows.push([
      `Sandboxed noop action: invocations/s (${pool}, ${s.inflight} in flight, ${fmt(s.sandboxed.calls)} calls)`,
      `${fmt(s.sandboxed.perSecond)}/s (bare isolated-vm on piscina: **${fmt(bare)}/s**, ${s.bare.map((b) => fmt(b.perSecond)).join(' / ')})`,
      '—',
      '—',
    ]);
    rows.push([
      'Sandboxed noop action: invocations/s ÷ bare isolated-vm invocations/s',
      fmt(ratio, 2),
      '≥ 0.80',
      verdict(Number.isFinite(ratio) ? ratio >= 0.8 : null),
    ]);
  }
  const e = value(r.sandboxed);
  if (!e) {
    rows.push([
      `Engine with sandboxed steps: two-step core/code runs/s (${fmt(r.sizes.sandboxedRuns)} runs)`,
      failed(r.sandboxed),
      '—',
      '—',
    ]);
    rows.push(['Engine with sandboxed steps: steps/s ÷ raw jobs/s', failed(r.sandboxed), '≥ 0.40', verdict(false)]);
  } else {
    const ratio = e.stepsPerSecond / rawRate;
    rows.push([
      `Engine with sandboxed steps via service layer: two-step core/code runs/s (${fmt(e.asked)} runs, ${r.sizes.inflight} starts in flight, sandbox pool of ${e.poolSize})`,
      `${fmt(e.perSecond)} runs/s, ${fmt(e.stepsPerSecond)} steps/s${partial(e)}`,
      '—',
      '—',
    ]);
    rows.push([
      'Engine with sandboxed steps: steps/s ÷ raw jobs/s',
      fmt(ratio, 2),
      '≥ 0.40',
      verdict(Number.isFinite(ratio) && e.completed ? ratio >= 0.4 : false),
    ]);
  }
  return rows;
}

export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const LATENCY_HEADER = [
  'Latency scenario',
  'Succeeded',
  'Starts/s achieved',
  'Client P50/P95/P99/max ms',
  'Recorded P50/P95/P99/max ms',
  'Machine CPU busy',
  'Node process CPU',
  'PostgreSQL CPU',
];

/** The statements that took most of PostgreSQL's execution time in a throughput scenario. */
export function statementRows(t: ThroughputResult, unitsPerItem: number): string[][] {
  if (!t.statements || t.done === 0) return [];
  const units = t.done * unitsPerItem;
  return t.statements.top.map((st) => [
    `\`${st.query.length > 90 ? `${st.query.slice(0, 87)}...` : st.query}\``.replace(/\|/g, '\\|'),
    fmt(st.calls / units, 2),
    fmt(st.meanExecMs, 3),
    fmt(st.meanPlanMs, 3),
    `${fmt((st.totalMs / t.statements!.totalMs) * 100)} %`,
  ]);
}

function statementSections(r: BenchResults): string[] {
  const out: string[] = [];
  for (const [name, o, per, unit] of [
    ['Raw graphile-worker', r.raw, 1, 'job'],
    ['Engine via service layer', r.service, 2, 'step'],
  ] as const) {
    const t = value(o);
    const rows = t ? statementRows(t, per) : [];
    if (!rows.length) continue;
    out.push(
      `${name}: statements by share of PostgreSQL execution time (pg_stat_statements, measured phase only)`,
      '',
      markdownTable(['Statement', `Calls per ${unit}`, 'Mean exec ms', 'Mean plan ms', 'Share of PostgreSQL time'], rows),
      '',
    );
  }
  return out;
}

function pct(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? 'n/a' : `${fmt(x * 100)} %`;
}

/** Throughput scenarios side by side: one column per scenario, one row per measure (per job or per step). */
function detailTable(r: BenchResults): string {
  const scenarios = (
    [
      ['raw, before', r.raw, 1, 'job'],
      ['engine, service layer', r.service, 2, 'step'],
      ['engine, HTTP GraphQL', r.http, 2, 'step'],
      ['raw, after', r.rawAfter, 1, 'job'],
      ['engine, sandboxed steps', r.sandboxed, 2, 'step'],
    ] as const
  ).flatMap(([name, o, per, unit]) => (o.ok ? [{ name, unit, t: o.value, units: o.value.done * per }] : []));
  type S = (typeof scenarios)[number];
  const per = (x: number | null | undefined, s: S, digits: number) =>
    x === null || x === undefined || !s.units ? 'n/a' : fmt(x / s.units, digits);
  const measures: [string, (s: S) => string][] = [
    ['Unit', (s) => s.unit],
    ['Seconds measured', (s) => fmt(s.t.seconds, 2)],
    ['Starts accepted per second', (s) => (s.t.startsPerSecond === null ? '—' : fmt(s.t.startsPerSecond))],
    ['Node CPU ms per unit', (s) => per(s.t.cpu?.nodeMs, s, 2)],
    ['PostgreSQL CPU ms per unit', (s) => per(s.t.cpu?.postgresMs, s, 2)],
    ['SQL statements per unit', (s) => per(s.t.statements?.calls, s, 1)],
    ['Commits per unit', (s) => per(s.t.db.commits, s, 2)],
    ['WAL bytes per unit', (s) => per(s.t.db.walBytes, s, 0)],
    ['WAL flushes (fdatasync) per unit', (s) => per(s.t.db.walSyncs, s, 2)],
    ['Mean WAL flush ms', (s) => (s.t.db.walSyncMs !== null && s.t.db.walSyncs ? fmt(s.t.db.walSyncMs / s.t.db.walSyncs, 2) : 'n/a')],
    ['Machine CPU busy (all processes)', (s) => pct(s.t.cpu?.machineBusy)],
    ['of which this Node process', (s) => pct(s.t.cpu?.nodeBusy)],
    ['of which PostgreSQL', (s) => pct(s.t.cpu?.postgresBusy ?? undefined)],
    [
      'of which the sandbox process',
      (s) => ('sandboxCpu' in s.t ? pct((s.t as SandboxedEngineResult).sandboxCpu?.postgresBusy ?? undefined) : '—'),
    ],
    [
      'Sandbox process CPU ms per unit',
      (s) => ('sandboxCpu' in s.t ? per((s.t as SandboxedEngineResult).sandboxCpu?.postgresMs, s, 2) : '—'),
    ],
  ];
  return markdownTable(
    ['Throughput scenario', ...scenarios.map((s) => s.name)],
    measures.map(([label, f]) => [label, ...scenarios.map(f)]),
  );
}

function latencyDetailRows(r: BenchResults): string[][] {
  const rows: string[][] = [];
  for (const [name, o] of [
    ['light load', r.light],
    [`${r.sizes.rate} runs/s offered`, r.loaded],
  ] as const) {
    const l = value(o);
    if (!l) continue;
    rows.push([
      name,
      `${fmt(l.succeeded)} / ${fmt(l.asked)}`,
      l.achievedStartsPerSecond === null ? '—' : fmt(l.achievedStartsPerSecond),
      `${fmt(l.client.p50, 1)} / ${fmt(l.client.p95, 1)} / ${fmt(l.client.p99, 1)} / ${fmt(l.client.max, 1)}`,
      `${fmt(l.recorded.p50, 1)} / ${fmt(l.recorded.p95, 1)} / ${fmt(l.recorded.p99, 1)} / ${fmt(l.recorded.max, 1)}`,
      pct(l.cpu?.machineBusy),
      pct(l.cpu?.nodeBusy),
      pct(l.cpu?.postgresBusy ?? undefined),
    ]);
  }
  return rows;
}

const SANDBOX_LATENCY_HEADER = ['Sandboxed noop action', 'Calls', 'Client P50/P95/P99/max ms', 'In the worker P50/P95/P99/max ms'];

function sandboxLatencyRows(s: SandboxActionResult): string[][] {
  const p = (x: { p50: number; p95: number; p99: number; max: number }) =>
    `${fmt(x.p50, 2)} / ${fmt(x.p95, 2)} / ${fmt(x.p99, 2)} / ${fmt(x.max, 2)}`;
  return (
    [
      ['warm, one at a time', s.warm],
      ['cold, one at a time', s.cold],
    ] as const
  ).map(([name, l]) => [
    name,
    `${fmt(l.client.count)}${l.misclassified ? ` (${l.misclassified} left out: not ${name.slice(0, 4)})` : ''}`,
    p(l.client),
    p(l.worker),
  ]);
}

const SANDBOX_THROUGHPUT_HEADER = [
  'Invocations/s scenario',
  'Calls',
  'Seconds',
  'Invocations/s',
  'CPU ms per call (this process / sandbox process)',
  'Machine CPU busy',
];

function sandboxThroughputRows(s: SandboxActionResult): string[][] {
  const row = (name: string, t: CallsThroughput) => [
    name,
    fmt(t.calls),
    fmt(t.seconds, 2),
    fmt(t.perSecond),
    t.cpu ? `${fmt(t.cpu.nodeMs / t.calls, 3)} / ${t.cpu.postgresMs === null ? '—' : fmt(t.cpu.postgresMs / t.calls, 3)}` : 'n/a',
    pct(t.cpu?.machineBusy),
  ];
  return [
    row('bare isolated-vm on piscina, before', s.bare[0]!),
    row('SandboxSupervisor.invoke', s.sandboxed),
    ...(s.bare[1] ? [row('bare isolated-vm on piscina, after', s.bare[1])] : []),
  ];
}

function sandboxSections(r: BenchResults): string[] {
  const s = value(r.sandbox);
  if (!s) return [];
  return [
    markdownTable(SANDBOX_LATENCY_HEADER, sandboxLatencyRows(s)),
    '',
    markdownTable(SANDBOX_THROUGHPUT_HEADER, sandboxThroughputRows(s)),
    '',
  ];
}

export function machineLines(r: BenchResults): string[] {
  const cpus = os.cpus();
  const s = r.server.settings;
  return [
    `- CPU: ${cpus[0]?.model.trim() ?? 'unknown'} × ${cpus.length} (logical cores)`,
    `- Memory: ${fmt(os.totalmem() / 2 ** 30, 1)} GiB; OS: ${os.type()} ${os.release()} (${os.arch()})`,
    `- Node.js ${process.version}`,
    `- PostgreSQL: ${r.server.version} (${r.server.embedded ? 'embedded server started by the benchmark, same machine' : 'DATABASE_URL'}); ` +
      `fsync=${s['fsync']}, synchronous_commit=${s['synchronous_commit']}, wal_sync_method=${s['wal_sync_method']}, shared_buffers=${s['shared_buffers']}, max_connections=${s['max_connections']}` +
      (r.server.statementStats ? '; pg_stat_statements loaded (with track_planning) for the statement figures' : ''),
    `- Worker options (engine and raw baseline alike): concurrency ${r.worker.concurrency}, batch size ${r.worker.batchSize}` +
      `${r.worker.batchSize > 1 ? ` (localQueue size ${r.worker.batchSize}, completeJobBatchDelay 0)` : ' (no local queue)'}, ` +
      `poll interval ${r.worker.pollIntervalMs} ms, pool of ${r.worker.poolSize} connections`,
  ];
}

export function consoleSummary(r: BenchResults): string {
  return [
    markdownTable(['Measure', 'Measured', 'Target', 'Result'], tableRows(r)),
    '',
    detailTable(r),
    '',
    markdownTable(LATENCY_HEADER, latencyDetailRows(r)),
    '',
    ...sandboxSections(r),
    ...fairnessSection(r.fairness),
    ...auditExportSection(r.auditExport),
    ...statementSections(r),
  ].join('\n');
}

/** The whole docs/PERFORMANCE.md. `analysis` is the "What limits it" text. */
export function markdownReport(r: BenchResults, analysis: string[]): string {
  return [
    '# Performance',
    '',
    `Measured ${r.date.toISOString().replace('T', ' ').slice(0, 16)} UTC by \`${r.command}\` (${fmt(r.totalSeconds)} s in all). ` +
      'Every figure below comes from that one run against one PostgreSQL server; each scenario ran in its own freshly migrated database. ' +
      'The machine is shared and noisy, so the engine is judged as a ratio to the raw graphile-worker baseline measured in the same run.',
    '',
    '## Machine',
    '',
    ...machineLines(r),
    '',
    '## Results',
    '',
    markdownTable(['Measure', 'Measured', 'Target', 'Result'], tableRows(r)),
    '',
    "Durability: every run and step state change is committed (with its events and the next step's job) in a PostgreSQL " +
      'transaction before it counts; the server ran with the `fsync` and `synchronous_commit` settings shown above.',
    '',
    '### Details',
    '',
    detailTable(r),
    '',
    markdownTable(LATENCY_HEADER, latencyDetailRows(r)),
    '',
    ...sandboxSections(r),
    ...fairnessSection(r.fairness),
    ...auditExportSection(r.auditExport),
    ...statementSections(r),
    '- Runs/s and steps/s: from the first start until the last run settled (the starts overlap the execution), after 100 uncounted warm-up runs. ' +
      "The service-layer load generator runs in the appliance's own Node process; the HTTP client runs in a separate process " +
      '(`bench/httpLoadClient.ts`), as a real client would, so its CPU counts under other processes.',
    '- Raw jobs/s: from the `add_jobs` statement until the jobs table was empty; measured before and after the engine throughput scenarios, ' +
      'and the ratios use the mean of the two.',
    '- Client latency: from the call to `startRun` (at light load) or its scheduled time (open-loop offered load) until the notification ' +
      "of the run's final event arrived on a separate LISTEN connection; PostgreSQL delivers it only after the commit. " +
      'Recorded latency: `finished_at - created_at` of the run row (both stamped by the appliance just before the commits).',
    "- Sandboxed noop action: the plugin `defineAction('noop', async (input) => input)` through `SandboxSupervisor.invoke` " +
      '(appliance process → sandbox process over IPC → piscina thread → isolated-vm isolate and back), with the pool size of the appliance ' +
      '(`SWITCHYARD_SANDBOX_POOL_SIZE`, default the number of cores). Client latency is from the call until its promise resolved; ' +
      '"in the worker" is `stats.wallMs`. Warm: the script is cached, each call gets a fresh context. Cold: each call\'s script text ' +
      'differs by a comment, so its sha256 is new and a thread makes an isolate and compiles it. Invocations/s are compared with bare ' +
      "isolated-vm (`bench/sandboxBareWorker.ts`): the same script on a piscina pool of the same size in the benchmark's process, " +
      'isolate and compiled script cached per thread, a fresh context per call, no supervisor, no IPC, no bootstrap; measured before ' +
      'and after, and the ratio uses the mean.',
    '- Engine with sandboxed steps: as the service-layer engine scenario, with a workflow of two `core/code@1` steps (`return input;`), ' +
      'each run in the sandbox; the ratio is its steps/s over the raw graphile-worker jobs/s of this run.',
    '- DB commits and WAL bytes: server-wide deltas from `pg_stat_database` and `pg_stat_wal` over the scenario, divided by the jobs or steps it ran ' +
      "(they include the benchmark's own polling, a few commits a second). Machine CPU from `/proc/stat`; Node CPU is this process's share of all cores.",
    '',
    '## What limits it',
    '',
    ...analysis,
    '',
    '## Reproducing',
    '',
    '`npm run bench` starts an embedded PostgreSQL in a temporary directory (or uses `DATABASE_URL`) and writes this file. ' +
      'Sizes can be reduced for a quick check: `BENCH_RAW_JOBS`, `BENCH_RUNS`, `BENCH_HTTP_RUNS`, `BENCH_INFLIGHT`, `BENCH_LIGHT_RUNS`, ' +
      '`BENCH_RATE`, `BENCH_RATE_SECONDS`, `BENCH_TIMEOUT_S`; for the sandbox, `BENCH_SANDBOX_WARM` (warm calls, default 2,000), ' +
      '`BENCH_SANDBOX_COLD` (cold calls, 200), `BENCH_SANDBOX_CALLS` (calls per invocations/s measurement, 20,000), ' +
      '`BENCH_SANDBOX_INFLIGHT` (calls in flight, 32) and `BENCH_SANDBOXED_RUNS` (runs of the sandboxed workflow, 2,000); ' +
      'for fairness, `BENCH_FLOOD_STEPS` (20,000), `BENCH_QUIET_RUNS` (100) and `BENCH_QUIET_INTERVAL_MS` (50); for the audit export, `BENCH_AUDIT_EVENTS` (1,000,000); ' +
      '`BENCH_OUTPUT=-` prints without writing this file, `BENCH_OUTPUT=<path>` writes elsewhere. ' +
      "Worker options come from the appliance's own configuration (`SWITCHYARD_WORKER_CONCURRENCY`, `SWITCHYARD_WORKER_BATCH_SIZE`, `SWITCHYARD_DB_POOL_SIZE`), " +
      'and so does the sandbox pool size (`SWITCHYARD_SANDBOX_POOL_SIZE`).',
    '',
  ].join('\n');
}
