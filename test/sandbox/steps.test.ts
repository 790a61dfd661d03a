import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { ADMIN_TOKEN, startTestAppliance, waitFor, RUN_FIELDS, type TestAppliance } from '../support/appliance.js';

/** Workflow steps that run first-party plugins in the real sandbox, behind the real engine. */

let app: TestAppliance;
let token: string;
let otherToken: string;
let server: http.Server;
let serverUrl: string;
const received: { method: string; url: string; body: string }[] = [];

test.before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, body });
      if (req.url === '/fail') {
        res.writeHead(503).end('busy');
        return;
      }
      if (req.url === '/missing') {
        res.writeHead(404).end('no');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, path: req.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  app = await startTestAppliance({ config: { sandboxPoolSize: 2 } });
  token = (await app.tenant('sandboxed', ['ADMIN'])).tokens['ADMIN']!;
  otherToken = (await app.tenant('neighbour', ['ADMIN'])).tokens['ADMIN']!;
});

test.after.always(async () => {
  await app?.stop();
  await new Promise((resolve) => server?.close(resolve));
});

let counter = 0;
async function start(steps: unknown[], input: unknown = {}, as = token): Promise<string> {
  const created = await app.gql(as, 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }', {
    n: `wf-${++counter}`,
    d: { steps },
  });
  if (!created.data) throw new Error(JSON.stringify(created.errors));
  const started = await app.gql(as, 'mutation($i: StartRunInput!) { startRun(input: $i) { id } }', {
    i: { workflowId: created.data.createWorkflow.id, input },
  });
  if (!started.data) throw new Error(JSON.stringify(started.errors));
  return started.data.startRun.id;
}

async function runState(id: string, as = token): Promise<any> {
  return (await app.gql(as, `query($id: ID!) { run(id: $id) { ${RUN_FIELDS} } }`, { id })).data.run;
}

async function finished(id: string, as = token): Promise<any> {
  return waitFor(
    async () => {
      const r = await runState(id, as);
      return ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(r.status) ? r : undefined;
    },
    `run ${id} to finish`,
    30_000,
  );
}

const run = async (steps: unknown[], input: unknown = {}, as = token): Promise<any> => finished(await start(steps, input, as), as);

const step = (r: any, id: string) => r.steps.find((s: any) => s.stepId === id);

test.serial('core/code runs tenant code in the sandbox with the run input and earlier outputs', async (t) => {
  const r = await run(
    [
      { id: 'a', uses: 'core/noop@1', with: { factor: 3 } },
      {
        id: 'b',
        uses: 'core/code@1',
        needs: ['a'],
        with: {
          code: 'log.info("summing", { n: input.items.length }); return { total: input.items.reduce((s, x) => s + x, 0) * steps.a.factor };',
        },
      },
    ],
    { items: [1, 2, 3] },
  );
  t.is(r.status, 'SUCCEEDED');
  t.deepEqual(step(r, 'b').output, { total: 18 });
  const line = app.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'summing');
  t.truthy(line, 'the plugin log line reached the appliance log');
  t.like(line, { plugin: true, runId: r.id, stepId: 'b', fields: { n: 3 } });
  t.truthy(line.tenantId);
});

test.serial("an infinite loop fails its step with SANDBOX_TIMEOUT while another tenant's run completes", async (t) => {
  const [hostile, neighbour] = await Promise.all([
    run([{ id: 'spin', uses: 'core/code@1', timeoutMs: 500, retry: { maxAttempts: 1 }, with: { code: 'for (;;) {}' } }]),
    run([{ id: 'ok', uses: 'core/code@1', with: { code: 'return 42;' } }], {}, otherToken),
  ]);
  t.is(hostile.status, 'FAILED');
  t.is(step(hostile, 'spin').error.code, 'SANDBOX_TIMEOUT');
  t.is(neighbour.status, 'SUCCEEDED');
  t.is(step(neighbour, 'ok').output, 42);
});

test.serial('a thrown error and a syntax error fail permanently with their messages', async (t) => {
  const thrown = await run([{ id: 'x', uses: 'core/code@1', with: { code: 'throw new Error("no such customer")' } }]);
  t.is(step(thrown, 'x').error.code, 'SANDBOX_ERROR');
  t.regex(step(thrown, 'x').error.message, /no such customer/);
  t.is(step(thrown, 'x').attempts, 1, 'a plain throw is not retried');
  const syntax = await run([{ id: 'x', uses: 'core/code@1', with: { code: 'return {' } }]);
  t.is(step(syntax, 'x').error.code, 'CODE_SYNTAX_ERROR');
});

test.serial('http/request refuses loopback until the administrator allows it for the plugin', async (t) => {
  const denied = await run([{ id: 'get', uses: 'http/request@1', retry: { maxAttempts: 1 }, with: { url: `${serverUrl}/items` } }]);
  t.is(denied.status, 'FAILED');
  t.is(step(denied, 'get').error.code, 'EGRESS_DENIED');
  t.is(received.length, 0, 'nothing reached the server');

  // `*` alone means any host on the default ports; the test server's port must be named.
  const hostPort = new URL(serverUrl).host;
  for (const plugin of ['http', 'webhook']) {
    const set = await app.gql(
      ADMIN_TOKEN,
      'mutation($n: String!, $h: [String!]) { setPluginPolicy(input: { name: $n, allowedHosts: $h, allowedPrivate: ["127.0.0.1"] }) { allowedHosts allowedPrivate } }',
      { n: plugin, h: ['*', hostPort] },
    );
    t.deepEqual(set.data?.setPluginPolicy, { allowedHosts: ['*', hostPort], allowedPrivate: ['127.0.0.1'] });
  }
  const forbidden = await app.gql(
    token,
    'mutation { setPluginPolicy(input: { name: "http", allowedPrivate: ["10.0.0.0/8"] }) { allowedPrivate } }',
  );
  t.is(forbidden.errors?.[0]?.extensions.code, 'FORBIDDEN');
  const badCidr = await app.gql(
    ADMIN_TOKEN,
    'mutation { setPluginPolicy(input: { name: "http", allowedPrivate: ["10.0.0.0/33"] }) { allowedPrivate } }',
  );
  t.regex(badCidr.errors?.[0]?.message ?? '', /input\.allowedPrivate\[0\]/);

  // The policy cache lets a change take up to two seconds to reach every process.
  const ok = await waitFor(
    async () => {
      const r = await run([{ id: 'get', uses: 'http/request@1', retry: { maxAttempts: 1 }, with: { url: `${serverUrl}/items?x=1` } }]);
      return r.status === 'SUCCEEDED' ? r : undefined;
    },
    'the policy change to apply',
    10_000,
  );
  t.deepEqual(step(ok, 'get').output.body, { ok: true, path: '/items?x=1' });
  t.is(step(ok, 'get').output.status, 200);
});

test.serial('http/request: 5xx is transient and retried, 4xx permanent, bad input refused before the sandbox', async (t) => {
  const transient = await run([
    {
      id: 'get',
      uses: 'http/request@1',
      retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 20 },
      with: { url: `${serverUrl}/fail` },
    },
  ]);
  t.is(step(transient, 'get').error.code, 'HTTP_TRANSIENT');
  t.is(step(transient, 'get').attempts, 2);
  const permanent = await run([{ id: 'get', uses: 'http/request@1', with: { url: `${serverUrl}/missing` } }]);
  t.is(step(permanent, 'get').error.code, 'HTTP_STATUS');
  t.is(step(permanent, 'get').attempts, 1);
  const accepted = await run([{ id: 'get', uses: 'http/request@1', with: { url: `${serverUrl}/missing`, acceptStatus: [404] } }]);
  t.is(step(accepted, 'get').output.status, 404);
  const bad = await run([{ id: 'get', uses: 'http/request@1', with: { method: 'GET' } }]);
  t.is(step(bad, 'get').error.code, 'BAD_USER_INPUT');
  t.regex(step(bad, 'get').error.message, /url/);
});

test.serial('webhook/post delivers its JSON payload', async (t) => {
  const before = received.length;
  const r = await run([
    { id: 'notify', uses: 'webhook/post@1', with: { url: `${serverUrl}/hook`, payload: { text: 'run {{ run.id }} done' } } },
  ]);
  t.is(r.status, 'SUCCEEDED');
  const delivered = received.slice(before).find((x) => x.url === '/hook');
  t.deepEqual(JSON.parse(delivered!.body), { text: `run ${r.id} done` });
});

test.serial(
  'killing the sandbox process mid-step fails that attempt as SANDBOX_CRASHED; the retry succeeds on the restarted sandbox',
  async (t) => {
    const supervisor = app.appliance.sandbox;
    const pid = supervisor?.pid;
    t.truthy(pid, 'the appliance runs a sandbox process');
    const id = await start([
      {
        id: 'slow',
        uses: 'core/code@1',
        retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 20 },
        with: { code: 'const t = Date.now(); while (Date.now() - t < 1500) {} return "done";' },
      },
    ]);
    await waitFor(async () => step(await runState(id), 'slow').status === 'RUNNING' || undefined, 'the slow step to start', 10_000);
    process.kill(pid!, 'SIGKILL');
    const r = await finished(id);
    t.is(r.status, 'SUCCEEDED');
    t.is(step(r, 'slow').attempts, 2);
    t.is(step(r, 'slow').output, 'done');
    t.not(supervisor!.pid, pid, 'a new sandbox process serves');
    t.is(supervisor!.crashes, 1);
  },
);
