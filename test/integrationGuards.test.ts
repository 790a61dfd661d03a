/**
 * Integration guards through the real thing: the appliance's engine and sandbox, the
 * http/request plugin, and upstream HTTP servers on loopback. Rate limits, an upstream's
 * 429 with Retry-After, the circuit breaker's states and their visibility in the API, a
 * restart in the middle, another tenant's independence and refused settings.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { replayRun } from '../core/runs/replay.js';
import type { WorkflowDefinition } from '../core/workflows/definition.js';
import { ADMIN_TOKEN, startTestAppliance, waitFor, RUN_FIELDS, type TestAppliance } from './support/appliance.js';

/** A loopback server whose answer each test decides, recording every request it gets. */
class Upstream {
  readonly seen: { path: string; at: number }[] = [];
  answer: (path: string) => Promise<{ status: number; headers?: Record<string, string> }> = async () => ({ status: 200 });
  private server!: http.Server;
  host = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.seen.push({ path: req.url ?? '', at: Date.now() });
      req.resume();
      void this.answer(req.url ?? '').then(({ status, headers }) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ status, path: req.url }));
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  url(path: string): string {
    return `http://${this.host}${path}`;
  }

  /** Requests whose path starts with `prefix`. */
  count(prefix = '/'): number {
    return this.seen.filter((s) => s.path.startsWith(prefix)).length;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const rated = new Upstream();
const throttling = new Upstream();
const flaky = new Upstream();
const restarted = new Upstream();
const UPSTREAMS = [rated, throttling, flaky, restarted];

let app: TestAppliance;
let tokens: Record<string, string>;
let otherAdmin: string;

const GUARD_FIELDS =
  'host ratePerSecond burst failureThreshold coolDownSeconds breaker { state consecutiveFailures openedAt retryAt heldUntil } updatedAt';

test.before(async () => {
  for (const upstream of UPSTREAMS) await upstream.start();
  app = await startTestAppliance({ config: { sandboxPoolSize: 2 } });
  tokens = (await app.tenant('guarded', ['ADMIN', 'EDITOR', 'VIEWER'])).tokens;
  otherAdmin = (await app.tenant('neighbour', ['ADMIN'])).tokens['ADMIN']!;
  // The upstreams listen on loopback, which plugins may reach only when the administrator says so.
  const policy = await app.gql(
    ADMIN_TOKEN,
    'mutation($h: [String!]) { setPluginPolicy(input: { name: "http", allowedHosts: $h, allowedPrivate: ["127.0.0.1"] }) { allowedHosts } }',
    {
      h: UPSTREAMS.map((u) => u.host),
    },
  );
  if (!policy.data) throw new Error(JSON.stringify(policy.errors));
});

test.after.always(async () => {
  await app?.stop();
  for (const upstream of UPSTREAMS) await upstream.close();
});

const admin = () => tokens['ADMIN']!;
let counter = 0;

async function setGuard(input: Record<string, unknown>, as = admin()): Promise<any> {
  const response = await app.gql(as, `mutation($i: SetIntegrationGuardInput!) { setIntegrationGuard(input: $i) { ${GUARD_FIELDS} } }`, {
    i: input,
  });
  if (!response.data) throw new Error(JSON.stringify(response.errors));
  return response.data.setIntegrationGuard;
}

async function guardOf(host: string, as = admin()): Promise<any> {
  const response = await app.gql(as, `{ integrationGuards { ${GUARD_FIELDS} } }`);
  if (!response.data) throw new Error(JSON.stringify(response.errors));
  return response.data.integrationGuards.find((g: { host: string }) => g.host === host);
}

/** GET requests, one parallel step per URL, each allowed a single attempt: a failure would fail the run. */
function requests(urls: string[]): WorkflowDefinition {
  return { steps: urls.map((url, i) => ({ id: `get${i}`, uses: 'http/request@1', retry: { maxAttempts: 1 }, with: { url } })) };
}

async function startRequests(urls: string[], as = admin()): Promise<string> {
  const created = await app.gql(as, 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }', {
    n: `wf-${++counter}`,
    d: requests(urls),
  });
  if (!created.data) throw new Error(JSON.stringify(created.errors));
  const started = await app.gql(as, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', {
    w: created.data.createWorkflow.id,
  });
  if (!started.data) throw new Error(JSON.stringify(started.errors));
  return started.data.startRun.id;
}

async function runState(id: string, as = admin()): Promise<any> {
  const response = await app.gql(
    as,
    `query($id: ID!) { run(id: $id) { ${RUN_FIELDS} events(first: 100) { nodes { seq type stepId at data } } } }`,
    { id },
  );
  if (!response.data) throw new Error(JSON.stringify(response.errors));
  return { ...response.data.run, events: response.data.run.events.nodes };
}

async function finished(id: string, as = admin()): Promise<any> {
  return waitFor(
    async () => {
      const r = await runState(id, as);
      return ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(r.status) ? r : undefined;
    },
    `run ${id} to finish`,
    30_000,
  );
}

const deferrals = (r: any) => r.events.filter((e: any) => e.type === 'STEP_DEFERRED');

async function deferred(id: string, as = admin()): Promise<any> {
  return waitFor(async () => deferrals(await runState(id, as))[0], `a step of run ${id} to be deferred`);
}

test.serial(
  'a rate limit at its limit: the burst passes, the next request waits durably and then succeeds without using an attempt',
  async (t) => {
    const guard = await setGuard({ host: rated.host, ratePerSecond: 0.5, burst: 2 });
    t.like(guard, {
      host: rated.host,
      ratePerSecond: 0.5,
      burst: 2,
      failureThreshold: 5,
      coolDownSeconds: 30,
      breaker: { state: 'CLOSED', consecutiveFailures: 0 },
    });

    const urls = [rated.url('/a'), rated.url('/b'), rated.url('/c')];
    const r = await finished(await startRequests(urls));
    t.is(r.status, 'SUCCEEDED');
    t.deepEqual(
      r.steps.map((s: any) => [s.status, s.attempts]),
      [
        ['SUCCEEDED', 1],
        ['SUCCEEDED', 1],
        ['SUCCEEDED', 1],
      ],
      'the held-back attempt was not counted',
    );
    const replayed = replayRun(requests(urls), r.events);
    t.is(replayed.status, 'SUCCEEDED');
    t.deepEqual(
      Object.values(replayed.steps).map((s) => [s.status, s.attempts]),
      [
        ['SUCCEEDED', 1],
        ['SUCCEEDED', 1],
        ['SUCCEEDED', 1],
      ],
      'the event log alone rebuilds the run',
    );
    const [deferral, ...more] = deferrals(r);
    t.deepEqual(more, [], 'exactly one request over the burst');
    t.is(deferral.data.reason.code, 'HOST_RATE_LIMITED');
    t.regex(deferral.data.reason.message, /rate limit of 0\.5\/s \(burst 2\)/);
    t.is(rated.count(), 3, 'the refused request never reached the host; its retry did');
    // Two went at once; the third only after the wait the deferral named.
    const [first, second, third] = rated.seen;
    t.true(second!.at - first!.at < 1_000);
    t.true(third!.at >= Date.parse(deferral.data.until), 'the deferred step ran no earlier than its until');
    t.true(Date.parse(deferral.data.until) - Date.parse(deferral.at) >= 1_000, 'a token comes every 2 s');
  },
);

test.serial('an upstream 429 with Retry-After defers the step until then; it is not a breaker failure', async (t) => {
  await setGuard({ host: throttling.host });
  let calls = 0;
  throttling.answer = async () => (++calls === 1 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 });
  const id = await startRequests([throttling.url('/x')]);
  const deferral = await deferred(id);
  t.is(deferral.data.reason.code, 'HOST_RATE_LIMITED');
  t.regex(deferral.data.reason.message, /answered 429 and asked to wait 2 s/);
  const during = await guardOf(throttling.host);
  t.like(during.breaker, { state: 'CLOSED', consecutiveFailures: 0 });
  t.truthy(during.breaker.heldUntil, 'the API shows how long the host asked to wait');

  const r = await finished(id);
  t.is(r.status, 'SUCCEEDED');
  t.is(r.steps[0].attempts, 1);
  t.is(throttling.count(), 2);
  t.true(throttling.seen[1]!.at - throttling.seen[0]!.at >= 2_000, 'the retry honoured Retry-After');
  t.true(throttling.seen[1]!.at >= Date.parse(deferral.data.until));
});

test.serial(
  'the breaker opens after exactly failureThreshold failures, defers steps without calling the host, lets one trial through after the cool-down, closes on its success and reopens on a failed trial; another tenant is unaffected',
  async (t) => {
    await setGuard({ host: flaky.host, failureThreshold: 3, coolDownSeconds: 2 });
    // The neighbour guards the same host with the same settings: its breaker is its own.
    await setGuard({ host: flaky.host, failureThreshold: 3, coolDownSeconds: 2 }, otherAdmin);
    let mode: 'fail' | 'hold' | 'ok' = 'fail';
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    flaky.answer = async (path) => {
      if (path.startsWith('/other')) return { status: 200 };
      if (mode === 'hold') await held;
      return { status: mode === 'fail' ? 500 : 200 };
    };

    for (let i = 1; i <= 2; i++) {
      const r = await finished(await startRequests([flaky.url('/a')]));
      t.is(r.steps[0].error.code, 'HTTP_TRANSIENT');
      t.like((await guardOf(flaky.host)).breaker, { state: 'CLOSED', consecutiveFailures: i }, `not open after ${i} failure(s)`);
    }
    await finished(await startRequests([flaky.url('/a')]));
    const open = (await guardOf(flaky.host)).breaker;
    t.like(open, { state: 'OPEN', consecutiveFailures: 3 });
    t.is(Date.parse(open.retryAt) - Date.parse(open.openedAt), 2_000);
    t.like((await guardOf(flaky.host, tokens['VIEWER'])).breaker, { state: 'OPEN' }, 'readers of runs see the breaker');
    t.is(flaky.count('/a'), 3);

    // While open: deferred, and the host hears nothing of it.
    const trialRun = await startRequests([flaky.url('/a')]);
    const deferral = await deferred(trialRun);
    t.is(deferral.data.reason.code, 'CIRCUIT_OPEN');
    t.is(deferral.data.until, open.retryAt, 'deferred until the cool-down ends');
    t.is(flaky.count('/a'), 3, 'no request reached the host while the circuit was open');

    // The neighbour's breaker for the same host is closed, and its steps go through.
    const neighbour = await finished(await startRequests([flaky.url('/other')], otherAdmin), otherAdmin);
    t.is(neighbour.status, 'SUCCEEDED');
    t.deepEqual(deferrals(neighbour), []);
    t.like((await guardOf(flaky.host, otherAdmin)).breaker, { state: 'CLOSED', consecutiveFailures: 0 });

    // After the cool-down the deferred step is the trial; while it is in flight others wait.
    mode = 'hold';
    await waitFor(async () => flaky.count('/a') === 4 || undefined, 'the trial request to arrive');
    t.true(flaky.seen.filter((s) => s.path === '/a').at(-1)!.at >= Date.parse(open.retryAt));
    t.like((await guardOf(flaky.host)).breaker, { state: 'HALF_OPEN' });
    const waiting = await startRequests([flaky.url('/a')]);
    t.is((await deferred(waiting)).data.reason.code, 'CIRCUIT_OPEN');
    t.regex((await deferred(waiting)).data.reason.message, /half-open/);
    t.is(flaky.count('/a'), 4, 'one trial at a time');
    release();
    const trial = await finished(trialRun);
    t.is(trial.status, 'SUCCEEDED');
    t.is(trial.steps[0].attempts, 1, "the deferral did not use the step's only attempt");
    t.like((await guardOf(flaky.host)).breaker, { state: 'CLOSED', consecutiveFailures: 0, openedAt: null, retryAt: null });
    const after = await finished(waiting);
    t.is(after.status, 'SUCCEEDED');
    t.is(after.steps[0].attempts, 1);

    // A failed trial opens the breaker for another cool-down.
    mode = 'fail';
    for (let i = 0; i < 3; i++) await finished(await startRequests([flaky.url('/a')]));
    const reopened = (await guardOf(flaky.host)).breaker;
    t.like(reopened, { state: 'OPEN', consecutiveFailures: 3 });
    await waitFor(async () => Date.now() > Date.parse(reopened.retryAt) || undefined, 'the cool-down to pass');
    const failedTrial = await finished(await startRequests([flaky.url('/a')]));
    t.is(failedTrial.steps[0].error.code, 'HTTP_TRANSIENT', 'the trial went to the host and failed');
    const again = (await guardOf(flaky.host)).breaker;
    t.like(again, { state: 'OPEN', consecutiveFailures: 4 });
    t.true(Date.parse(again.openedAt) > Date.parse(reopened.openedAt));
    t.like((await guardOf(flaky.host, otherAdmin)).breaker, { state: 'CLOSED', consecutiveFailures: 0 }, 'still unaffected');
  },
);

test.serial('bad settings are refused naming the field and change nothing; changes are audited', async (t) => {
  const host = 'api.partner.example';
  await setGuard({ host, ratePerSecond: 10, burst: 20, failureThreshold: 4, coolDownSeconds: 60 });
  const before = await app.gql(admin(), `{ integrationGuards { ${GUARD_FIELDS} } }`);
  const audits = async (): Promise<any[]> => {
    const events = [];
    for (const action of ['integration_guard.created', 'integration_guard.updated', 'integration_guard.deleted']) {
      const page = await app.gql(
        admin(),
        'query($a: String) { auditEvents(filter: { action: $a }, first: 100) { nodes { seq action targetId details } } }',
        { a: action },
      );
      events.push(...page.data.auditEvents.nodes);
    }
    return events.sort((x, y) => x.seq - y.seq);
  };
  const audited = await audits();
  t.like(
    audited.find((e: { targetId: string }) => e.targetId === host),
    { action: 'integration_guard.created', details: { host, ratePerSecond: 10, burst: 20 } },
  );

  const refused: [Record<string, unknown>, string][] = [
    [{ host: '*' }, 'input.host'],
    [{ host: 'API.Partner.Example' }, 'input.host'],
    [{ host: 'https://api.partner.example' }, 'input.host'],
    [{ host: '*.10.0.0' }, 'input.host'],
    [{ host, ratePerSecond: 0 }, 'input.ratePerSecond'],
    [{ host, ratePerSecond: -5, burst: 3 }, 'input.ratePerSecond'],
    [{ host, ratePerSecond: 5, burst: 0 }, 'input.burst'],
    [{ host, burst: 5 }, 'input.burst'],
    [{ host, failureThreshold: 0 }, 'input.failureThreshold'],
    [{ host, coolDownSeconds: 0 }, 'input.coolDownSeconds'],
    [{ host, coolDownSeconds: 86_401 }, 'input.coolDownSeconds'],
  ];
  for (const [input, path] of refused) {
    const response = await app.gql(admin(), `mutation($i: SetIntegrationGuardInput!) { setIntegrationGuard(input: $i) { host } }`, {
      i: input,
    });
    t.is(response.errors?.[0]?.extensions.code, 'BAD_USER_INPUT', JSON.stringify(input));
    t.is(response.errors?.[0]?.extensions['inputPath'], path, JSON.stringify(input));
  }
  const missing = await app.gql(admin(), 'mutation { deleteIntegrationGuard(host: "never.example") { host } }');
  t.is(missing.errors?.[0]?.extensions.code, 'NOT_FOUND');
  const editor = await app.gql(tokens['EDITOR']!, 'mutation($i: SetIntegrationGuardInput!) { setIntegrationGuard(input: $i) { host } }', {
    i: { host, ratePerSecond: 1 },
  });
  t.is(editor.errors?.[0]?.extensions.code, 'FORBIDDEN', "only the tenant's ADMIN sets guards");

  t.deepEqual(await app.gql(admin(), `{ integrationGuards { ${GUARD_FIELDS} } }`), before, 'nothing changed');
  t.deepEqual(await audits(), audited, 'nothing was audited');

  const deleted = await app.gql(admin(), 'mutation($h: String!) { deleteIntegrationGuard(host: $h) { host ratePerSecond } }', { h: host });
  t.deepEqual(deleted.data.deleteIntegrationGuard, { host, ratePerSecond: 10 });
  t.is(await guardOf(host), undefined);
  t.like((await audits()).at(-1), { action: 'integration_guard.deleted', targetId: host }, 'the deletion is audited');
});

test.serial("a plugin cannot have its step deferred by raising a guard's code itself", async (t) => {
  const steps = [
    {
      id: 'forged',
      uses: 'core/code@1',
      retry: { maxAttempts: 1 },
      with: { code: 'throw new PluginError("CIRCUIT_OPEN", "trust me", { retryable: true })' },
    },
  ];
  const created = await app.gql(admin(), 'mutation($d: JSON!) { createWorkflow(input: { name: "forger", definition: $d }) { id } }', {
    d: { steps },
  });
  const started = await app.gql(admin(), 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', {
    w: created.data.createWorkflow.id,
  });
  const r = await finished(started.data.startRun.id);
  t.is(r.status, 'FAILED', "only the gate's own record of a refusal or a 429 defers a step");
  t.is(r.steps[0].error.code, 'CIRCUIT_OPEN');
  t.deepEqual(deferrals(r), []);
});

test.serial("a restart keeps a deferred step and the breaker's state", async (t) => {
  // A restart takes well under a second; the cool-down leaves room for a loaded machine.
  await setGuard({ host: restarted.host, failureThreshold: 1, coolDownSeconds: 4 });
  let ok = false;
  restarted.answer = async () => ({ status: ok ? 200 : 502 });
  await finished(await startRequests([restarted.url('/a')]));
  const open = (await guardOf(restarted.host)).breaker;
  t.like(open, { state: 'OPEN', consecutiveFailures: 1 });
  const id = await startRequests([restarted.url('/a')]);
  const deferral = await deferred(id);
  t.is(deferral.data.until, open.retryAt);

  await app.stop();
  ok = true;
  app = await startTestAppliance({ databaseUrl: app.databaseUrl, config: { sandboxPoolSize: 2 } });
  t.true(Date.now() < Date.parse(open.retryAt), 'the restart was over before the cool-down (else this test proves nothing)');
  t.deepEqual((await guardOf(restarted.host)).breaker, open, "the breaker's state survived the restart");
  const waiting = await runState(id);
  t.like(waiting.steps[0], { status: 'PENDING', attempts: 0 });
  t.like(replayRun(requests([restarted.url('/a')]), waiting.events).steps['get0'], { status: 'PENDING', attempts: 0 }, 'replay agrees');
  t.is(restarted.count(), 1, 'the deferred step did not run early');

  const r = await finished(id);
  t.is(r.status, 'SUCCEEDED');
  t.is(r.steps[0].attempts, 1);
  t.is(restarted.count(), 2);
  t.true(restarted.seen[1]!.at >= Date.parse(open.retryAt), 'it ran when its deferral ended, as the trial');
  t.like((await guardOf(restarted.host)).breaker, { state: 'CLOSED', consecutiveFailures: 0 });
});
