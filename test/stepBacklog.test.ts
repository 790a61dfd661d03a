/**
 * Per-tenant step backlogs (0013_step_backlog.sql): a tenant has at most
 * tenantMaxReadySteps ready jobs in the shared queue; the rest wait in its backlog, in
 * order, and enter the queue as earlier ones finish, across processes and restarts.
 */
import test from 'ava';
import pg from 'pg';
import { startTestAppliance, waitFor, type TestAppliance } from './support/appliance.js';
import { ScriptedExecutor } from './support/scriptedExecutor.js';

const MAX_READY = 3;
const FAN_OUT = 24;

interface QueueState {
  queued: number;
  backlog: number;
  running: number;
}

async function queueState(db: pg.Pool, tenantId: string): Promise<QueueState> {
  const { rows } = await db.query<QueueState>(
    `select (select count(*)::int from graphile_worker._private_jobs where payload->>'t' = $1::text) as queued,
            (select count(*)::int from step_backlog where tenant_id = $1::uuid) as backlog,
            (select count(*)::int from step_executions where tenant_id = $1::uuid and status = 'RUNNING') as running`,
    [tenantId],
  );
  return rows[0]!;
}

async function setup(app: TestAppliance, steps: object[]): Promise<{ tenantId: string; token: string; workflowId: string }> {
  const tenant = await app.tenant(`backlog-${Date.now()}-${Math.random()}`, ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  const created = await app.gql(token, 'mutation($d: JSON!) { createWorkflow(input: { name: "fan-out", definition: $d }) { id } }', {
    d: { steps },
  });
  return { tenantId: tenant.id, token, workflowId: created.data.createWorkflow.id };
}

const fanOut = (with_: object) => Array.from({ length: FAN_OUT }, (_, i) => ({ id: `p${i}`, uses: 'http/request@1', with: with_ }));
const startRun = async (app: TestAppliance, token: string, workflowId: string) =>
  (await app.gql(token, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', { w: workflowId })).data.startRun.id as string;
const runStatus = async (app: TestAppliance, token: string, runId: string) =>
  (await app.gql(token, 'query($r: ID!) { run(id: $r) { status } }', { r: runId })).data.run.status as string;

test(`a tenant has at most ${MAX_READY} ready jobs in the queue; the rest wait in its backlog and all run, never more than ${MAX_READY} at once`, async (t) => {
  // An API-only process first: nothing drains the queue, so what the start wrote is visible.
  const config = { tenantMaxReadySteps: MAX_READY, workerConcurrency: 8, apiRateLimitPerSecond: 100_000, apiRateLimitBurst: 100_000 };
  const api = await startTestAppliance({ config: { ...config, role: 'api' } });
  const db = new pg.Pool({ connectionString: api.databaseUrl, max: 2 });
  try {
    const { tenantId, token, workflowId } = await setup(api, fanOut({ mode: 'sleep', ms: 40 }));
    const runId = await startRun(api, token, workflowId);
    t.deepEqual(await queueState(db, tenantId), { queued: MAX_READY, backlog: FAN_OUT - MAX_READY, running: 0 });
    const { rows: order } = await db.query<{ step: string }>(
      `select job->'payload'->>'s' as step from step_backlog where tenant_id = $1 order by id`,
      [tenantId],
    );
    t.deepEqual(
      order.map((r) => r.step),
      Array.from({ length: FAN_OUT - MAX_READY }, (_, i) => `p${i + MAX_READY}`),
      'the backlog keeps the steps in order',
    );

    // A worker with more workers than the tenant may use: the backlog, not the pool, limits it.
    const worker = await startTestAppliance({
      databaseUrl: api.databaseUrl,
      executor: new ScriptedExecutor(),
      config: { ...config, role: 'worker' },
    });
    try {
      let mostRunning = 0;
      await waitFor(
        async () => {
          const state = await queueState(db, tenantId);
          mostRunning = Math.max(mostRunning, state.running);
          return (await runStatus(api, token, runId)) === 'SUCCEEDED';
        },
        'the fanned-out run',
        60_000,
      );
      t.is(mostRunning, MAX_READY, `at most ${MAX_READY} of the tenant's steps ran at once, and that many did`);
      t.deepEqual(await queueState(db, tenantId), { queued: 0, backlog: 0, running: 0 });
    } finally {
      await worker.stop();
    }
  } finally {
    await db.end();
    await api.stop();
  }
});

test("another tenant's steps do not wait behind a backlog: they go straight to the queue", async (t) => {
  const app = await startTestAppliance({
    config: { role: 'api', tenantMaxReadySteps: MAX_READY, apiRateLimitPerSecond: 100_000, apiRateLimitBurst: 100_000 },
  });
  const db = new pg.Pool({ connectionString: app.databaseUrl, max: 2 });
  try {
    const flood = await setup(app, fanOut({}));
    const quiet = await setup(app, [{ id: 'only', uses: 'core/noop@1' }]);
    await startRun(app, flood.token, flood.workflowId);
    await startRun(app, quiet.token, quiet.workflowId);
    t.like(await queueState(db, flood.tenantId), { queued: MAX_READY, backlog: FAN_OUT - MAX_READY });
    t.deepEqual(await queueState(db, quiet.tenantId), { queued: 1, backlog: 0, running: 0 });
  } finally {
    await db.end();
    await app.stop();
  }
});

test("cancelling a run removes its backlogged steps; the tenant's other runs move up", async (t) => {
  const app = await startTestAppliance({
    config: { role: 'api', tenantMaxReadySteps: MAX_READY, apiRateLimitPerSecond: 100_000, apiRateLimitBurst: 100_000 },
  });
  const db = new pg.Pool({ connectionString: app.databaseUrl, max: 2 });
  try {
    const { tenantId, token, workflowId } = await setup(app, fanOut({}));
    const first = await startRun(app, token, workflowId);
    const second = await startRun(app, token, workflowId);
    t.like(await queueState(db, tenantId), { queued: MAX_READY, backlog: 2 * FAN_OUT - MAX_READY });
    const cancelled = await app.gql(token, 'mutation($r: ID!) { cancelRun(id: $r) { status } }', { r: first });
    t.is(cancelled.data.cancelRun.status, 'CANCELLED');
    const { rows } = await db.query<{ run: string; n: number }>(
      `select job->'payload'->>'r' as run, count(*)::int as n from step_backlog where tenant_id = $1 group by 1`,
      [tenantId],
    );
    t.deepEqual(
      rows,
      [{ run: second, n: FAN_OUT - MAX_READY }],
      "only the second run's steps are left in the backlog; its first ones took the freed places",
    );
    t.like(await queueState(db, tenantId), { queued: MAX_READY });
  } finally {
    await db.end();
    await app.stop();
  }
});

test("a backlog no transaction of its tenant will promote (its last ready job finished elsewhere) is moved by the engine's pump", async (t) => {
  const app = await startTestAppliance({
    executor: new ScriptedExecutor(),
    config: { tenantMaxReadySteps: MAX_READY, apiRateLimitPerSecond: 100_000, apiRateLimitBurst: 100_000 },
  });
  const db = new pg.Pool({ connectionString: app.databaseUrl, max: 2 });
  try {
    const { tenantId, token, workflowId } = await setup(app, [{ id: 'only', uses: 'core/noop@1' }]);
    const runId = await startRun(app, token, workflowId);
    await waitFor(async () => (await runStatus(app, token, runId)) === 'SUCCEEDED', 'the run');
    // A job parked as a start would park it with the queue full, for a step that has since settled.
    const {
      rows: [job],
    } = await db.query(
      `select json_build_object('identifier', 'sy_step', 'payload', json_build_object('t', $1::text, 'r', $2::text, 's', 'only'),
              'run_at', null, 'max_attempts', 25, 'job_key', 'stranded:' || $2, 'priority', 0, 'flags', null)::jsonb as job`,
      [tenantId, runId],
    );
    await db.query('insert into step_backlog (tenant_id, job_key, job) values ($1, $2, $3)', [tenantId, job.job.job_key, job.job]);
    await waitFor(async () => (await queueState(db, tenantId)).backlog === 0, 'the pump to move the stranded job', 10_000);
    await waitFor(async () => (await queueState(db, tenantId)).queued === 0, 'the moved job to run (and find its step settled)', 10_000);
    t.is(await runStatus(app, token, runId), 'SUCCEEDED', 'a job for a settled step changes nothing');
  } finally {
    await db.end();
    await app.stop();
  }
});

test(`starts of one tenant racing in two processes still leave at most ${MAX_READY} of its jobs in the queue`, async (t) => {
  // Two API processes, each committing several starts at once: every start sees the queue
  // before the others commit, which is the race the tenant's promotion lock closes.
  const config = { role: 'api' as const, tenantMaxReadySteps: MAX_READY, apiRateLimitPerSecond: 100_000, apiRateLimitBurst: 100_000 };
  const first = await startTestAppliance({ config });
  const second = await startTestAppliance({ databaseUrl: first.databaseUrl, config });
  const db = new pg.Pool({ connectionString: first.databaseUrl, max: 2 });
  try {
    const { tenantId, token, workflowId } = await setup(
      first,
      Array.from({ length: 2 }, (_, i) => ({ id: `p${i}`, uses: 'core/noop@1' })),
    );
    const STARTS = 20;
    await Promise.all(Array.from({ length: STARTS }, (_, i) => startRun(i % 2 === 0 ? first : second, token, workflowId)));
    t.deepEqual(await queueState(db, tenantId), { queued: MAX_READY, backlog: 2 * STARTS - MAX_READY, running: 0 });
  } finally {
    await db.end();
    await second.stop();
    await first.stop();
  }
});
