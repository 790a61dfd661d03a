import os from 'node:os';
import type { ServerInfo } from './db.js';
import type { WorkerOptions } from './fixture.js';
import type { LatencyResult, ThroughputResult } from './scenarios.js';
import { fmt } from './stats.js';

export interface Sizes {
  rawJobs: number;
  runs: number;
  httpRuns: number;
  inflight: number;
  lightRuns: number;
  rate: number;
  rateSeconds: number;
  timeoutSeconds: number;
}

/** Each scenario's result, or the error that stopped it. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

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
  rows.push([`Raw graphile-worker, noop jobs/s (${fmt(r.sizes.rawJobs)} queued in one statement; before / after the engine runs)`,
    `**${fmt(rawRate)} jobs/s** (${cell(r.raw)} / ${cell(r.rawAfter)})`, 'baseline', '—']);
  for (const [label, outcome, n] of [['service layer', r.service, r.sizes.runs], ['HTTP GraphQL', r.http, r.sizes.httpRuns]] as const) {
    const e = value(outcome);
    if (!e) {
      rows.push([`Engine via ${label}: two-step runs/s (${fmt(n)} runs)`, failed(outcome), '≥ 1,000', verdict(false)]);
      continue;
    }
    const ratio = e.stepsPerSecond / rawRate;
    rows.push([`Engine via ${label}: two-step runs/s (${fmt(n)} runs, ${r.sizes.inflight} starts in flight)`,
      `${fmt(e.perSecond)} runs/s${partial(e)}`, '≥ 1,000', verdict(e.completed && e.perSecond >= 1000)]);
    rows.push([`Engine via ${label}: steps/s`, `${fmt(e.stepsPerSecond)} steps/s`, '—', '—']);
    rows.push([`Engine via ${label}: steps/s ÷ raw jobs/s`, fmt(ratio, 2), '≥ 0.50', verdict(Number.isFinite(ratio) ? ratio >= 0.5 : null)]);
  }
  const light = value(r.light);
  rows.push([`Latency startRun → SUCCEEDED, three steps, light load (${fmt(r.sizes.lightRuns)} runs one at a time): P50 / P95 / P99`,
    light ? latencyCell(light) : failed(r.light), 'P95 < 50 ms', verdict(light ? light.client.p95 < 50 && light.succeeded === light.asked : false)]);
  const loaded = value(r.loaded);
  rows.push([`Latency startRun → SUCCEEDED, three steps, ${fmt(r.sizes.rate)} runs/s offered for ${r.sizes.rateSeconds} s: P50 / P95 / P99`,
    loaded ? latencyCell(loaded) : failed(r.loaded), 'P95 < 250 ms', verdict(loaded ? loaded.client.p95 < 250 && loaded.succeeded === loaded.asked : false)]);
  return rows;
}

export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const LATENCY_HEADER = ['Latency scenario', 'Succeeded', 'Starts/s achieved', 'Client P50/P95/P99/max ms', 'Recorded P50/P95/P99/max ms',
  'Machine CPU busy', 'Node process CPU', 'PostgreSQL CPU'];

/** The statements that took most of PostgreSQL's execution time in a throughput scenario. */
export function statementRows(t: ThroughputResult, unitsPerItem: number): string[][] {
  if (!t.statements || t.done === 0) return [];
  const units = t.done * unitsPerItem;
  return t.statements.top.map((st) => [
    `\`${st.query.length > 90 ? `${st.query.slice(0, 87)}...` : st.query}\``.replace(/\|/g, '\\|'),
    fmt(st.calls / units, 2), fmt(st.meanExecMs, 3), fmt(st.meanPlanMs, 3), `${fmt((st.totalMs / t.statements!.totalMs) * 100)} %`,
  ]);
}

function statementSections(r: BenchResults): string[] {
  const out: string[] = [];
  for (const [name, o, per, unit] of [['Raw graphile-worker', r.raw, 1, 'job'], ['Engine via service layer', r.service, 2, 'step']] as const) {
    const t = value(o);
    const rows = t ? statementRows(t, per) : [];
    if (!rows.length) continue;
    out.push(`${name}: statements by share of PostgreSQL execution time (pg_stat_statements, measured phase only)`, '',
      markdownTable(['Statement', `Calls per ${unit}`, 'Mean exec ms', 'Mean plan ms', 'Share of PostgreSQL time'], rows), '');
  }
  return out;
}

function pct(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? 'n/a' : `${fmt(x * 100)} %`;
}

/** Throughput scenarios side by side: one column per scenario, one row per measure (per job or per step). */
function detailTable(r: BenchResults): string {
  const scenarios = ([
    ['raw, before', r.raw, 1, 'job'], ['engine, service layer', r.service, 2, 'step'], ['engine, HTTP GraphQL', r.http, 2, 'step'], ['raw, after', r.rawAfter, 1, 'job'],
  ] as const).flatMap(([name, o, per, unit]) => (o.ok ? [{ name, unit, t: o.value, units: o.value.done * per }] : []));
  type S = (typeof scenarios)[number];
  const per = (x: number | null | undefined, s: S, digits: number) => (x === null || x === undefined || !s.units ? 'n/a' : fmt(x / s.units, digits));
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
  ];
  return markdownTable(['Throughput scenario', ...scenarios.map((s) => s.name)], measures.map(([label, f]) => [label, ...scenarios.map(f)]));
}

function latencyDetailRows(r: BenchResults): string[][] {
  const rows: string[][] = [];
  for (const [name, o] of [['light load', r.light], [`${r.sizes.rate} runs/s offered`, r.loaded]] as const) {
    const l = value(o);
    if (!l) continue;
    rows.push([
      name, `${fmt(l.succeeded)} / ${fmt(l.asked)}`, l.achievedStartsPerSecond === null ? '—' : fmt(l.achievedStartsPerSecond),
      `${fmt(l.client.p50, 1)} / ${fmt(l.client.p95, 1)} / ${fmt(l.client.p99, 1)} / ${fmt(l.client.max, 1)}`,
      `${fmt(l.recorded.p50, 1)} / ${fmt(l.recorded.p95, 1)} / ${fmt(l.recorded.p99, 1)} / ${fmt(l.recorded.max, 1)}`,
      pct(l.cpu?.machineBusy), pct(l.cpu?.nodeBusy), pct(l.cpu?.postgresBusy ?? undefined),
    ]);
  }
  return rows;
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
    'Durability: every run and step state change is committed (with its events and the next step\'s job) in a PostgreSQL ' +
      'transaction before it counts; the server ran with the `fsync` and `synchronous_commit` settings shown above.',
    '',
    '### Details',
    '',
    detailTable(r),
    '',
    markdownTable(LATENCY_HEADER, latencyDetailRows(r)),
    '',
    ...statementSections(r),
    '- Runs/s and steps/s: from the first start until the last run settled (the starts overlap the execution), after 100 uncounted warm-up runs. ' +
      'The service-layer load generator runs in the appliance\'s own Node process; the HTTP client runs in a separate process ' +
      '(`bench/httpLoadClient.ts`), as a real client would, so its CPU counts under other processes.',
    '- Raw jobs/s: from the `add_jobs` statement until the jobs table was empty; measured before and after the engine throughput scenarios, ' +
      'and the ratios use the mean of the two.',
    '- Client latency: from the call to `startRun` (at light load) or its scheduled time (open-loop offered load) until the notification ' +
      'of the run\'s final event arrived on a separate LISTEN connection; PostgreSQL delivers it only after the commit. ' +
      'Recorded latency: `finished_at - created_at` of the run row (both stamped by the appliance just before the commits).',
    '- DB commits and WAL bytes: server-wide deltas from `pg_stat_database` and `pg_stat_wal` over the scenario, divided by the jobs or steps it ran ' +
      '(they include the benchmark\'s own polling, a few commits a second). Machine CPU from `/proc/stat`; Node CPU is this process\'s share of all cores.',
    '',
    '## What limits it',
    '',
    ...analysis,
    '',
    '## Reproducing',
    '',
    '`npm run bench` starts an embedded PostgreSQL in a temporary directory (or uses `DATABASE_URL`) and writes this file. ' +
      'Sizes can be reduced for a quick check: `BENCH_RAW_JOBS`, `BENCH_RUNS`, `BENCH_HTTP_RUNS`, `BENCH_INFLIGHT`, `BENCH_LIGHT_RUNS`, ' +
      '`BENCH_RATE`, `BENCH_RATE_SECONDS`, `BENCH_TIMEOUT_S`; `BENCH_OUTPUT=-` prints without writing this file, `BENCH_OUTPUT=<path>` writes elsewhere. ' +
      'Worker options come from the appliance\'s own configuration (`SWITCHYARD_WORKER_CONCURRENCY`, `SWITCHYARD_WORKER_BATCH_SIZE`, `SWITCHYARD_DB_POOL_SIZE`).',
    '',
  ].join('\n');
}
