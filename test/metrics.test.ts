/**
 * /metrics in Prometheus text: runs started and finished by tenant and workflow, step
 * attempt latency, sandbox outcomes, refusals, queue depth, circuit breakers and the
 * database pool, as a real appliance counts them while it works.
 */
import test from 'ava';
import pg from 'pg';
import { startTestAppliance, waitFor } from './support/appliance.js';
import { ScriptedExecutor } from './support/scriptedExecutor.js';
import { freePort } from './fixtures/processes.js';

/** The value of one sample line (`name{labels} value`), or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const got = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v) && Object.keys(got).length === Object.keys(labels).length)
      return Number(match[3]);
  }
  return undefined;
}

test('the appliance counts runs, steps, refusals and breakers as it works, and reads queue and pool when scraped', async (t) => {
  const app = await startTestAppliance({ executor: new ScriptedExecutor() });
  t.teardown(() => app.stop());
  const tenant = await app.tenant(`metrics-${Date.now()}`, ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  const workflow = async (name: string, steps: object[]) =>
    (
      await app.gql(token, 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }', {
        n: name,
        d: { steps },
      })
    ).data.createWorkflow.id as string;
  const ok = await workflow('ok', [{ id: 'call', uses: 'http/request@1', with: { value: 1 } }]);
  const failing = await workflow('failing', [{ id: 'call', uses: 'http/request@1', with: { mode: 'permanent' } }]);
  const waiting = await workflow('waiting', [{ id: 'approve', uses: 'core/approval@1' }]);
  const start = async (workflowId: string, idempotencyKey?: string) =>
    app.gql(token, 'mutation($w: ID!, $k: String) { startRun(input: { workflowId: $w, idempotencyKey: $k }) { id } }', {
      w: workflowId,
      k: idempotencyKey ?? null,
    });
  const status = async (runId: string) =>
    (await app.gql(token, 'query($r: ID!) { run(id: $r) { status } }', { r: runId })).data.run.status as string;

  const first = (await start(ok, 'same')).data.startRun.id as string;
  t.is((await start(ok, 'same')).data.startRun.id, first, 'an idempotent repeat is the same run');
  const failed = (await start(failing)).data.startRun.id as string;
  const parked = (await start(waiting)).data.startRun.id as string;
  await waitFor(
    async () => (await status(first)) === 'SUCCEEDED' && (await status(failed)) === 'FAILED' && (await status(parked)) === 'WAITING',
    'the runs to settle',
  );
  t.is((await app.gql(token, 'mutation($r: ID!) { cancelRun(id: $r) { status } }', { r: parked })).data.cancelRun.status, 'CANCELLED');

  const limited = await app.gql(
    'test-admin-token-0123456789abcdef',
    'mutation($i: SetTenantQuotaInput!) { setTenantQuota(input: $i) { id } }',
    { i: { tenantId: tenant.id, maxRunsPerDay: 3 } },
  );
  t.falsy(limited.errors);
  t.is((await start(ok)).errors?.[0]?.extensions?.code, 'QUOTA_EXCEEDED');

  await app.gql(token, 'mutation($i: SetIntegrationGuardInput!) { setIntegrationGuard(input: $i) { host } }', {
    i: { host: 'api.example.com', failureThreshold: 3, coolDownSeconds: 60 },
  });
  const owner = new pg.Client({ connectionString: app.databaseUrl });
  await owner.connect();
  t.teardown(() => owner.end());
  // As if three calls had failed: the breaker's state is the row's.
  await owner.query(
    `update integration_guards set state = 'OPEN', opened_at = now(), retry_at = now() + interval '1 minute' where tenant_id = $1`,
    [tenant.id],
  );

  const response = await fetch(`${app.url}/metrics`);
  t.is(response.status, 200);
  t.regex(response.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await response.text();
  const of = (workflowId: string, extra: Record<string, string> = {}) => ({ tenant: tenant.id, workflow: workflowId, ...extra });
  t.is(sample(text, 'switchyard_runs_started_total', of(ok)), 1, 'the repeat and the refused start are not starts');
  t.is(sample(text, 'switchyard_runs_started_total', of(failing)), 1);
  t.is(sample(text, 'switchyard_runs_finished_total', of(ok, { status: 'SUCCEEDED' })), 1);
  t.is(sample(text, 'switchyard_runs_finished_total', of(failing, { status: 'FAILED' })), 1);
  t.is(
    sample(text, 'switchyard_runs_finished_total', of(waiting, { status: 'CANCELLED' })),
    1,
    'a run cancelled through the API counts too',
  );
  t.is(sample(text, 'switchyard_step_attempt_duration_seconds_count', { uses: 'http/request@1', outcome: 'ok' }), 1);
  t.is(sample(text, 'switchyard_step_attempt_duration_seconds_count', { uses: 'http/request@1', outcome: 'UPSTREAM_REJECTED' }), 1);
  t.is(sample(text, 'switchyard_sandbox_invocations_total', { outcome: 'ok' }), 1);
  t.is(sample(text, 'switchyard_api_refusals_total', { code: 'QUOTA_EXCEEDED' }), 1);
  t.is(sample(text, 'switchyard_api_refusals_total', { code: 'RATE_LIMITED' }), 0);
  t.is(sample(text, 'switchyard_circuit_breakers', { state: 'OPEN' }), 1);
  t.is(sample(text, 'switchyard_circuit_breakers', { state: 'CLOSED' }), 0);
  t.is(sample(text, 'switchyard_queue_depth'), 0);
  t.true((sample(text, 'switchyard_db_pool_connections', { state: 'total' }) ?? 0) >= 1);
  t.not(sample(text, 'process_cpu_seconds_total'), undefined, 'the process metrics are there too');
  t.false(text.includes(token), 'no token in the metrics');
});

test("a worker process serves its probes and the engine's metrics on its own port, and no API", async (t) => {
  const api = await startTestAppliance({ config: { role: 'api' } });
  t.teardown(() => api.stop());
  const port = await freePort();
  const worker = await startTestAppliance({
    databaseUrl: api.databaseUrl,
    executor: new ScriptedExecutor(),
    config: { role: 'worker', workerHttpPort: port },
  });
  t.teardown(() => worker.stop());
  t.is(worker.url, `http://127.0.0.1:${port}`);
  const tenant = await api.tenant(`worker-metrics-${Date.now()}`, ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  const workflowId = (
    await api.gql(token, 'mutation($d: JSON!) { createWorkflow(input: { name: "w", definition: $d }) { id } }', {
      d: { steps: [{ id: 'call', uses: 'http/request@1' }] },
    })
  ).data.createWorkflow.id;
  const runId = (await api.gql(token, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', { w: workflowId })).data.startRun
    .id;
  await waitFor(
    async () => (await api.gql(token, 'query($r: ID!) { run(id: $r) { status } }', { r: runId })).data.run.status === 'SUCCEEDED',
    'the run',
  );

  t.is((await fetch(`${worker.url}/ready`)).status, 200);
  const text = await (await fetch(`${worker.url}/metrics`)).text();
  t.is(
    sample(text, 'switchyard_runs_finished_total', { tenant: tenant.id, workflow: workflowId, status: 'SUCCEEDED' }),
    1,
    'the worker finished the run and counts it',
  );
  t.is(sample(text, 'switchyard_step_attempt_duration_seconds_count', { uses: 'http/request@1', outcome: 'ok' }), 1);
  const apiText = await (await fetch(`${api.url}/metrics`)).text();
  t.is(
    sample(apiText, 'switchyard_runs_started_total', { tenant: tenant.id, workflow: workflowId }),
    1,
    'the API process counts the start',
  );
  t.is(
    sample(apiText, 'switchyard_runs_finished_total', { tenant: tenant.id, workflow: workflowId, status: 'SUCCEEDED' }),
    undefined,
    "and not the worker's finish",
  );
  const graphql = await fetch(`${worker.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"query":"{ viewer { role } }"}',
  });
  t.is(graphql.status, 404, 'a worker has no API');
});
