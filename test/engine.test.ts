import test from 'ava';
import pg from 'pg';
import { startTestAppliance, waitFor, RUN_FIELDS, type TestAppliance } from './support/appliance.js';
import { ScriptedExecutor } from './support/scriptedExecutor.js';
import { replayRun } from '../core/runs/replay.js';
import { MAX_DELAY_MS } from '../core/engine/coreActions.js';
import { RUN_FAILURES, STEP_FAILURES } from '../core/runs/stepFailures.js';

const executor = new ScriptedExecutor();
let app: TestAppliance;
let token: string;
let viewer: string;
let db: pg.Pool;

test.before(async () => {
  // The tests of this file poll one token concurrently; the API rate limit has tests of its own.
  app = await startTestAppliance({ executor, config: { apiRateLimitPerSecond: 1_000_000, apiRateLimitBurst: 1_000_000 } });
  const tenant = await app.tenant('engine', ['ADMIN', 'VIEWER']);
  token = tenant.tokens['ADMIN']!;
  viewer = tenant.tokens['VIEWER']!;
  db = new pg.Pool({ connectionString: app.databaseUrl, max: 2 });
});

test.after.always(async () => {
  await db?.end();
  await app?.stop();
});

let counter = 0;
async function workflow(steps: unknown[], extra: Record<string, unknown> = {}): Promise<string> {
  const res = await app.gql(token, 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }', {
    n: `wf-${++counter}-${Date.now()}`,
    d: { steps, ...extra },
  });
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data.createWorkflow.id;
}

async function start(workflowId: string, input: unknown = {}, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await app.gql(token, 'mutation($i: StartRunInput!) { startRun(input: $i) { id status } }', {
    i: { workflowId, input, ...extra },
  });
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data.startRun.id;
}

async function getRun(id: string): Promise<any> {
  const res = await app.gql(
    token,
    `query($id: ID!) { run(id: $id) { ${RUN_FIELDS} events(first: 100) { nodes { seq type stepId data } } } }`,
    { id },
  );
  return res.data.run;
}

async function until(id: string, statuses: string[]): Promise<any> {
  let last: any;
  try {
    return await waitFor(
      async () => {
        last = await getRun(id);
        return statuses.includes(last.status) ? last : undefined;
      },
      `run ${id} to reach ${statuses.join('/')}`,
    );
  } catch (error) {
    const jobs = await db.query(
      'select key, run_at, locked_by, attempts, last_error from graphile_worker._private_jobs where key like $1',
      [`%${id}%`],
    );
    throw new Error(
      `${(error as Error).message}; last state ${JSON.stringify({ status: last?.status, steps: last?.steps, events: last?.events?.nodes?.map((e: any) => `${e.seq}:${e.type}:${e.stepId ?? ''}`) })}; jobs ${JSON.stringify(jobs.rows)}`,
      { cause: error },
    );
  }
}

const step = (run: any, id: string) => run.steps.find((s: any) => s.stepId === id);

test('independent branches run in parallel and the join waits for both', async (t) => {
  const wf = await workflow([
    { id: 'a', uses: 'core/noop@1' },
    { id: 'b', uses: 'http/request@1', needs: ['a'], with: { mode: 'sleep', ms: 400 } },
    { id: 'c', uses: 'http/request@1', needs: ['a'], with: { mode: 'sleep', ms: 400 } },
    { id: 'd', uses: 'core/noop@1', needs: ['b', 'c'], with: { b: '{{ steps.b.output.slept }}' } },
  ]);
  const run = await until(await start(wf), ['SUCCEEDED']);
  const [b, c, d] = ['b', 'c', 'd'].map((id) => step(run, id));
  t.true(Date.parse(b.startedAt) < Date.parse(c.finishedAt) && Date.parse(c.startedAt) < Date.parse(b.finishedAt), 'b and c overlap');
  t.true(Date.parse(d.startedAt) >= Math.max(Date.parse(b.finishedAt), Date.parse(c.finishedAt)));
  t.deepEqual(run.output, { d: { b: 400 } });
});

test('transient failures retry with backoff up to maxAttempts, with one idempotency key', async (t) => {
  const wf = await workflow([
    {
      id: 'x',
      uses: 'http/request@1',
      with: { mode: 'flaky', failUntil: 3 },
      retry: { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 80 },
    },
  ]);
  const id = await start(wf);
  const run = await until(id, ['SUCCEEDED', 'FAILED']);
  t.is(run.status, 'SUCCEEDED');
  t.is(step(run, 'x').attempts, 3);
  t.deepEqual(step(run, 'x').output, { attempt: 3 });
  const scheduled = run.events.nodes.filter((e: any) => e.type === 'STEP_RETRY_SCHEDULED');
  t.deepEqual(
    scheduled.map((e: any) => e.data.attempt),
    [2, 3],
  );
  // Full jitter: each delay is within [0, min(maxDelay, initial * 2^(attempt-1))].
  t.true(scheduled[0].data.delayMs >= 0 && scheduled[0].data.delayMs <= 50);
  t.true(scheduled[1].data.delayMs >= 0 && scheduled[1].data.delayMs <= 80);
  const keys = new Set(executor.callsFor(id, 'x').map((c) => c.idempotencyKey));
  t.deepEqual([...keys], [`${id}:x`]);
  t.deepEqual(
    executor.callsFor(id, 'x').map((c) => c.attempt),
    [1, 2, 3],
  );
});

test('exhausted retries fail the step and the run; dependents are cancelled', async (t) => {
  const wf = await workflow([
    {
      id: 'x',
      uses: 'http/request@1',
      with: { mode: 'flaky', failUntil: 99 },
      retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 20 },
    },
    { id: 'y', uses: 'core/noop@1', needs: ['x'] },
  ]);
  const run = await until(await start(wf), ['FAILED']);
  t.is(step(run, 'x').status, 'FAILED');
  t.is(step(run, 'x').attempts, 2);
  t.is(step(run, 'x').error.code, 'UPSTREAM_UNAVAILABLE');
  t.is(step(run, 'y').status, 'CANCELLED');
  t.is(run.error.code, 'STEP_FAILED');
  t.regex(run.error.message, /step "x" failed/);
});

test('a permanent error fails at once whatever attempts remain', async (t) => {
  const wf = await workflow([{ id: 'x', uses: 'http/request@1', with: { mode: 'permanent' }, retry: { maxAttempts: 5 } }]);
  const id = await start(wf);
  const run = await until(id, ['FAILED']);
  t.is(step(run, 'x').attempts, 1);
  t.is(executor.callsFor(id, 'x').length, 1);
});

const FAILURE = 'error { code message retryable source meaning }';

test("a failure reads as a StepFailure: its code, whether a retry helps, where it arose, the catalogue's meaning", async (t) => {
  const wf = await workflow([{ id: 'wait', uses: 'core/delay@1', with: { ms: '{{ input.ms }}' } }]);
  const id = await start(wf, { ms: -1 });
  await until(id, ['FAILED']);
  const read = async (runId: string) =>
    (await app.gql(token, `query($id: ID!) { run(id: $id) { ${FAILURE} steps { stepId ${FAILURE} } } }`, { id: runId })).data.run;
  const problem = `with.ms must be a number of milliseconds between 0 and ${MAX_DELAY_MS}`;
  t.deepEqual(await read(id), {
    error: {
      code: 'STEP_FAILED',
      message: `step "wait" failed: ${problem}`,
      retryable: false,
      source: 'WORKFLOW',
      meaning: RUN_FAILURES.STEP_FAILED.meaning,
    },
    steps: [
      {
        stepId: 'wait',
        error: {
          code: 'BAD_USER_INPUT',
          message: problem,
          retryable: false,
          source: 'WORKFLOW',
          meaning: STEP_FAILURES.BAD_USER_INPUT.meaning,
        },
      },
    ],
  });

  const plugin = await workflow([{ id: 'x', uses: 'http/request@1', with: { mode: 'permanent' } }]);
  const pluginRun = await start(plugin);
  await until(pluginRun, ['FAILED']);
  t.deepEqual(
    (await read(pluginRun)).steps[0].error,
    { code: 'UPSTREAM_REJECTED', message: 'upstream answered 400', retryable: false, source: 'PLUGIN', meaning: null },
    "a plugin's own code is the plugin's, with no meaning",
  );

  // Stored failures are never rewritten: a code an earlier release minted still reads.
  await db.query('update step_executions set error = $1 where run_id = $2', [
    { code: 'BAD_INPUT', message: 'with.ms must be a number' },
    id,
  ]);
  t.deepEqual((await read(id)).steps[0].error, {
    code: 'BAD_INPUT',
    message: 'with.ms must be a number',
    retryable: false,
    source: 'PLUGIN',
    meaning: null,
  });
});

test('onError continue lets dependents run and the run succeed', async (t) => {
  const wf = await workflow([
    { id: 'x', uses: 'http/request@1', with: { mode: 'permanent' }, onError: 'continue' },
    { id: 'y', uses: 'core/noop@1', needs: ['x'], with: { failed: '{{ steps.x.status }}' } },
  ]);
  const run = await until(await start(wf), ['SUCCEEDED', 'FAILED']);
  t.is(run.status, 'SUCCEEDED');
  t.is(step(run, 'x').status, 'FAILED');
  t.deepEqual(step(run, 'y').output, { failed: 'FAILED' });
});

test('a false `if` skips the step and its dependents still run', async (t) => {
  const wf = await workflow([
    { id: 'a', uses: 'core/noop@1', with: { flagged: '{{ input.flag }}' } },
    { id: 'review', uses: 'core/approval@1', needs: ['a'], if: '{{ steps.a.output.flagged }}' },
    { id: 'notify', uses: 'core/noop@1', needs: ['a', 'review'], with: { ok: true } },
  ]);
  const run = await until(await start(wf, { flag: false }), ['SUCCEEDED']);
  t.is(step(run, 'review').status, 'SKIPPED');
  t.is(step(run, 'notify').status, 'SUCCEEDED');
});

test('a step timeout aborts the attempt and fails it with STEP_TIMEOUT', async (t) => {
  const wf = await workflow([{ id: 'x', uses: 'http/request@1', with: { mode: 'hang' }, timeoutMs: 200, retry: { maxAttempts: 1 } }]);
  const id = await start(wf);
  const run = await until(id, ['FAILED']);
  t.is(step(run, 'x').error.code, 'STEP_TIMEOUT');
  t.true(executor.aborted.includes(`${id}:x`));
});

test('a run past its timeout is TIMED_OUT and its waiting step cancelled', async (t) => {
  const wf = await workflow([{ id: 'wait', uses: 'core/approval@1' }], { timeoutMs: 800 });
  const run = await until(await start(wf), ['TIMED_OUT']);
  t.is(step(run, 'wait').status, 'CANCELLED');
  t.is(run.error.code, 'RUN_TIMEOUT');
});

test('cancelRun stops pending steps and signals running ones; a second cancel conflicts', async (t) => {
  const wf = await workflow([
    { id: 'slow', uses: 'http/request@1', with: { mode: 'hang' } },
    { id: 'after', uses: 'core/noop@1', needs: ['slow'] },
  ]);
  const id = await start(wf);
  await waitFor(async () => step(await getRun(id), 'slow').status === 'RUNNING', 'slow step to run');
  const cancelled = await app.gql(token, 'mutation($id: ID!) { cancelRun(id: $id) { status } }', { id });
  t.is(cancelled.data.cancelRun.status, 'CANCELLED');
  await waitFor(async () => executor.aborted.includes(`${id}:slow`), 'the running step to be signalled');
  const run = await getRun(id);
  t.is(step(run, 'slow').status, 'CANCELLED');
  t.is(step(run, 'after').status, 'CANCELLED');
  const again = await app.gql(token, 'mutation($id: ID!) { cancelRun(id: $id) { status } }', { id });
  t.is(again.errors?.[0]?.extensions.code, 'CONFLICT');
});

test('approval waits durably; approve and reject both settle it; others cannot decide', async (t) => {
  const wf = await workflow([
    { id: 'review', uses: 'core/approval@1', with: { message: 'ship it?' } },
    { id: 'done', uses: 'core/noop@1', needs: ['review'], with: { by: '{{ steps.review.output.by }}' } },
  ]);
  const approveMutation = 'mutation($i: ApproveStepInput!) { approveStep(input: $i) { status } }';
  const yes = await start(wf);
  await until(yes, ['WAITING']);
  const denied = await app.gql(viewer, approveMutation, { i: { runId: yes, stepId: 'review', approved: true } });
  t.is(denied.errors?.[0]?.extensions.code, 'FORBIDDEN');
  const unknownStep = await app.gql(token, approveMutation, { i: { runId: yes, stepId: 'nope', approved: true } });
  t.is(unknownStep.errors?.[0]?.extensions.code, 'NOT_FOUND');
  await app.gql(token, approveMutation, { i: { runId: yes, stepId: 'review', approved: true, comment: 'lgtm' } });
  const approved = await until(yes, ['SUCCEEDED']);
  t.like(step(approved, 'review').output, { approved: true, comment: 'lgtm' });
  t.truthy(step(approved, 'done').output.by);
  const twice = await app.gql(token, approveMutation, { i: { runId: yes, stepId: 'review', approved: true } });
  t.is(twice.errors?.[0]?.extensions.code, 'CONFLICT');

  const no = await start(wf);
  await until(no, ['WAITING']);
  await app.gql(token, approveMutation, { i: { runId: no, stepId: 'review', approved: false, comment: 'not now' } });
  const rejected = await until(no, ['FAILED']);
  t.is(step(rejected, 'review').error.code, 'APPROVAL_REJECTED');
});

test('core/delay is a durable timer that holds no worker', async (t) => {
  const short = await workflow([{ id: 'd', uses: 'core/delay@1', with: { ms: 300 } }]);
  const run = await until(await start(short), ['SUCCEEDED']);
  t.true(step(run, 'd').output.waitedMs >= 300);

  const long = await workflow([{ id: 'd', uses: 'core/delay@1', with: { ms: 600_000 } }]);
  const ids = await Promise.all(Array.from({ length: 50 }, () => start(long)));
  await waitFor(async () => {
    const { rows } = await db.query("select count(*)::int as n from runs where id = any($1) and status = 'WAITING'", [ids]);
    return rows[0].n === 50;
  }, '50 runs waiting on a delay');
  // More waiting runs than worker slots, and none of them holds a job lock.
  const { rows } = await db.query(
    "select count(*)::int as locked from graphile_worker._private_jobs where key like 'w:%' and locked_at is not null",
  );
  t.is(rows[0].locked, 0);
  for (const id of ids) {
    const cancelled = await app.gql(token, 'mutation($id: ID!) { cancelRun(id: $id) { status } }', { id });
    t.is(cancelled.data?.cancelRun.status, 'CANCELLED', JSON.stringify(cancelled.errors));
  }
  const left = await db.query('select count(*)::int as n from graphile_worker._private_jobs where key = any($1)', [
    ids.map((id) => `w:${id}:d`),
  ]);
  t.is(left.rows[0].n, 0, 'cancelling removes the timers');
});

test('retryRun re-executes only failed and cancelled steps and keeps succeeded outputs', async (t) => {
  const wf = await workflow([
    { id: 'a', uses: 'http/request@1', with: { value: 1 } },
    { id: 'b', uses: 'http/request@1', needs: ['a'], with: { mode: 'fail-once' } },
    { id: 'c', uses: 'core/noop@1', needs: ['b'], with: { a: '{{ steps.a.output.value }}' } },
  ]);
  const id = await start(wf);
  await until(id, ['FAILED']);
  const notYet = await app.gql(token, 'mutation($id: ID!) { retryRun(id: $id) { status } }', {
    id: await start(await workflow([{ id: 'w', uses: 'core/approval@1' }])),
  });
  t.is(notYet.errors?.[0]?.extensions.code, 'CONFLICT');
  const retried = await app.gql(token, 'mutation($id: ID!) { retryRun(id: $id) { status } }', { id });
  t.is(retried.data.retryRun.status, 'QUEUED');
  const run = await until(id, ['SUCCEEDED']);
  t.is(executor.callsFor(id, 'a').length, 1, 'a is not executed again');
  t.is(executor.callsFor(id, 'b').length, 2);
  t.deepEqual(step(run, 'c').output, { a: 1 });
});

test('a run keeps the version it started on when a new version is published', async (t) => {
  const wf = await workflow([
    { id: 'gate', uses: 'core/approval@1' },
    { id: 'out', uses: 'core/noop@1', needs: ['gate'], with: { version: 1 } },
  ]);
  const old = await start(wf);
  await until(old, ['WAITING']);
  const published = await app.gql(token, 'mutation($i: PublishWorkflowVersionInput!) { publishWorkflowVersion(input: $i) { version } }', {
    i: { workflowId: wf, definition: { steps: [{ id: 'out', uses: 'core/noop@1', with: { version: 2 } }] } },
  });
  t.is(published.data.publishWorkflowVersion.version, 2);
  await app.gql(token, 'mutation($i: ApproveStepInput!) { approveStep(input: $i) { status } }', {
    i: { runId: old, stepId: 'gate', approved: true },
  });
  const oldRun = await until(old, ['SUCCEEDED']);
  t.deepEqual(oldRun.output, { out: { version: 1 } });
  t.is(oldRun.workflowVersion.version, 1);
  const fresh = await until(await start(wf), ['SUCCEEDED']);
  t.deepEqual(fresh.output, { out: { version: 2 } });
  const pinned = await until(await start(wf, {}, { version: 1 }), ['WAITING']);
  t.is(pinned.workflowVersion.version, 1);
});

test('startRun with an idempotencyKey returns the same run, also when raced', async (t) => {
  const wf = await workflow([{ id: 'a', uses: 'core/noop@1' }]);
  const ids = await Promise.all(Array.from({ length: 8 }, () => start(wf, { n: 1 }, { idempotencyKey: 'order-42' })));
  t.is(new Set(ids).size, 1);
  t.is(await start(wf, { n: 1 }, { idempotencyKey: 'order-42' }), ids[0]!);
  const { rows } = await db.query('select count(*)::int as n from runs where workflow_id = $1', [wf]);
  t.is(rows[0].n, 1);
  t.not(await start(wf, {}, { idempotencyKey: 'order-43' }), ids[0]!);
});

test('invalid definitions are refused at create and publish and change nothing', async (t) => {
  const create = 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }';
  const cyclic = await app.gql(token, create, {
    n: 'cyclic',
    d: {
      steps: [
        { id: 'a', uses: 'core/noop@1', needs: ['b'] },
        { id: 'b', uses: 'core/noop@1', needs: ['a'] },
      ],
    },
  });
  t.is(cyclic.errors?.[0]?.extensions.code, 'BAD_USER_INPUT');
  t.regex(cyclic.errors![0]!.message, /cycle/);
  const unknown = await app.gql(token, create, { n: 'unknown', d: { steps: [{ id: 'a', uses: 'nope/thing@1' }] } });
  t.regex(unknown.errors![0]!.message, /steps\[0\]\.uses: unknown action "nope\/thing@1"/);
  const wf = await workflow([{ id: 'a', uses: 'core/noop@1' }]);
  const bad = await app.gql(token, 'mutation($i: PublishWorkflowVersionInput!) { publishWorkflowVersion(input: $i) { version } }', {
    i: {
      workflowId: wf,
      definition: {
        steps: [
          { id: 'a', uses: 'core/noop@1' },
          { id: 'a', uses: 'core/noop@1' },
        ],
      },
    },
  });
  t.is(bad.errors?.[0]?.extensions.code, 'BAD_USER_INPUT');
  const { rows } = await db.query("select count(*)::int as n from workflows where name in ('cyclic', 'unknown')");
  t.is(rows[0].n, 0);
  const versions = await db.query('select count(*)::int as n from workflow_versions where workflow_id = $1', [wf]);
  t.is(versions.rows[0].n, 1);
});

test('an oversized run input is refused and no run is created', async (t) => {
  const wf = await workflow([{ id: 'a', uses: 'core/noop@1' }]);
  const res = await app.gql(token, 'mutation($i: StartRunInput!) { startRun(input: $i) { id } }', {
    i: { workflowId: wf, input: { blob: 'x'.repeat(300 * 1024) } },
  });
  t.is(res.errors?.[0]?.extensions.code, 'BAD_USER_INPUT');
  t.regex(res.errors![0]!.message, /limit is 262144/);
  const { rows } = await db.query('select count(*)::int as n from runs where workflow_id = $1', [wf]);
  t.is(rows[0].n, 0);
});

test.after('the event log alone rebuilds every finished run', async (t) => {
  const { rows: runs } = await db.query(
    "select r.id, r.status, r.output, r.error, v.definition from runs r join workflow_versions v on v.id = r.workflow_version_id where r.status in ('SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT')",
  );
  t.true(runs.length >= 5);
  for (const run of runs) {
    const { rows: events } = await db.query('select type, step_id as "stepId", data from run_events where run_id = $1 order by seq', [
      run.id,
    ]);
    const { rows: steps } = await db.query('select step_id, status, attempts, output, error from step_executions where run_id = $1', [
      run.id,
    ]);
    const replayed = replayRun(run.definition, events);
    t.is(replayed.status, run.status, `run ${run.id} status`);
    t.deepEqual(replayed.output ?? null, run.output ?? null);
    for (const s of steps) {
      t.like(replayed.steps[s.step_id], { status: s.status, attempts: s.attempts }, `run ${run.id} step ${s.step_id}`);
      t.deepEqual(replayed.steps[s.step_id]!.output ?? null, s.output ?? null);
    }
  }
});

test("viewer shows the caller's own token for every role, not only admins", async (t) => {
  const res = await app.gql(viewer, '{ viewer { role tenant { name } token { id name prefix createdAt } } }');
  t.is(res.data.viewer.role, 'VIEWER');
  t.is(res.data.viewer.tenant.name, 'engine');
  t.regex(res.data.viewer.token.prefix, /^sy_[A-Za-z0-9]{8}$/);
  t.is(viewer.slice(0, 11), res.data.viewer.token.prefix);
  t.is(res.data.viewer.token.name, 'VIEWER of engine');
});

test('a run started through the API says so: its origin is the token that started it', async (t) => {
  const wf = await workflow([{ id: 'a', uses: 'core/noop@1' }]);
  const id = await start(wf);
  const own = await app.gql(token, '{ viewer { token { id } } }');
  const res = await app.gql(
    viewer,
    'query($id: ID!) { run(id: $id) { origin { kind tokenId webhookTriggerId deliveryId scheduleId slot } } }',
    { id },
  );
  t.deepEqual(res.data.run.origin, {
    kind: 'API',
    tokenId: own.data.viewer.token.id,
    webhookTriggerId: null,
    deliveryId: null,
    scheduleId: null,
    slot: null,
  });
  const { rows } = await db.query('select origin from runs where id = $1', [id]);
  t.is(rows[0].origin, null, 'API starts store no origin; created_by says who');
});
