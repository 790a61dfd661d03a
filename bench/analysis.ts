import os from 'node:os';
import type { BenchResults } from './report.js';
import { rawJobsPerSecond } from './report.js';
import type { ThroughputResult } from './scenarios.js';
import { fmt } from './stats.js';

function perUnit(t: ThroughputResult, unitsPerItem: number) {
  const units = t.done * unitsPerItem;
  if (!units) return null;
  const stmts = t.statements;
  const planMs = stmts ? stmts.top.reduce((a, s) => a + s.meanPlanMs * s.calls, 0) : null;
  return {
    nodeMs: t.cpu ? t.cpu.nodeMs / units : null,
    pgMs: t.cpu?.postgresMs != null ? t.cpu.postgresMs / units : null,
    statements: stmts ? stmts.calls / units : null,
    planShare: stmts && planMs !== null && stmts.totalMs > 0 ? planMs / stmts.totalMs : null,
    commits: t.db.commits / units,
    walBytes: t.db.walBytes !== null ? t.db.walBytes / units : null,
    flushes: t.db.walSyncs !== null ? t.db.walSyncs / units : null,
    flushMs: t.db.walSyncMs !== null && t.db.walSyncs ? t.db.walSyncMs / t.db.walSyncs : null,
    otherBusy: t.cpu && t.cpu.postgresBusy !== null ? t.cpu.machineBusy - t.cpu.nodeBusy - t.cpu.postgresBusy : null,
  };
}

const pct = (x: number) => `${fmt(x * 100)} %`;

/**
 * The "What limits it" section, from the figures of this run. The explanations of where
 * the cost comes from are read off the code (core/engine/stepTasks.ts, core/runs/store.ts).
 */
export function analysis(r: BenchResults): string[] {
  const out: string[] = [];
  const cores = os.cpus().length;
  const raw = [r.raw, r.rawAfter].flatMap((o) => (o.ok ? [o.value] : []));
  const rawRate = rawJobsPerSecond(r);
  const service = r.service.ok ? r.service.value : null;
  const http = r.http.ok ? r.http.value : null;
  const rawUnit = raw[0] ? perUnit(raw[0], 1) : null;
  const eng = service ? perUnit(service, 2) : null;

  if (eng && rawUnit && eng.nodeMs !== null && eng.pgMs !== null && rawUnit.nodeMs !== null && rawUnit.pgMs !== null) {
    const engCpu = eng.nodeMs + eng.pgMs;
    const rawCpu = rawUnit.nodeMs + rawUnit.pgMs;
    const ceiling = (cores * 1000) / engCpu;
    out.push(
      `- **CPU per step is the limit.** A two-step run costs ${fmt(engCpu, 2)} ms of CPU per step (Node ${fmt(eng.nodeMs, 2)} ms, ` +
        `PostgreSQL ${fmt(eng.pgMs, 2)} ms, the run's start included), against ${fmt(rawCpu, 2)} ms per raw graphile-worker job ` +
        `(Node ${fmt(rawUnit.nodeMs, 2)}, PostgreSQL ${fmt(rawUnit.pgMs, 2)}): ${fmt(engCpu / rawCpu, 1)} times as much. ` +
        `With the machine's ${cores} cores to itself the engine could not do more than about ${fmt(ceiling)} steps/s (${fmt(ceiling / 2)} two-step runs/s). ` +
        `1,000 two-step runs/s on ${cores} cores needs at most ${fmt((cores * 1000) / 2000, 2)} ms of CPU per step, Node and PostgreSQL together; ` +
        `a steps/s ratio of 0.5 needs at most twice the raw job's cost, about ${fmt(2 * rawCpu, 2)} ms.`,
    );
  }
  if (eng && eng.otherBusy !== null && service?.cpu) {
    out.push(
      `- The machine was ${pct(service.cpu.machineBusy)} busy during the service-layer run, of which this Node process ${pct(service.cpu.nodeBusy)} ` +
        `and PostgreSQL ${pct(service.cpu.postgresBusy ?? 0)}; other processes took about ${pct(Math.max(0, eng.otherBusy))}. ` +
        'Absolute rates on this shared machine move by tens of percent from run to run; the CPU cost per step and the ratios move less.',
    );
  }
  if (eng && rawUnit && eng.statements !== null && rawUnit.statements !== null && service?.statements) {
    const top = service.statements.top;
    const transition = top.find((s) => s.query.startsWith('with st as'));
    const newRun = top.find((s) => s.query.startsWith('with rn as'));
    const share = (s: { totalMs: number } | undefined) => (s ? pct(s.totalMs / service.statements!.totalMs) : 'n/a');
    out.push(
      `- **Round trips and statements.** Each step is ${fmt(eng.statements, 1)} SQL statements (raw: ${fmt(rawUnit.statements, 1)} per job): ` +
        'graphile-worker fetches the job; the step transaction sends `BEGIN` + `set_config` (tenant context), locks the run and reads it with its steps ' +
        '(`loadRunForUpdate`), writes the transition in one statement (`persistTransition`) and commits; graphile-worker then deletes the job. ' +
        'The run\'s start adds the version lookup, `persistNewRun` and the audit insert in its own transaction. ' +
        `The transition write is the most expensive statement (${share(transition)} of PostgreSQL's statement time` +
        `${transition ? `, ${fmt(transition.meanExecMs, 2)} ms to execute and ${fmt(transition.meanPlanMs, 2)} ms to plan each time` : ''}), ` +
        `then the new-run write (${share(newRun)}${newRun ? `, ${fmt(newRun.meanExecMs, 2)} + ${fmt(newRun.meanPlanMs, 2)} ms` : ''}). ` +
        'Both are large CTEs over `jsonb_to_recordset` that also call graphile-worker\'s `add_jobs` with a `job_key` (a PL/pgSQL function that ' +
        'upserts the task and queue rows, clears the key of any locked job holding the same key, then inserts with ON CONFLICT on the key) and `pg_notify`.',
    );
    if (eng.planShare !== null) {
      out.push(
        `- **Planning.** ${pct(eng.planShare)} of PostgreSQL's statement time in the engine run was planning: the queries go out as unnamed ` +
          'statements, so PostgreSQL parses and plans the big CTEs on every call. Named prepared statements (node-postgres `name:`) would keep ' +
          'one plan per connection.',
      );
    }
  }
  if (eng && rawUnit) {
    out.push(
      `- **Durability.** ${fmt(eng.commits, 2)} commits per step (raw: ${fmt(rawUnit.commits, 2)} per job): the job fetch, the step transaction and ` +
        'the job deletion each commit, and a start commits once per run. ' +
        (eng.flushes !== null ? `Group commit folds them into ${fmt(eng.flushes, 2)} WAL flushes per step` : 'WAL flushes could not be counted') +
        (eng.flushMs !== null ? ` of ${fmt(eng.flushMs, 2)} ms each on this disk` : '') +
        (eng.walBytes !== null && rawUnit.walBytes !== null ? `, and each step writes ${fmt(eng.walBytes)} bytes of WAL (raw: ${fmt(rawUnit.walBytes)}): ` +
          'the step row, an event row per state change, the job, and a new version of the run row, whose status change ' +
          'writes a new entry in every one of its indexes (a status change cannot be a HOT update)' : '') +
        '. Flushing is not what saturates here (CPU is), but every step waits for at least one flush, which bounds latency.',
    );
  }
  if (http && service) {
    const h = perUnit(http, 2);
    if (h?.nodeMs != null && eng?.nodeMs != null) {
      out.push(
        `- **HTTP GraphQL.** Through HTTP the Node process spent ${fmt(h.nodeMs, 2)} ms per step against ${fmt(eng.nodeMs, 2)} ms through the service layer, ` +
          `about ${fmt((h.nodeMs - eng.nodeMs) * 2, 2)} ms more per started run (hapi, graphql-yoga, token lookup, and the benchmark's own HTTP client, ` +
          'all in the same process as the engine here).',
      );
    }
  }
  if (r.loaded.ok && service) {
    const l = r.loaded.value;
    const offeredSteps = r.sizes.rate * 3;
    const capacity = service.stepsPerSecond;
    out.push(
      `- **Latency under load.** ${fmt(r.sizes.rate)} three-step runs/s offer ${fmt(offeredSteps)} steps/s plus ${fmt(r.sizes.rate)} starts/s; ` +
        `the engine ran ${fmt(capacity)} steps/s at saturation in this run. ` +
        (offeredSteps > capacity
          ? `Above capacity the backlog grows for as long as the load lasts, so P95 (${fmt(l.client.p95)} ms) measures the queue, not the engine's ` +
            'per-step latency; the target needs the throughput fixes first.'
          : `Below capacity, P95 was ${fmt(l.client.p95)} ms.`),
    );
  }
  if (r.light.ok) {
    const l = r.light.value;
    out.push(
      `- **Light load.** One run at a time, start to SUCCEEDED took ${fmt(l.client.p50, 1)} ms at the median for a start and three steps ` +
        `(about ${fmt(l.client.p50 / 4, 1)} ms per transaction chain: notify, fetch, step transaction, commit, job deletion).`,
    );
  }
  out.push(
    `- **Worker options.** This run used concurrency ${r.worker.concurrency} and batch size ${r.worker.batchSize} with a pool of ${r.worker.poolSize}. ` +
      'Batching (`SWITCHYARD_WORKER_BATCH_SIZE`) removes graphile-worker\'s per-job fetch and completion round trips; that is most of a raw ' +
      'job\'s cost but a small part of a step\'s, so batching raises the baseline far more than the engine and lowers the ratio. ' +
      'The engine shares one pool between graphile-worker and the step transactions, so concurrency above the pool size queues on the pool.',
    `- Raw baseline this run: ${fmt(rawRate)} jobs/s (mean of ${raw.map((t) => fmt(t.perSecond)).join(' and ')}).`,
  );
  return out;
}
