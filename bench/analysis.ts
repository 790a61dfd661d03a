import os from 'node:os';
import type { BenchResults } from './report.js';
import { bareCallsPerSecond, rawJobsPerSecond } from './report.js';
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
    // Calls per step of the batch statements give the mean batch sizes (a run has two steps and one start).
    const stepsPerBatch = transition && transition.calls > 0 ? (service.done * 2) / transition.calls : null;
    const startsPerBatch = newRun && newRun.calls > 0 ? service.done / newRun.calls : null;
    out.push(
      `- **Group commit.** Each step is ${fmt(eng.statements, 1)} SQL statements (raw: ${fmt(rawUnit.statements, 1)} per job). Step claims and results ` +
        'that jobs ask for at about the same time, for runs of one tenant, share one transaction (`core/db/groupCommit.ts`, ' +
        '`core/engine/runChangeBatcher.ts`): `BEGIN` + `set_config` (tenant context), one statement locking all their runs in id order, one ' +
        "reading them with their steps, one writing every transition (`persistTransitions`: steps, events, next jobs through graphile-worker's " +
        '`add_jobs`, run rows under a version compare-and-swap, notifications), and one commit. Starts are grouped the same way ' +
        `(\`persistNewRuns\`). In this run a write carried ${stepsPerBatch !== null ? fmt(stepsPerBatch, 1) : 'n/a'} step changes and a start batch ` +
        `${startsPerBatch !== null ? fmt(startsPerBatch, 1) : 'n/a'} runs on average. The transition write is ${share(transition)} of PostgreSQL's ` +
        `statement time${transition ? ` (${fmt(transition.meanExecMs, 2)} ms a batch)` : ''}, the new-run write ${share(newRun)}` +
        `${newRun ? ` (${fmt(newRun.meanExecMs, 2)} ms a batch)` : ''}. What remains per step is row work: the step row, two event rows ` +
        "(started, succeeded), the next job, the run row, and the job's fetch and deletion; `add_jobs` costs about 0.4 ms a call whatever " +
        'it holds, which batching spreads.',
    );
    if (eng.planShare !== null) {
      out.push(
        `- **Planning.** ${pct(eng.planShare)} of PostgreSQL's statement time in the engine run was planning; the hot statements are named ` +
          'prepared statements, planned once per connection.',
      );
    }
  }
  if (eng && rawUnit) {
    out.push(
      `- **Durability.** ${fmt(eng.commits, 2)} commits per step (raw: ${fmt(rawUnit.commits, 2)} per job): a batch of claims or results commits ` +
        'once, a batch of starts once, and graphile-worker fetches and deletes jobs in batches when its local queue is on. ' +
        (eng.flushes !== null
          ? `PostgreSQL folds them into ${fmt(eng.flushes, 2)} WAL flushes per step`
          : 'WAL flushes could not be counted') +
        (eng.flushMs !== null ? ` of ${fmt(eng.flushMs, 2)} ms each on this disk` : '') +
        (eng.walBytes !== null && rawUnit.walBytes !== null
          ? `, and each step writes ${fmt(eng.walBytes)} bytes of WAL (raw: ${fmt(rawUnit.walBytes)}): ` +
            'the step row, an event row per state change, the job, and a new version of the run row'
          : '') +
        ". No state change counts before its commit: a step's job completes only after the transaction holding its result.",
    );
  }
  if (http && service) {
    const h = perUnit(http, 2);
    if (h?.nodeMs != null && eng?.nodeMs != null) {
      out.push(
        `- **HTTP GraphQL.** Through HTTP the Node process spent ${fmt(h.nodeMs, 2)} ms per step against ${fmt(eng.nodeMs, 2)} ms through the service layer, ` +
          `about ${fmt((h.nodeMs - eng.nodeMs) * 2, 2)} ms more per started run: hapi, graphql-yoga (parse, validate, execute, the fetch-API ` +
          'request and response objects) and the token lookup, on the same event loop as the engine. The HTTP client runs in its own process.',
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
            'per-step latency.'
          : `Below capacity, P95 was ${fmt(l.client.p95)} ms.`),
    );
  }
  if (r.light.ok) {
    const l = r.light.value;
    out.push(
      `- **Light load.** One run at a time, start to SUCCEEDED took ${fmt(l.client.p50, 1)} ms at the median for a start and three steps ` +
        `(about ${fmt(l.client.p50 / 4, 1)} ms per link: notify, fetch, claim transaction, commit, job completion).`,
    );
  }
  out.push(...sandboxAnalysis(r, rawRate, eng?.nodeMs != null && eng.pgMs != null ? eng.nodeMs + eng.pgMs : null));
  out.push(
    `- **Worker options.** This run used concurrency ${r.worker.concurrency} and batch size ${r.worker.batchSize} with a pool of ${r.worker.poolSize}, ` +
      "the appliance's defaults unless the command says otherwise. The local queue (`SWITCHYARD_WORKER_BATCH_SIZE`) removes graphile-worker's " +
      "per-job fetch and completion round trips. That is nearly all of a raw noop job's cost, so it raises the baseline far more than the " +
      'engine, whose steps still each commit their state: the ratio falls as absolute throughput rises. A step job holds no connection while it ' +
      'waits for its group commit, so concurrency can exceed the pool size.',
    `- Raw baseline this run: ${fmt(rawRate)} jobs/s (mean of ${raw.map((t) => fmt(t.perSecond)).join(' and ')}).`,
  );
  return out;
}

/**
 * The sandbox paragraphs. Where the time goes is read off sandbox/runtime: per warm call the
 * thread runs the plugin script and the action in a context made (with the bootstrap) after
 * the previous call; the rest is the trip appliance → sandbox process → thread and back.
 */
function sandboxAnalysis(r: BenchResults, rawRate: number, engineCpuPerStep: number | null): string[] {
  const out: string[] = [];
  const cores = os.cpus().length;
  const s = r.sandbox.ok ? r.sandbox.value : null;
  if (s) {
    const bare = bareCallsPerSecond(s);
    const bareCpu = s.bare.map((b) => (b.cpu ? b.cpu.nodeMs / b.calls : Number.NaN)).filter(Number.isFinite);
    const bareMs = bareCpu.length ? bareCpu.reduce((a, b) => a + b, 0) / bareCpu.length : Number.NaN;
    const c = s.sandboxed.cpu;
    const hostMs = c ? c.nodeMs / s.sandboxed.calls : Number.NaN;
    const childMs = c?.postgresMs != null ? c.postgresMs / s.sandboxed.calls : Number.NaN;
    const ipcMs = s.warm.client.p50 - s.warm.worker.p50;
    out.push(
      `- **Sandbox, one call.** A warm noop call took ${fmt(s.warm.client.p50, 2)} ms at the median through \`SandboxSupervisor.invoke\`, ` +
        `of which ${fmt(s.warm.worker.p50, 2)} ms inside the worker thread: the plugin script's top level and the action, in a fresh context ` +
        'that the thread made, with the bootstrap run in it, right after the previous call (`prepareNext`): making a context is about ' +
        'half a millisecond, most of an invocation, and is never reused by a second invocation. The other ' +
        `${fmt(ipcMs, 2)} ms are the trip: structured-clone IPC from the appliance to the sandbox process, a MessageChannel and piscina ` +
        "to the thread, and the result back the same way; calls one right after the other, as here, also meet the previous call's " +
        'context being made on the other core, which slows the trip as much as it speeds the worker when the machine has no idle core. A cold call adds an isolate, the compilation of the script and of the bootstrap: ' +
        `${fmt(s.cold.worker.p50, 2)} ms in the worker, ${fmt(s.cold.client.p50, 2)} ms in all.`,
      `- **Sandbox, invocations/s.** With ${s.inflight} calls in flight the sandbox ran ${fmt(s.sandboxed.perSecond)} noop calls/s on ` +
        `${s.poolSize} threads, bare isolated-vm ${fmt(bare)}/s (ratio ${fmt(s.sandboxed.perSecond / bare, 2)}). ` +
        `Bare isolated-vm costs ${fmt(bareMs, 2)} ms of CPU a call (context, script, action, piscina); through the supervisor a call cost ` +
        `${fmt(childMs, 2)} ms in the sandbox process and ${fmt(hostMs, 2)} ms in the appliance's process. The difference is the isolation ` +
        'itself: the bootstrap run in every context, the limits (deadline and CPU timers, CPU time reads), the IPC to and from a second ' +
        'process with its serialisation, and a MessageChannel per call for cancel and log lines. ' +
        `With ${s.poolSize} threads on ${cores} cores, the pool already keeps the cores busy, so that extra CPU comes straight off the rate; ` +
        "on a machine with cores to spare beyond the pool, the two processes' main threads run beside it.",
    );
  }
  const e = r.sandboxed.ok ? r.sandboxed.value : null;
  if (e) {
    const u = perUnit(e, 2);
    const sbx = e.sandboxCpu?.postgresMs != null && e.done ? e.sandboxCpu.postgresMs / (e.done * 2) : null;
    const ratio = e.stepsPerSecond / rawRate;
    const total = u && u.nodeMs !== null && u.pgMs !== null && sbx !== null ? u.nodeMs + u.pgMs + sbx : null;
    out.push(
      `- **Sandboxed steps.** Two-step workflows of \`core/code@1\` steps ran ${fmt(e.stepsPerSecond)} steps/s (${fmt(ratio, 2)} of raw ` +
        `graphile-worker's jobs/s). ` +
        (u && u.nodeMs !== null && u.pgMs !== null && sbx !== null
          ? `A step cost ${fmt(u.nodeMs, 2)} ms of CPU in the appliance's process, ${fmt(u.pgMs, 2)} ms in PostgreSQL and ${fmt(sbx, 2)} ms ` +
            `in the sandbox process (${fmt(total!, 2)} ms in all${engineCpuPerStep !== null ? `, against ${fmt(engineCpuPerStep, 2)} ms for a core/noop step` : ''}). `
          : '') +
        'On top of a core step, a sandboxed one pays the executor (plugin lookup, input schema, limits, egress policy), the sandbox call ' +
        "above, and core/code compiling the tenant's code with `new AsyncFunction` in each fresh context. " +
        `The sandbox pool (${e.poolSize} threads) and the engine share the machine's ${cores} cores with PostgreSQL, so the CPU per step, ` +
        'not a queue, is what limits it' +
        (total !== null && Number.isFinite(rawRate)
          ? `: with the cores to itself it could not pass about ${fmt((cores * 1000) / total)} steps/s, and a ratio of 0.4 ` +
            `(${fmt(0.4 * rawRate)} steps/s) needs at most ${fmt((cores * 1000) / (0.4 * rawRate), 2)} ms of CPU per step in all, ` +
            `against ${fmt(total, 2)} ms here (a fresh context alone is about 0.5 ms).`
          : '.'),
    );
  }
  return out;
}
