/**
 * An acknowledged delivery is never lost: the real `switchyard` process is SIGKILLed the
 * moment its 202 arrives, and after a restart on the same database the run is there and
 * finishes. (The answer is sent only after the run's transaction committed.)
 */
import test from 'ava';
import pg from 'pg';
import { webhookSignatureHeader } from '../core/triggers/webhookSignature.js';
import { ADMIN_TOKEN, waitFor } from './support/appliance.js';
import { freshDatabase } from './support/database.js';
import { freePort, startUntilReady } from './fixtures/processes.js';

test('a webhook delivery acknowledged 202, then the server killed at once: the run exists after restart and completes', async (t) => {
  const db = await freshDatabase();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    DATABASE_URL: db,
    PORT: String(port),
    SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN,
    SWITCHYARD_LOG_LEVEL: 'warn',
    SWITCHYARD_POLL_INTERVAL_MS: '100',
    SWITCHYARD_DEAD_WORKER_SWEEP_MS: '300',
  };
  const gql = async (token: string, query: string, variables: Record<string, unknown> = {}) => {
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: any; errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };

  const first = await startUntilReady(t.teardown, env, base);
  const tenant = (await gql(ADMIN_TOKEN, 'mutation { createTenant(input: { name: "durable" }) { id } }')).createTenant.id;
  const token = (
    await gql(ADMIN_TOKEN, 'mutation($t: ID!) { createApiToken(input: { tenantId: $t, role: ADMIN, name: "a" }) { token } }', {
      t: tenant,
    })
  ).createApiToken.token;
  const workflow = (
    await gql(token, 'mutation($d: JSON!) { createWorkflow(input: { name: "on-order", definition: $d }) { id } }', {
      d: {
        steps: [
          { id: 'pause', uses: 'core/delay@1', with: { ms: 500 } },
          { id: 'done', uses: 'core/noop@1', needs: ['pause'], with: { order: '{{ input.order }}' } },
        ],
      },
    })
  ).createWorkflow.id;
  const { secret, trigger } = (
    await gql(
      token,
      'mutation($w: ID!) { createWebhookTrigger(input: { workflowId: $w, name: "orders" }) { secret trigger { id url } } }',
      { w: workflow },
    )
  ).createWebhookTrigger;

  const body = Buffer.from(JSON.stringify({ order: 'A-1' }));
  const response = await fetch(trigger.url, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'x-delivery-id': 'order-A-1',
      'switchyard-signature': webhookSignatureHeader(secret, Math.floor(Date.now() / 1000), body),
    },
  });
  // Killed before anything else happens: not even the response body is read first.
  first.proc.kill('SIGKILL');
  t.is(response.status, 202);
  const accepted = (await response.json()) as { runId: string; duplicate: boolean };
  t.is((await first.exited).signal, 'SIGKILL');

  const client = new pg.Client({ connectionString: db });
  await client.connect();
  t.teardown(() => client.end());
  const { rows } = await client.query("select id, input, origin from runs where origin->>'triggerId' = $1", [trigger.id]);
  t.is(rows.length, 1, 'the acknowledged run was committed before the answer');
  t.is(rows[0].id, accepted.runId);
  t.deepEqual(rows[0].input, { order: 'A-1' });

  await startUntilReady(t.teardown, env, base);
  const run = await waitFor(
    async () => {
      const data = await gql(token, 'query($id: ID!) { run(id: $id) { status output } }', { id: accepted.runId });
      return data.run.status === 'SUCCEEDED' ? data.run : undefined;
    },
    'the run to finish after the restart',
    60_000,
  );
  t.deepEqual(run.output, { done: { order: 'A-1' } });
  // The sender, not knowing whether its delivery arrived, sends it again: the same run.
  const resent = await fetch(trigger.url, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'x-delivery-id': 'order-A-1',
      'switchyard-signature': webhookSignatureHeader(secret, Math.floor(Date.now() / 1000), body),
    },
  });
  t.is(resent.status, 200);
  t.is(((await resent.json()) as { runId: string }).runId, accepted.runId);
});
