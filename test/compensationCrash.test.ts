/**
 * A compensation survives the death of the process running it: a worker process is
 * SIGKILLed while its compensating call is in flight, another worker releases the dead
 * one's job, runs the compensation again with the same idempotency key, and the run ends
 * FAILED once, with the step compensated.
 */
import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { ADMIN_TOKEN, startTestAppliance, waitFor } from './support/appliance.js';
import { freshDatabase } from './support/database.js';
import { spawnSwitchyard, stopChild, type Child } from './fixtures/processes.js';

test('a worker killed during a compensation: another worker runs it again and the run fails once, compensated', async (t) => {
  const undoCalls: (string | undefined)[] = [];
  const upstream = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      undoCalls.push(request.headers['idempotency-key'] as string | undefined);
      // The first call is never answered: its worker dies while waiting.
      if (undoCalls.length > 1) response.writeHead(200, { 'content-type': 'application/json' }).end('{"released":true}');
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    upstream.closeAllConnections();
    upstream.close();
  });
  const port = (upstream.address() as AddressInfo).port;

  const db = await freshDatabase();
  const client = new pg.Client({ connectionString: db });
  await client.connect();
  t.teardown(() => client.end().catch(() => undefined));
  const api = await startTestAppliance({ databaseUrl: db, config: { role: 'api' } });
  t.teardown(() => api.stop());
  const policy = await api.gql(
    ADMIN_TOKEN,
    'mutation($h: [String!]) { setPluginPolicy(input: { name: "http", allowedHosts: $h, allowedPrivate: ["127.0.0.1"] }) { allowedHosts } }',
    { h: [`127.0.0.1:${port}`] },
  );
  t.falsy(policy.errors, JSON.stringify(policy.errors));
  const token = (await api.tenant('saga-crash')).tokens['ADMIN']!;
  const created = await api.gql(token, 'mutation($d: JSON!) { createWorkflow(input: { name: "hold", definition: $d }) { id } }', {
    d: {
      steps: [
        {
          id: 'hold',
          uses: 'core/noop@1',
          with: { seat: '12A' },
          compensate: {
            uses: 'http/request@1',
            with: {
              method: 'POST',
              url: `http://127.0.0.1:${port}/release`,
              headers: { 'idempotency-key': '{{ run.id }}:release' },
              body: { seat: '{{ steps.hold.output.seat }}' },
            },
            retry: { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 100 },
          },
        },
        { id: 'pay', uses: 'core/code@1', needs: ['hold'], retry: { maxAttempts: 1 }, with: { code: 'throw new Error("card declined")' } },
      ],
    },
  });
  t.falsy(created.errors, JSON.stringify(created.errors));

  const startWorker = async (): Promise<Child> => {
    const child = spawnSwitchyard(['start', '--role', 'worker'], {
      DATABASE_URL: db,
      SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN,
      SWITCHYARD_DEAD_WORKER_SWEEP_MS: '300',
      SWITCHYARD_POLL_INTERVAL_MS: '100',
      SWITCHYARD_LOG_LEVEL: 'warn',
      SWITCHYARD_WORKER_HTTP_PORT: '0',
      SWITCHYARD_SANDBOX_POOL_SIZE: '1',
    });
    t.teardown(() => stopChild(child, 0));
    await waitFor(
      async () => {
        if (!child.alive()) throw new Error(`worker exited early: ${child.stderr()} ${child.stdout()}`);
        return (await client.query('select 1 from engine_nodes where pid = $1', [child.pid])).rowCount === 1;
      },
      'the worker to register its engine node',
      60_000,
    );
    return child;
  };

  const worker1 = await startWorker();
  const started = await api.gql(token, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', {
    w: created.data.createWorkflow.id,
  });
  const runId: string = started.data.startRun.id;
  await waitFor(async () => undoCalls.length === 1, 'the compensating call to reach the upstream', 60_000);
  worker1.proc.kill('SIGKILL');
  t.is((await worker1.exited).signal, 'SIGKILL');
  const {
    rows: [during],
  } = await client.query(
    "select r.status, s.compensation->>'status' as undo from runs r join step_executions s on s.run_id = r.id and s.step_id = 'hold' where r.id = $1",
    [runId],
  );
  t.deepEqual(during, { status: 'RUNNING', undo: 'RUNNING' }, 'the dead worker left the compensation running');

  await startWorker();
  const run = await waitFor(
    async () => {
      const res = await api.gql(
        token,
        'query($id: ID!) { run(id: $id) { status error { code message } steps { stepId status compensation { status attempts output } } } }',
        { id: runId },
      );
      return res.data?.run?.status === 'FAILED' ? res.data.run : undefined;
    },
    'the run to finish after the crash',
    60_000,
  );
  const hold = run.steps.find((s: any) => s.stepId === 'hold');
  t.like(hold.compensation, { status: 'SUCCEEDED', attempts: 2, output: { status: 200, body: { released: true } } });
  t.deepEqual(undoCalls, [`${runId}:release`, `${runId}:release`], 'the repeated call carried the same idempotency key');
  const { rows: events } = await client.query<{ type: string; n: number }>(
    `select type, count(*)::int as n from run_events where run_id = $1 and (type like 'COMPENSATION_%' or type like 'RUN_%') group by type order by type`,
    [runId],
  );
  t.deepEqual(events, [
    { type: 'COMPENSATION_STARTED', n: 2 },
    { type: 'COMPENSATION_SUCCEEDED', n: 1 },
    { type: 'RUN_COMPENSATING', n: 1 },
    { type: 'RUN_CREATED', n: 1 },
    { type: 'RUN_FAILED', n: 1 },
  ]);
});
