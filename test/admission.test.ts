/**
 * Load shedding: past the queue-depth or database-latency threshold, startRun answers
 * OVERLOADED with retryAfterSeconds (HTTP 503, Retry-After) and creates nothing; once the
 * load is gone, starts are admitted again.
 */
import test from 'ava';
import pg from 'pg';
import { startTestAppliance, waitFor, ADMIN_TOKEN, type TestAppliance } from './support/appliance.js';

const ONE_STEP = { steps: [{ id: 'only', uses: 'core/noop@1' }] };

async function setup(app: TestAppliance): Promise<{ token: string; tenantId: string; workflowId: string }> {
  const tenant = await app.tenant('shed', ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  const made = await app.gql(token, 'mutation($d: JSON!) { createWorkflow(input: { name: "one", definition: $d }) { id } }', {
    d: ONE_STEP,
  });
  return { token, tenantId: tenant.id, workflowId: made.data.createWorkflow.id };
}

async function startOverHttp(
  app: TestAppliance,
  token: string,
  workflowId: string,
): Promise<{ status: number; retryAfter: string | null; body: any }> {
  const response = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', variables: { w: workflowId } }),
  });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() };
}

async function count(app: TestAppliance, table: 'runs' | 'step_backlog', tenantId: string): Promise<number> {
  const client = new pg.Client({ connectionString: app.databaseUrl });
  await client.connect();
  try {
    return (await client.query(`select count(*)::int as n from ${table} where tenant_id = $1`, [tenantId])).rows[0].n;
  } finally {
    await client.end();
  }
}
const runCount = (app: TestAppliance, tenantId: string) => count(app, 'runs', tenantId);

const settleSample = () => new Promise((r) => setTimeout(r, 200));

for (const [where, backlog] of [
  ['in the queue', {}],
  ["in the queue and the tenant's backlog", { tenantMaxReadySteps: 5 }],
] as const) {
  test(`queue depth (steps ${where}): at the threshold starts are admitted; past it they get OVERLOADED (503, Retry-After) until workers drain the queue`, async (t) => {
    // An API-only process: nothing drains the queue until a worker joins.
    const api = await startTestAppliance({
      config: { role: 'api', admissionMaxQueueDepth: 20, admissionSampleIntervalMs: 50, ...backlog },
    });
    try {
      const { token, tenantId, workflowId } = await setup(api);
      for (let i = 0; i < 20; i++) t.is((await startOverHttp(api, token, workflowId)).status, 200);
      await settleSample();
      const atLimit = await startOverHttp(api, token, workflowId);
      t.is(atLimit.status, 200, 'exactly 20 ready steps: still admitted');
      await settleSample();
      const refused = await startOverHttp(api, token, workflowId);
      t.is(refused.status, 503);
      t.is(refused.retryAfter, '5');
      t.is(refused.body.errors[0].extensions.code, 'OVERLOADED');
      t.like(refused.body.errors[0].extensions, { retryAfterSeconds: 5, reason: 'QUEUE_DEPTH', limit: 20 });
      t.falsy(refused.body.errors[0].extensions.http, 'transport details stay out of the body');
      t.is(await runCount(api, tenantId), 21, 'the refused start created nothing');
      if ('tenantMaxReadySteps' in backlog)
        t.is(await count(api, 'step_backlog', tenantId), 16, 'all but 5 of the steps wait in the backlog, and count');
      // Other operations still work: only new work is shed.
      t.is((await api.gql(ADMIN_TOKEN, '{ viewer { role } }')).data.viewer.role, 'SYSTEM_ADMIN');

      const worker = await startTestAppliance({ databaseUrl: api.databaseUrl, config: { role: 'worker', ...backlog } });
      try {
        await waitFor(
          async () => (await startOverHttp(api, token, workflowId)).status === 200,
          'admission after the queue drained',
          30_000,
        );
        t.pass();
      } finally {
        await worker.stop();
      }
    } finally {
      await api.stop();
    }
  });
}

test('database latency: while round trips take longer than the threshold, starts get OVERLOADED; afterwards they are admitted', async (t) => {
  const app = await startTestAppliance({
    config: { role: 'api', dbPoolSize: 4, admissionMaxDbLatencyMs: 200, admissionSampleIntervalMs: 50, admissionMaxQueueDepth: 0 },
  });
  try {
    const { token, tenantId, workflowId } = await setup(app);
    t.is((await startOverHttp(app, token, workflowId)).status, 200);
    // Occupy every connection of the appliance's pool: its own round trips now wait.
    const held = await Promise.all(Array.from({ length: 4 }, () => app.appliance.services.db.pool.connect()));
    let refused: Awaited<ReturnType<typeof startOverHttp>> | undefined;
    try {
      await new Promise((r) => setTimeout(r, 400));
      // The token is checked through the pool as well; the start is refused before it needs one.
      const reply = app.gql(token, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', { w: workflowId });
      await new Promise((r) => setTimeout(r, 100));
      held.pop()!.release();
      const body = await reply;
      refused = { status: body.status, retryAfter: null, body };
    } finally {
      for (const client of held) client.release();
    }
    t.is(refused.status, 503);
    t.is(refused.body.errors[0].extensions.code, 'OVERLOADED');
    t.like(refused.body.errors[0].extensions, { reason: 'DATABASE_LATENCY', limit: 200 });
    t.true(refused.body.errors[0].extensions.retryAfterSeconds >= 1);
    t.is(await runCount(app, tenantId), 1);
    await waitFor(
      async () => (await startOverHttp(app, token, workflowId)).status === 200,
      'admission once the database answers promptly',
      10_000,
    );
    t.is(await runCount(app, tenantId), 2);
  } finally {
    await app.stop();
  }
});
