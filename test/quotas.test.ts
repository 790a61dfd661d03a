/**
 * Per-tenant quotas set by a system admin: each tested at its limit, refused with
 * QUOTA_EXCEEDED naming the quota, its limit and the current value, and changing nothing.
 * Counters live in PostgreSQL, so they hold across processes and restarts.
 */
import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import { startTestAppliance, waitFor, ADMIN_TOKEN, type TestAppliance, type GraphQLResponse } from './support/appliance.js';

const GATE = { steps: [{ id: 'gate', uses: 'core/approval@1' }] };
const NOOP = { steps: [{ id: 'a', uses: 'core/noop@1' }] };

async function setQuota(app: TestAppliance, tenantId: string, quota: Record<string, number>): Promise<void> {
  const set = await app.gql(ADMIN_TOKEN, 'mutation($i: SetTenantQuotaInput!) { setTenantQuota(input: $i) { id } }', {
    i: { tenantId, ...quota },
  });
  if (set.errors) throw new Error(JSON.stringify(set.errors));
}

async function workflow(app: TestAppliance, token: string, name: string, definition: unknown): Promise<string> {
  const made = await app.gql(token, 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }', {
    n: name,
    d: definition,
  });
  if (made.errors) throw new Error(JSON.stringify(made.errors));
  return made.data.createWorkflow.id;
}

const start = (app: TestAppliance, token: string, workflowId: string, input: unknown = {}) =>
  app.gql(token, 'mutation($w: ID!, $i: JSON) { startRun(input: { workflowId: $w, input: $i }) { id status deadlineAt createdAt } }', {
    w: workflowId,
    i: input,
  });

function assertQuota(t: ExecutionContext, response: GraphQLResponse, quota: string, limit: number, current: number): void {
  t.is(response.errors?.length, 1, JSON.stringify(response));
  const error = response.errors![0]!;
  t.is(error.extensions.code, 'QUOTA_EXCEEDED');
  t.like(error.extensions, { quota, limit, current });
  t.regex(error.message, new RegExp(`quota ${quota} exceeded: limit ${limit}, current ${current}`));
}

async function count(app: TestAppliance, sql: string, values: unknown[]): Promise<number> {
  const client = new pg.Client({ connectionString: app.databaseUrl });
  await client.connect();
  try {
    return Number((await client.query(sql, values)).rows[0].n);
  } finally {
    await client.end();
  }
}

let app: TestAppliance;
test.before(async () => {
  app = await startTestAppliance();
});
test.after.always(async () => {
  await app?.stop();
});

test('maxConcurrentRuns counts a run from start to its terminal state; at the limit a start or retry is refused and changes nothing', async (t) => {
  const tenant = await app.tenant('concurrency', ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  const gate = await workflow(app, token, 'gate', GATE);
  await setQuota(app, tenant.id, { maxConcurrentRuns: 2 });
  const first = await start(app, token, gate);
  const second = await start(app, token, gate);
  t.falsy(first.errors);
  t.falsy(second.errors);
  const refused = await start(app, token, gate);
  assertQuota(t, refused, 'maxConcurrentRuns', 2, 2);
  t.is(await count(app, 'select count(*) as n from runs where tenant_id = $1', [tenant.id]), 2, 'the refused start created no run');
  t.is(
    await count(app, `select count(*) as n from audit_events where tenant_id = $1 and action = 'run.started'`, [tenant.id]),
    2,
    'and audited no start',
  );

  // Terminal: the slot is free again.
  await app.gql(token, 'mutation($r: ID!) { cancelRun(id: $r) { id } }', { r: first.data.startRun.id });
  const third = await start(app, token, gate);
  t.falsy(third.errors, 'a cancelled run no longer counts');
  // A retry makes a run active again, so it is admitted like a start.
  const retried = await app.gql(token, 'mutation($r: ID!) { retryRun(id: $r) { id status } }', { r: first.data.startRun.id });
  assertQuota(t, retried, 'maxConcurrentRuns', 2, 2);
  const still = await app.gql(token, 'query($r: ID!) { run(id: $r) { status } }', { r: first.data.startRun.id });
  t.is(still.data.run.status, 'CANCELLED', 'the refused retry changed nothing');

  // Another tenant is not limited by this one's quota.
  const other = await app.tenant('unlimited', ['ADMIN']);
  const otherGate = await workflow(app, other.tokens['ADMIN']!, 'gate', GATE);
  for (let i = 0; i < 3; i++) t.falsy((await start(app, other.tokens['ADMIN']!, otherGate)).errors);
});

test('maxConcurrentRuns holds under a burst of concurrent starts (one batch, refused ones retried alone)', async (t) => {
  const tenant = await app.tenant('burst', ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  const gate = await workflow(app, token, 'gate', GATE);
  await setQuota(app, tenant.id, { maxConcurrentRuns: 5 });
  const results = await Promise.all(Array.from({ length: 20 }, () => start(app, token, gate)));
  const ok = results.filter((r) => !r.errors);
  const refused = results.filter((r) => r.errors);
  t.is(ok.length, 5);
  t.is(refused.length, 15);
  for (const r of refused) t.is(r.errors![0]!.extensions.code, 'QUOTA_EXCEEDED');
  t.is(await count(app, 'select count(*) as n from runs where tenant_id = $1', [tenant.id]), 5);
});

test('maxRunsPerDay: the limit-th run of the UTC day starts, the next is refused and not counted', async (t) => {
  const tenant = await app.tenant('daily', ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  const noop = await workflow(app, token, 'noop', NOOP);
  await setQuota(app, tenant.id, { maxRunsPerDay: 3 });
  for (let i = 0; i < 3; i++) t.falsy((await start(app, token, noop)).errors, `run ${i + 1} of 3`);
  assertQuota(t, await start(app, token, noop), 'maxRunsPerDay', 3, 3);
  t.is(
    await count(app, `select runs_started as n from tenant_daily_usage where tenant_id = $1 and day = (now() at time zone 'utc')::date`, [
      tenant.id,
    ]),
    3,
  );
  // Raising the quota admits more the same day; the counter continues from 3.
  await setQuota(app, tenant.id, { maxRunsPerDay: 4 });
  t.falsy((await start(app, token, noop)).errors);
  assertQuota(t, await start(app, token, noop), 'maxRunsPerDay', 4, 4);
});

test('maxStepsPerWorkflow and maxRunDurationSeconds bound what may be created and published', async (t) => {
  const tenant = await app.tenant('shape', ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  await setQuota(app, tenant.id, { maxStepsPerWorkflow: 2, maxRunDurationSeconds: 60 });
  const two = {
    steps: [
      { id: 'a', uses: 'core/noop@1' },
      { id: 'b', uses: 'core/noop@1' },
    ],
  };
  const three = { steps: [...two.steps, { id: 'c', uses: 'core/noop@1' }] };
  const id = await workflow(app, token, 'two', two);
  const create = await app.gql(token, 'mutation($d: JSON!) { createWorkflow(input: { name: "three", definition: $d }) { id } }', {
    d: three,
  });
  assertQuota(t, create, 'maxStepsPerWorkflow', 2, 3);
  const publish = await app.gql(
    token,
    'mutation($w: ID!, $d: JSON!) { publishWorkflowVersion(input: { workflowId: $w, definition: $d }) { version } }',
    { w: id, d: three },
  );
  assertQuota(t, publish, 'maxStepsPerWorkflow', 2, 3);

  const atLimit = await app.gql(
    token,
    'mutation($w: ID!, $d: JSON!) { publishWorkflowVersion(input: { workflowId: $w, definition: $d }) { version } }',
    { w: id, d: { ...two, timeoutMs: 60_000 } },
  );
  t.falsy(atLimit.errors, 'timeoutMs of exactly the limit is accepted');
  const over = await app.gql(
    token,
    'mutation($w: ID!, $d: JSON!) { publishWorkflowVersion(input: { workflowId: $w, definition: $d }) { version } }',
    { w: id, d: { ...two, timeoutMs: 61_000 } },
  );
  assertQuota(t, over, 'maxRunDurationSeconds', 60, 61);
  const versions = await app.gql(token, 'query($w: ID!) { workflow(id: $w) { latestVersion { version } } }', { w: id });
  t.is(versions.data.workflow.latestVersion.version, 2, 'refused versions were not published');

  // A workflow without its own timeout runs with the quota as its deadline, not the appliance's 7 days.
  const noTimeout = await workflow(app, token, 'gate', GATE);
  const run = await start(app, token, noTimeout);
  const ms = Date.parse(run.data.startRun.deadlineAt) - Date.parse(run.data.startRun.createdAt);
  t.true(Math.abs(ms - 60_000) < 1000, `deadline ${ms} ms after the start`);
});

test('maxInputBytes: an input of exactly the limit starts, one byte more is refused', async (t) => {
  const tenant = await app.tenant('input', ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  const noop = await workflow(app, token, 'noop', NOOP);
  await setQuota(app, tenant.id, { maxInputBytes: 100 });
  const exactly = { s: 'x'.repeat(100 - JSON.stringify({ s: '' }).length) };
  t.is(Buffer.byteLength(JSON.stringify(exactly)), 100);
  t.falsy((await start(app, token, noop, exactly)).errors);
  assertQuota(t, await start(app, token, noop, { s: `${exactly.s}y` }), 'maxInputBytes', 100, 101);
  t.is(await count(app, 'select count(*) as n from runs where tenant_id = $1', [tenant.id]), 1);
});

test('setTenantQuota refuses bad values and changes nothing', async (t) => {
  const tenant = await app.tenant('bad-quota', ['ADMIN']);
  await setQuota(app, tenant.id, { maxConcurrentRuns: 7 });
  for (const [field, value] of [
    ['maxConcurrentRuns', -1],
    ['maxRunsPerDay', 1.5],
    ['sandboxCpuMsPerDay', 3_000_000_000],
  ] as const) {
    const bad = await app.gql(ADMIN_TOKEN, 'mutation($i: SetTenantQuotaInput!) { setTenantQuota(input: $i) { id } }', {
      i: { tenantId: tenant.id, [field]: value },
    });
    t.is(bad.errors?.[0]?.extensions.code, 'BAD_USER_INPUT', `${field} = ${value}`);
  }
  const read = await app.gql(ADMIN_TOKEN, 'query { tenants(first: 100) { nodes { id quota { maxConcurrentRuns maxRunsPerDay } } } }');
  const quota = read.data.tenants.nodes.find((n: { id: string }) => n.id === tenant.id).quota;
  t.deepEqual(quota, { maxConcurrentRuns: 7, maxRunsPerDay: null });
});

test("sandboxCpuMsPerDay: CPU used by sandboxed steps is recorded with their results; once the day's budget is used, sandboxed steps fail with QUOTA_EXCEEDED", async (t) => {
  const tenant = await app.tenant('cpu', ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  const burn = await workflow(app, token, 'burn', {
    steps: [
      {
        id: 'burn',
        uses: 'core/code@1',
        with: { code: 'const end = Date.now() + 40; let n = 0; while (Date.now() < end) n++; return { n };' },
      },
    ],
  });
  await setQuota(app, tenant.id, { sandboxCpuMsPerDay: 30 });
  const first = await start(app, token, burn);
  const done = await waitFor(async () => {
    const r = await app.gql(token, 'query($r: ID!) { run(id: $r) { status } }', { r: first.data.startRun.id });
    return ['SUCCEEDED', 'FAILED'].includes(r.data.run.status) ? r.data.run.status : false;
  }, 'the first burn');
  t.is(done, 'SUCCEEDED', 'under the budget the step runs');
  const used = await count(
    app,
    `select cpu_ms as n from tenant_daily_sandbox_usage where tenant_id = $1 and day = (now() at time zone 'utc')::date`,
    [tenant.id],
  );
  t.true(used >= 30, `recorded ${used} ms`);
  // The gate reads the counter at most a second late.
  await new Promise((r) => setTimeout(r, 1100));
  const second = await start(app, token, burn);
  const failed = await waitFor(async () => {
    const r = await app.gql(token, 'query($r: ID!) { run(id: $r) { status steps { error { code message retryable } } } }', {
      r: second.data.startRun.id,
    });
    return r.data.run.status === 'FAILED' ? r.data.run : false;
  }, 'the second burn refused');
  t.is(failed.steps[0].error.code, 'QUOTA_EXCEEDED');
  t.regex(failed.steps[0].error.message, new RegExp(`quota sandboxCpuMsPerDay exceeded: limit 30, current ${used}`));
  t.is(
    await count(app, `select cpu_ms as n from tenant_daily_sandbox_usage where tenant_id = $1`, [tenant.id]),
    used,
    'a refused step used no CPU',
  );
});

test('quota counters are durable: a second process and a restart see the same counts', async (t) => {
  const tenant = await app.tenant('durable', ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  const gate = await workflow(app, token, 'gate', GATE);
  await setQuota(app, tenant.id, { maxConcurrentRuns: 3, maxRunsPerDay: 5 });
  t.falsy((await start(app, token, gate)).errors);
  const second = await startTestAppliance({ databaseUrl: app.databaseUrl, config: { role: 'api' } });
  try {
    t.falsy((await start(second, token, gate)).errors);
    t.falsy((await start(second, token, gate)).errors);
    assertQuota(t, await start(second, token, gate), 'maxConcurrentRuns', 3, 3);
    assertQuota(t, await start(app, token, gate), 'maxConcurrentRuns', 3, 3);
  } finally {
    await second.stop();
  }
  const restarted = await startTestAppliance({ databaseUrl: app.databaseUrl, config: { role: 'api' } });
  try {
    assertQuota(t, await start(restarted, token, gate), 'maxConcurrentRuns', 3, 3);
  } finally {
    await restarted.stop();
  }
});
