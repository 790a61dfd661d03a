/**
 * Compensation (sagas): when a run fails for good, the steps that succeeded and name a
 * `compensate` action are undone in reverse order of completion, each with its own retries,
 * as sandboxed plugin steps against a real upstream on loopback; the run ends FAILED with
 * the compensation of each step recorded and replayable from its events.
 */
import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { replayRun } from '../core/runs/replay.js';
import { ADMIN_TOKEN, startTestAppliance, waitFor, type TestAppliance } from './support/appliance.js';

interface Call {
  path: string;
  body: any;
  idempotencyKey: string | undefined;
}

let app: TestAppliance;
let db: pg.Pool;
let token: string;
let operator: string;
let base: string;
const calls: Call[] = [];
// Answers the upstream gives a path before its normal answer, one per call (status codes).
const scripted = new Map<string, number[]>();
const upstream = http.createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (c: Buffer) => chunks.push(c));
  request.on('end', () => {
    const path = request.url ?? '/';
    const text = Buffer.concat(chunks).toString();
    calls.push({ path, body: text ? JSON.parse(text) : null, idempotencyKey: request.headers['idempotency-key'] as string | undefined });
    const next = scripted.get(path)?.shift();
    const status = next ?? (path.includes('/fail') ? 400 : 200);
    if (path.startsWith('/hang')) return; // answered never: the test cancels the run
    if (path.startsWith('/slow')) {
      setTimeout(() => response.writeHead(200, { 'content-type': 'application/json' }).end('{"undone":true}'), 1500);
      return;
    }
    response
      .writeHead(status, { 'content-type': 'application/json' })
      .end(JSON.stringify({ id: `${path.slice(1).split('/')[0]}-1`, status }));
  });
});

test.before(async () => {
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  app = await startTestAppliance({ config: { sandboxPoolSize: 1 } });
  db = new pg.Pool({ connectionString: app.databaseUrl, max: 2 });
  const policy = await app.gql(
    ADMIN_TOKEN,
    'mutation($h: [String!]) { setPluginPolicy(input: { name: "http", allowedHosts: $h, allowedPrivate: ["127.0.0.1"] }) { allowedHosts } }',
    { h: [`127.0.0.1:${port}`] },
  );
  if (policy.errors) throw new Error(JSON.stringify(policy.errors));
  const tenant = await app.tenant('sagas', ['ADMIN', 'OPERATOR']);
  token = tenant.tokens['ADMIN']!;
  operator = tenant.tokens['OPERATOR']!;
});

test.after.always(async () => {
  await db?.end();
  await app?.stop();
  upstream.closeAllConnections();
  upstream.close();
});

const RUN = `id status error { code message } steps { stepId status attempts compensation { status order attempts output error { code message retryable } idempotencyKey startedAt finishedAt } }
  events(first: 100) { nodes { seq type stepId data } }`;

async function workflow(name: string, steps: unknown[]): Promise<string> {
  const res = await app.gql(token, 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }', {
    n: name,
    d: { steps },
  });
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.createWorkflow.id;
}

async function startAndSettle(workflowId: string, input: unknown = {}): Promise<any> {
  const started = await app.gql(operator, 'mutation($i: StartRunInput!) { startRun(input: $i) { id } }', { i: { workflowId, input } });
  if (started.errors) throw new Error(JSON.stringify(started.errors));
  return settled(started.data.startRun.id);
}

async function settled(runId: string): Promise<any> {
  return waitFor(
    async () => {
      const res = await app.gql(operator, `query($id: ID!) { run(id: $id) { ${RUN} } }`, { id: runId });
      if (res.errors) throw new Error(JSON.stringify(res.errors));
      const run = res.data?.run;
      return run && ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(run.status) ? run : undefined;
    },
    `run ${runId} to settle`,
    60_000,
  );
}

const post = (path: string, body: unknown = {}, headers: Record<string, string> = {}) => ({
  method: 'POST',
  url: `${base}${path}`,
  body,
  headers,
});
const step = (run: any, id: string) => run.steps.find((s: any) => s.stepId === id);
const pathsOf = (prefix: string) => calls.filter((c) => c.path.includes(prefix)).map((c) => c.path);

async function assertReplays(t: any, runId: string): Promise<void> {
  const {
    rows: [run],
  } = await db.query(
    'select r.status, r.error, v.definition from runs r join workflow_versions v on v.id = r.workflow_version_id where r.id = $1',
    [runId],
  );
  const { rows: events } = await db.query('select type, step_id as "stepId", data from run_events where run_id = $1 order by seq', [runId]);
  const { rows: steps } = await db.query('select step_id, status, attempts, compensation from step_executions where run_id = $1', [runId]);
  const replayed = replayRun(run.definition, events);
  t.is(replayed.status, run.status);
  t.deepEqual(replayed.error, run.error);
  for (const s of steps) {
    t.like(replayed.steps[s.step_id], { status: s.status, attempts: s.attempts });
    const c = s.compensation;
    t.deepEqual(
      replayed.steps[s.step_id]!.compensation,
      c ? { status: c.status, attempts: c.attempts, output: c.output, error: c.error } : null,
      `step ${s.step_id} compensation replays`,
    );
  }
}

test('a failing saga undoes its succeeded steps in reverse order of completion, retrying a compensation that fails once, and ends FAILED', async (t) => {
  scripted.set('/saga1/refund', [503]);
  const wf = await workflow('saga-order', [
    {
      id: 'reserve',
      uses: 'http/request@1',
      with: post('/saga1/reserve', { item: '{{ input.item }}' }),
      compensate: {
        uses: 'http/request@1',
        with: post('/saga1/release', { reservation: '{{ steps.reserve.output.body.id }}' }, { 'idempotency-key': '{{ run.id }}:release' }),
      },
    },
    {
      id: 'charge',
      uses: 'http/request@1',
      needs: ['reserve'],
      with: post('/saga1/charge', { amount: 42 }),
      compensate: {
        uses: 'http/request@1',
        with: post('/saga1/refund', { charge: '{{ steps.charge.output.body.id }}' }, { 'idempotency-key': '{{ run.id }}:refund' }),
        retry: { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 100 },
      },
    },
    { id: 'note', uses: 'core/noop@1', needs: ['charge'], with: { said: 'no compensate: nothing to undo' } },
    { id: 'ship', uses: 'http/request@1', needs: ['note'], retry: { maxAttempts: 1 }, with: post('/saga1/fail-ship') },
  ]);
  const run = await startAndSettle(wf, { item: 'widget' });

  t.is(run.status, 'FAILED');
  t.is(run.error.code, 'STEP_FAILED');
  t.regex(run.error.message, /step "ship" failed/);
  t.deepEqual(
    pathsOf('/saga1/'),
    ['/saga1/reserve', '/saga1/charge', '/saga1/fail-ship', '/saga1/refund', '/saga1/refund', '/saga1/release'],
    'the last completed step (charge) is undone first, its refund retried after a 503, then reserve',
  );
  const refunds = calls.filter((c) => c.path === '/saga1/refund');
  t.deepEqual(
    refunds.map((c) => c.body),
    [{ charge: 'saga1-1' }, { charge: 'saga1-1' }],
    "the compensation read the step's output",
  );
  t.deepEqual(
    refunds.map((c) => c.idempotencyKey),
    [`${run.id}:refund`, `${run.id}:refund`],
    'its retries carry one idempotency key',
  );
  t.deepEqual(calls.find((c) => c.path === '/saga1/release')!.body, { reservation: 'saga1-1' });

  t.like(step(run, 'charge'), { status: 'SUCCEEDED', compensation: { status: 'SUCCEEDED', order: 0, attempts: 2, error: null } });
  t.like(step(run, 'reserve'), { status: 'SUCCEEDED', compensation: { status: 'SUCCEEDED', order: 1, attempts: 1 } });
  t.is(step(run, 'charge').compensation.output.status, 200);
  t.is(step(run, 'charge').compensation.idempotencyKey, `${run.id}:charge:compensate`);
  t.is(step(run, 'note').compensation, null, 'a step without compensate is not compensated');
  t.like(step(run, 'ship'), { status: 'FAILED', compensation: null });

  const types = run.events.nodes.map((e: any) => `${e.type}${e.stepId ? `:${e.stepId}` : ''}`);
  const from = types.indexOf('RUN_COMPENSATING');
  t.deepEqual(types.slice(from), [
    'RUN_COMPENSATING',
    'COMPENSATION_STARTED:charge',
    'COMPENSATION_FAILED:charge',
    'COMPENSATION_RETRY_SCHEDULED:charge',
    'COMPENSATION_STARTED:charge',
    'COMPENSATION_SUCCEEDED:charge',
    'COMPENSATION_STARTED:reserve',
    'COMPENSATION_SUCCEEDED:reserve',
    'RUN_FAILED',
  ]);
  const compensating = run.events.nodes[from];
  t.deepEqual(compensating.data.steps, ['charge', 'reserve']);
  t.is(compensating.data.stepId, 'ship');
  t.deepEqual(run.events.nodes.at(-1).data.compensation, { compensated: 2, failed: 0 });
  await assertReplays(t, run.id);

  const retried = await app.gql(operator, 'mutation($id: ID!) { retryRun(id: $id) { id } }', { id: run.id });
  t.is(retried.errors?.[0]?.extensions.code, 'CONFLICT');
  t.regex(retried.errors![0]!.message, /was compensated/);
});

test('a compensation that fails for good is recorded FAILED and the others still run', async (t) => {
  const wf = await workflow('saga-partial', [
    { id: 'a', uses: 'http/request@1', with: post('/saga2/a'), compensate: { uses: 'http/request@1', with: post('/saga2/undo-a') } },
    {
      id: 'b',
      uses: 'http/request@1',
      needs: ['a'],
      with: post('/saga2/b'),
      compensate: {
        uses: 'http/request@1',
        with: post('/saga2/fail-undo-b'),
        retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 10 },
      },
    },
    { id: 'c', uses: 'core/code@1', needs: ['b'], with: { code: 'throw new Error("c is broken")' }, retry: { maxAttempts: 1 } },
  ]);
  const run = await startAndSettle(wf);
  t.is(run.status, 'FAILED');
  t.deepEqual(
    pathsOf('/saga2/'),
    ['/saga2/a', '/saga2/b', '/saga2/fail-undo-b', '/saga2/undo-a'],
    'a 400 is permanent: no retry, and a is still undone',
  );
  t.like(step(run, 'b').compensation, { status: 'FAILED', attempts: 1 });
  t.is(step(run, 'b').compensation.error.code.length > 0, true);
  t.like(step(run, 'a').compensation, { status: 'SUCCEEDED', attempts: 1 });
  t.deepEqual(run.events.nodes.at(-1).data.compensation, { compensated: 1, failed: 1 });
  t.is(run.error.code, 'STEP_FAILED', "the run's error stays the failure that started the compensation");
  await assertReplays(t, run.id);
});

test('parallel branches are undone in the order they completed; core actions compensate too', async (t) => {
  const wf = await workflow('saga-parallel', [
    {
      id: 'fast',
      uses: 'core/noop@1',
      with: { v: 1 },
      compensate: { uses: 'core/code@1', with: { code: 'return { undid: steps.fast.v }' } },
    },
    {
      id: 'slow',
      uses: 'core/delay@1',
      with: { ms: 300 },
      compensate: { uses: 'core/noop@1', with: { waited: '{{ steps.slow.output.waitedMs }}' } },
    },
    { id: 'boom', uses: 'core/code@1', needs: ['fast', 'slow'], with: { code: 'throw new Error("no")' }, retry: { maxAttempts: 1 } },
  ]);
  const run = await startAndSettle(wf);
  t.is(run.status, 'FAILED');
  t.is(step(run, 'fast').compensation.error, null, JSON.stringify(step(run, 'fast').compensation.error));
  t.like(step(run, 'slow').compensation, { status: 'SUCCEEDED', order: 0 });
  t.like(step(run, 'fast').compensation, { status: 'SUCCEEDED', order: 1, output: { undid: 1 } });
  t.true(Number(step(run, 'slow').compensation.output.waited) >= 300);
  const finished = (id: string) => Date.parse(step(run, id).compensation.finishedAt);
  t.true(
    finished('slow') <= Date.parse(step(run, 'fast').compensation.startedAt),
    'one compensation at a time, slow (completed last) first',
  );
  await assertReplays(t, run.id);
});

test('a run that fails before any compensable step succeeded, or a failed continue-on-error step, compensates nothing', async (t) => {
  const wf = await workflow('saga-none', [
    {
      id: 'soft',
      uses: 'core/code@1',
      onError: 'continue',
      retry: { maxAttempts: 1 },
      with: { code: 'throw new Error("tolerated")' },
      compensate: { uses: 'core/noop@1' },
    },
    {
      id: 'hard',
      uses: 'core/code@1',
      needs: ['soft'],
      retry: { maxAttempts: 1 },
      with: { code: 'throw new Error("fatal")' },
      compensate: { uses: 'core/noop@1' },
    },
  ]);
  const run = await startAndSettle(wf);
  t.is(run.status, 'FAILED');
  t.is(step(run, 'soft').compensation, null);
  t.is(step(run, 'hard').compensation, null);
  t.false(run.events.nodes.some((e: any) => e.type === 'RUN_COMPENSATING'));
  const retried = await app.gql(operator, 'mutation($id: ID!) { retryRun(id: $id) { id status } }', { id: run.id });
  t.falsy(retried.errors, 'a run that undid nothing can be retried as before');
});

test('cancelling a run while it compensates stops the running compensation and cancels the rest', async (t) => {
  const wf = await workflow('saga-cancel', [
    { id: 'first', uses: 'core/noop@1', compensate: { uses: 'core/noop@1' } },
    {
      id: 'second',
      uses: 'core/noop@1',
      needs: ['first'],
      compensate: { uses: 'http/request@1', with: post('/hang/undo-second'), timeoutMs: 60_000 },
    },
    { id: 'third', uses: 'core/code@1', needs: ['second'], retry: { maxAttempts: 1 }, with: { code: 'throw new Error("x")' } },
  ]);
  const started = await app.gql(operator, 'mutation($i: StartRunInput!) { startRun(input: $i) { id } }', { i: { workflowId: wf } });
  const runId = started.data.startRun.id;
  await waitFor(async () => calls.some((c) => c.path === '/hang/undo-second'), 'the hanging compensation to be called');
  const during = await app.gql(
    operator,
    `query($id: ID!) { run(id: $id) { status error { code message } ${''} steps { stepId compensation { status } } } }`,
    { id: runId },
  );
  t.is(during.data.run.status, 'RUNNING', 'a compensating run is still active');
  t.is(during.data.run.error.code, 'STEP_FAILED', 'and says which failure it is undoing');
  const cancelled = await app.gql(operator, 'mutation($id: ID!) { cancelRun(id: $id) { status } }', { id: runId });
  t.falsy(cancelled.errors, JSON.stringify(cancelled.errors));
  const run = await settled(runId);
  t.is(run.status, 'CANCELLED');
  t.like(step(run, 'second').compensation, { status: 'CANCELLED' });
  t.like(step(run, 'first').compensation, { status: 'CANCELLED', attempts: 0 });
  await assertReplays(t, runId);
});

test('a run failing just before its deadline is still undone: compensation gets time of its own', async (t) => {
  const res = await app.gql(token, 'mutation($d: JSON!) { createWorkflow(input: { name: "saga-deadline", definition: $d }) { id } }', {
    d: {
      timeoutMs: 1000,
      steps: [
        { id: 'made', uses: 'core/noop@1', compensate: { uses: 'http/request@1', with: post('/slow/undo-made'), timeoutMs: 5000 } },
        { id: 'broke', uses: 'core/code@1', needs: ['made'], retry: { maxAttempts: 1 }, with: { code: 'throw new Error("late failure")' } },
      ],
    },
  });
  const run = await startAndSettle(res.data.createWorkflow.id);
  t.is(run.status, 'FAILED', 'not TIMED_OUT: the 1.5 s undo ran past the 1 s deadline');
  t.like(step(run, 'made').compensation, { status: 'SUCCEEDED', output: { body: { undone: true } } });
  const { rows } = await db.query("select deadline_at - created_at > interval '5 seconds' as extended from runs where id = $1", [run.id]);
  t.true(rows[0].extended, "the deadline was pushed out by the compensation's budget");
});

test('compensate is validated like a step: action, templates, and no waiting actions', async (t) => {
  const create = (steps: unknown[]) =>
    app.gql(token, 'mutation($d: JSON!) { createWorkflow(input: { name: "bad-saga", definition: $d }) { id } }', { d: { steps } });
  const cases: [unknown[], string, RegExp][] = [
    [
      [{ id: 'a', uses: 'core/noop@1', compensate: { uses: 'core/approval@1' } }],
      'steps[0].compensate.uses',
      /cannot wait for an approval/,
    ],
    [
      [{ id: 'a', uses: 'core/noop@1', compensate: { uses: 'core/delay@1', with: { ms: 1 } } }],
      'steps[0].compensate.uses',
      /cannot be a delay/,
    ],
    [[{ id: 'a', uses: 'core/noop@1', compensate: { uses: 'nope/missing@1' } }], 'steps[0].compensate.uses', /./],
    [[{ id: 'a', uses: 'core/noop@1', compensate: { with: {} } }], 'steps[0].compensate.uses', /is required/],
    [[{ id: 'a', uses: 'core/noop@1', compensate: { uses: 'core/noop@1', extra: 1 } }], 'steps[0].compensate.extra', /unknown property/],
    [
      [
        { id: 'a', uses: 'core/noop@1' },
        { id: 'b', uses: 'core/noop@1', compensate: { uses: 'core/noop@1', with: { x: '{{ steps.a.output }}' } } },
      ],
      'steps[1].compensate.with.x',
      /not upstream/,
    ],
    [
      [{ id: 'a', uses: 'core/noop@1', compensate: { uses: 'core/noop@1', retry: { initialDelayMs: 10, maxDelayMs: 5 } } }],
      'steps[0].compensate.retry.initialDelayMs',
      /must not exceed/,
    ],
  ];
  for (const [steps, path, message] of cases) {
    const res = await create(steps);
    t.is(res.errors?.[0]?.extensions.code, 'BAD_USER_INPUT', JSON.stringify(steps));
    const issues = (res.errors![0]!.extensions['issues'] ?? [
      { path: res.errors![0]!.extensions['path'], message: res.errors![0]!.message },
    ]) as { path: string; message: string }[];
    t.true(
      issues.some((i) => i.path === path && message.test(i.message)),
      `${path}: ${JSON.stringify(issues)}`,
    );
  }
  const { rows } = await db.query("select count(*)::int as n from workflows where name = 'bad-saga'");
  t.is(rows[0].n, 0, 'no refused definition was stored');
  const ok = await create([{ id: 'a', uses: 'core/noop@1', compensate: { uses: 'core/noop@1', with: { own: '{{ steps.a.output }}' } } }]);
  t.falsy(ok.errors, "a compensation may read its own step's output");
});
