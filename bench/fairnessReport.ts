/** The fairness part of docs/PERFORMANCE.md (bench/fairness.ts). */
import type { FairnessPhase, FairnessResult } from './fairness.js';
import type { Outcome } from './outcome.js';
import { fmt } from './stats.js';

type Row = [measure: string, measured: string, target: string, met: string];

const ms = (x: number) => `${fmt(x)} ms`;

export function fairnessRows(o: Outcome<FairnessResult>): Row[] {
  if (!o.ok) return [["Fairness: quiet tenant's P95 during a flood ÷ alone", `failed: ${o.error}`, '≤ 2', '**not met**']];
  const r = o.value;
  const p95 = (p: FairnessPhase) => ms(p.quiet.p95);
  return [
    [
      `Fairness: tenant B's P95 startRun → SUCCEEDED during tenant A's flood of ${fmt(r.options.floodSteps)} steps ÷ B alone (${r.options.quietRuns} single-step runs)`,
      `**${fmt(r.fairRatio, 1)}** (${p95(r.fair)} ÷ ${p95(r.unloaded)}; first-in first-out: ${fmt(r.fifoRatio, 0)}, ${p95(r.fifo)})`,
      '≤ 2',
      r.fairRatio <= 2 ? 'met' : '**not met**',
    ],
    [
      `Fairness: B's P95 during the flood ÷ B alone on a machine kept as busy by plain CPU loops (${fmt(r.cpuLoadDuty * 100)} % of each core)`,
      `${fmt(r.fair.quiet.p95 / r.cpuLoaded.quiet.p95, 1)} (${p95(r.fair)} ÷ ${p95(r.cpuLoaded)}; B alone on the busy machine ÷ B alone: ${fmt(r.cpuLoaded.quiet.p95 / r.unloaded.quiet.p95, 1)})`,
      '—',
      '—',
    ],
  ];
}

export function fairnessSection(o: Outcome<FairnessResult>): string[] {
  if (!o.ok) return [];
  const r = o.value;
  const row = (label: string, p: FairnessPhase) =>
    `| ${label} | ${ms(p.quiet.p50)} | ${ms(p.quiet.p95)} | ${ms(p.quiet.max)} | ${ms(p.startCall.p50)} / ${ms(p.startCall.p95)} | ${ms(p.queued.p50)} / ${ms(p.queued.p95)} | ${p.floodSeconds === null ? '—' : `${fmt(p.floodSeconds, 1)} s`} | ${p.floodQueuedAtEnd ?? '—'} | ${p.cpu ? `${fmt(p.cpu.machineBusy * 100)} %` : '—'} |`;
  return [
    '### Fairness',
    '',
    "| tenant B's runs | P50 | P95 | max | startRun call P50 / P95 | queued (created → step claimed) P50 / P95 | A's flood drained in | A's steps left when B finished | machine busy |",
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    row('alone', r.unloaded),
    row('during the flood, fair share', r.fair),
    row('during the flood, first-in first-out', r.fifo),
    row(`alone, with plain CPU loops taking ${fmt(r.cpuLoadDuty * 100)} % of each core`, r.cpuLoaded),
    '',
    `Tenant A starts ${fmt(Math.ceil(r.options.floodSteps / r.options.floodFanOut))} runs of ${r.options.floodFanOut} parallel noop steps ` +
      `(${fmt(r.options.floodSteps)} step jobs queued within a second or two); 300 ms later tenant B starts one single-step run every ` +
      `${r.options.quietIntervalMs} ms, ${r.options.quietRuns} in all, through the service layer of the same appliance. "Alone" is B's ` +
      'runs on that appliance before the flood. First-in first-out is the same appliance with the fair share, the per-tenant cap and the ' +
      'backlog turned off. The last row is B alone again after the flood, while one process per core spins for the share of each 10 ms ' +
      "that the flood kept the machine busy beyond B's own load: no database work, no queue, only contention for the cores.",
    '',
  ];
}
