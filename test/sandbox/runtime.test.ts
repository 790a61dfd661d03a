import test from 'ava';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  SandboxSupervisor,
  type SandboxCrashInfo,
  type SandboxInvocation,
  type SandboxLimits,
  type SandboxLogLine,
  type SandboxResult,
} from '../../sandbox/runtime/index.js';

/** Everything the hostile and friendly tests call; one script, so the isolate cache is exercised. */
const SOURCE = String.raw`
defineAction('echo', (input, context) => {
  input.mutated = true;
  return { input, context, kind: typeof input };
});
defineAction('logs', (input) => {
  for (let i = 0; i < input.count; i++) log.info('line ' + i, { i });
  log.warn('last', { nested: { ok: true } });
  log.error('no fields');
  return 'logged';
});
defineAction('throws', () => { throw new Error('boom'); });
defineAction('throwsType', () => { null.x; });
defineAction('throwsString', () => { throw 'a plain string'; });
defineAction('throwsHuge', () => { throw new Error('x'.repeat(50000)); });
defineAction('pluginError', () => { throw new PluginError('RATE_LIMITED_BY_REMOTE', 'remote said no', { retryable: false }); });
defineAction('pluginErrorRetryable', () => { throw new PluginError({ code: 'REMOTE_BUSY', message: 'try later', retryable: true }); });
defineAction('pluginErrorBadCode', () => { throw new PluginError('lower', 'bad code'); });
defineAction('pluginErrorReserved', () => { throw new PluginError('SANDBOX_CRASHED', 'pretending'); });
defineAction('pluginErrorEngine', () => { throw new PluginError('WORKER_LOST', 'pretending to be the engine', { retryable: true }); });
defineAction('pluginErrorOpen', () => { throw new PluginError('BAD_USER_INPUT', 'with.city is not a city'); });
defineAction('spin', () => { while (true) {} });
defineAction('asyncSpin', async () => { for (;;) await null; });
defineAction('never', () => new Promise(() => {}));
defineAction('sleep', (input) => new Promise((resolve) => {
  // No timers inside an isolate: spin on awaited promises until the wall clock passes.
  const until = Date.now() + input.ms;
  (async () => { while (Date.now() < until) await null; resolve('slept'); })();
}));
defineAction('arrayBomb', () => { const a = []; for (;;) a.push(new Array(1e5).fill(a.length)); });
defineAction('stringBomb', () => {
  let s = 'x'.repeat(1 << 20);
  const keep = [];
  for (;;) { s = s + s; keep.push(s.slice(1)); }
});
defineAction('bigOutput', () => { const chunk = 'x'.repeat(100000); return new Array(1000).fill(chunk); });
defineAction('cyclic', () => { const a = { b: {} }; a.b.a = a; return a; });
defineAction('symbol', () => Symbol('s'));
defineAction('nestedFunction', () => ({ f() {} }));
defineAction('bigint', () => ({ n: 10n }));
defineAction('proxyThrows', () => new Proxy({}, { ownKeys() { throw new Error('trap'); } }));
defineAction('proxyFunctions', () => new Proxy({ a: 1 }, { get(target, key) { return key === 'then' || key === 'toJSON' ? undefined : () => 1; } }));
defineAction('thenable', () => ({ then() {} }));
defineAction('nothing', () => {});
defineAction('escapes', async function escapesFn() {
  const out = {};
  try { out.constructorChain = typeof this.constructor.constructor('return process')(); } catch (e) { out.constructorChain = 'threw: ' + e.message; }
  try { out.actionChain = typeof defineAction.constructor('return process')(); } catch (e) { out.actionChain = 'threw: ' + e.message; }
  for (const name of ['require', 'process', 'module', 'exports', 'Buffer', 'console', 'WebAssembly', 'SharedArrayBuffer', 'Atomics', 'setTimeout', 'fetch']) {
    out[name] = typeof globalThis[name];
  }
  try { const fs = await import('fs'); out.importFs = typeof fs.readFileSync; } catch (e) { out.importFs = 'threw'; }
  const frames = [];
  const prepare = Error.prepareStackTrace;
  Error.prepareStackTrace = (_, sites) => { for (const s of sites) if (typeof s.getFunction() === 'function') frames.push(s.getFunctionName()); return ''; };
  try { new Error().stack; } finally { Error.prepareStackTrace = prepare; }
  out.reachableFrames = frames;
  out.globals = Object.getOwnPropertyNames(globalThis).sort();
  return out;
});
defineAction('egressDenied', async () => http.request({ method: 'GET', url: 'https://example.com/' }));
defineAction('egressCaught', async () => {
  try { await http.request({ url: 'https://example.com/' }); return 'unexpected'; } catch (e) { return { name: e.name, code: e.code }; }
});
defineAction('egressFetch', async (input) => {
  const res = await http.request({ method: 'POST', url: input.url, headers: { 'x-test': 'yes' }, body: 'ping' });
  return { status: res.status, body: res.body, keys: Object.keys(res).sort() };
});
`;

const SHA = sha256(SOURCE);
const logs: SandboxLogLine[] = [];
const crashes: SandboxCrashInfo[] = [];
let sandbox: SandboxSupervisor;
let nextId = 0;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function invocation(action: string, input: unknown = {}, limits: Partial<SandboxLimits> = {}, source = SOURCE): SandboxInvocation {
  nextId += 1;
  return {
    invocationId: `inv-${nextId}`,
    script: { sha256: source === SOURCE ? SHA : sha256(source), source, name: 'test@1.0.0' },
    action,
    input,
    context: { tenantId: 'tenant-1', runId: 'run-1', stepId: 'step-1', attempt: 2, idempotencyKey: 'run-1:step-1' },
    limits: { memoryMb: 64, timeoutMs: 2_000, cpuMs: 1_500, maxOutputBytes: 4 * 1024 * 1024, ...limits },
    network: { allowedHosts: [], allowedPrivate: [], maxRequests: 5, maxResponseBytes: 1_000_000, requestTimeoutMs: 2_000 },
    credentials: [],
  };
}

function failure(result: SandboxResult) {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result)}`);
  return result.error;
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** After every hostile call: the pool, the thread and the process still serve a normal invocation. */
async function assertHealthy(t: { deepEqual: (a: unknown, b: unknown) => void }): Promise<void> {
  const result = await sandbox.invoke(invocation('echo', { n: 1 }));
  t.deepEqual(result.ok ? result.output : result, {
    input: { n: 1, mutated: true },
    context: { tenantId: 'tenant-1', runId: 'run-1', stepId: 'step-1', attempt: 2, idempotencyKey: 'run-1:step-1' },
    kind: 'object',
  });
}

test.before(async () => {
  sandbox = await SandboxSupervisor.start({ poolSize: 2, onLog: (line) => logs.push(line), onCrash: (info) => crashes.push(info) });
});

test.after.always(async () => {
  await sandbox?.stop();
});

test.serial('an action returns its output and sees copied input and context', async (t) => {
  const input = { text: 'héllo', list: [1, 2, { deep: null }] };
  const result = await sandbox.invoke(invocation('echo', input));
  t.true(result.ok);
  t.deepEqual(result.ok && result.output, {
    input: { text: 'héllo', list: [1, 2, { deep: null }], mutated: true },
    context: { tenantId: 'tenant-1', runId: 'run-1', stepId: 'step-1', attempt: 2, idempotencyKey: 'run-1:step-1' },
    kind: 'object',
  });
  t.deepEqual(input, { text: 'héllo', list: [1, 2, { deep: null }] }, 'the caller’s input is not touched');
});

test.serial('a warm call reuses the compiled script: only the first call on each thread is cold', async (t) => {
  const source = `defineAction('id', (x) => x); // ${Math.random()}`;
  const results: SandboxResult[] = [];
  for (let i = 0; i < 8; i++) results.push(await sandbox.invoke(invocation('id', i, {}, source)));
  t.deepEqual(
    results.map((r) => r.ok && r.output),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  t.true(results[0]!.stats!.cold);
  const cold = results.filter((r) => r.stats!.cold).length;
  t.true(cold >= 1 && cold <= 2, `cold calls: ${cold}`);
  t.false(results[7]!.stats!.cold);
  t.false(results[6]!.stats!.cold);
});

test.serial('an action that returns nothing gives null', async (t) => {
  const result = await sandbox.invoke(invocation('nothing'));
  t.deepEqual(result.ok && result.output, null);
});

test.serial('log lines reach onLog with the invocation id, capped at 100 per invocation', async (t) => {
  const small = invocation('logs', { count: 2 });
  t.deepEqual((await sandbox.invoke(small)).ok, true);
  await until(() => logs.filter((l) => l.invocationId === small.invocationId).length === 4);
  t.deepEqual(
    logs.filter((l) => l.invocationId === small.invocationId),
    [
      { invocationId: small.invocationId, level: 'info', message: 'line 0', fields: { i: 0 } },
      { invocationId: small.invocationId, level: 'info', message: 'line 1', fields: { i: 1 } },
      { invocationId: small.invocationId, level: 'warn', message: 'last', fields: { nested: { ok: true } } },
      { invocationId: small.invocationId, level: 'error', message: 'no fields' },
    ],
  );

  const flood = invocation('logs', { count: 500 });
  t.true((await sandbox.invoke(flood)).ok);
  await until(() => logs.filter((l) => l.invocationId === flood.invocationId).length >= 101);
  const lines = logs.filter((l) => l.invocationId === flood.invocationId);
  t.is(lines.length, 101);
  t.is(lines[99]!.message, 'line 99');
  t.deepEqual(lines[100], {
    invocationId: flood.invocationId,
    level: 'warn',
    message: 'log limit of 100 lines reached; further lines are dropped',
  });
});

test.serial('an unknown action fails with UNKNOWN_ACTION', async (t) => {
  t.deepEqual(failure(await sandbox.invoke(invocation('missing'))), {
    code: 'UNKNOWN_ACTION',
    message: 'test@1.0.0 has no action "missing"',
    retryable: false,
  });
});

test.serial('a throwing action fails with SANDBOX_ERROR and its message, not retryable', async (t) => {
  t.deepEqual(failure(await sandbox.invoke(invocation('throws'))), { code: 'SANDBOX_ERROR', message: 'boom', retryable: false });
  t.deepEqual(failure(await sandbox.invoke(invocation('throwsType'))), {
    code: 'SANDBOX_ERROR',
    message: "TypeError: Cannot read properties of null (reading 'x')",
    retryable: false,
  });
  t.deepEqual(failure(await sandbox.invoke(invocation('throwsString'))), {
    code: 'SANDBOX_ERROR',
    message: 'a plain string',
    retryable: false,
  });
  const huge = failure(await sandbox.invoke(invocation('throwsHuge')));
  t.is(huge.code, 'SANDBOX_ERROR');
  t.true(huge.message.length <= 1000);
  t.true(huge.message.startsWith('xxxx'));
  await assertHealthy(t);
});

test.serial('a PluginError passes its code, message and retryable through; bad or reserved codes do not', async (t) => {
  t.deepEqual(failure(await sandbox.invoke(invocation('pluginError'))), {
    code: 'RATE_LIMITED_BY_REMOTE',
    message: 'remote said no',
    retryable: false,
  });
  t.deepEqual(failure(await sandbox.invoke(invocation('pluginErrorRetryable'))), {
    code: 'REMOTE_BUSY',
    message: 'try later',
    retryable: true,
  });
  t.deepEqual(failure(await sandbox.invoke(invocation('pluginErrorBadCode'))), {
    code: 'SANDBOX_ERROR',
    message: 'PluginError with an invalid code: bad code',
    retryable: false,
  });
  t.is(failure(await sandbox.invoke(invocation('pluginErrorReserved'))).code, 'SANDBOX_ERROR');
  t.deepEqual(failure(await sandbox.invoke(invocation('pluginErrorEngine'))), {
    code: 'SANDBOX_ERROR',
    message: 'PluginError with an invalid code: pretending to be the engine',
    retryable: false,
  });
  t.deepEqual(
    failure(await sandbox.invoke(invocation('pluginErrorOpen'))),
    { code: 'BAD_USER_INPUT', message: 'with.city is not a city', retryable: false },
    "the catalogue's WORKFLOW, EGRESS and PLUGIN codes are open to plugins",
  );
});

test.serial('a synchronous infinite loop fails with SANDBOX_TIMEOUT at the deadline', async (t) => {
  const started = Date.now();
  const result = await sandbox.invoke(invocation('spin', {}, { timeoutMs: 500, cpuMs: 10_000 }));
  t.deepEqual(failure(result), { code: 'SANDBOX_TIMEOUT', message: 'test@1.0.0 did not finish within 500 ms', retryable: true });
  t.true(Date.now() - started < 3_000);
  await assertHealthy(t);
});

test.serial('an infinite loop of awaited promises fails with SANDBOX_TIMEOUT or SANDBOX_CPU', async (t) => {
  const result = await sandbox.invoke(invocation('asyncSpin', {}, { timeoutMs: 500, cpuMs: 400 }));
  t.true(['SANDBOX_TIMEOUT', 'SANDBOX_CPU'].includes(failure(result).code));
  await assertHealthy(t);
});

test.serial('a thenable that never settles fails with SANDBOX_TIMEOUT', async (t) => {
  t.is(failure(await sandbox.invoke(invocation('thenable', {}, { timeoutMs: 300 }))).code, 'SANDBOX_TIMEOUT');
});

test.serial('a promise that never resolves fails with SANDBOX_TIMEOUT at the deadline', async (t) => {
  const result = await sandbox.invoke(invocation('never', {}, { timeoutMs: 300 }));
  t.deepEqual(failure(result), { code: 'SANDBOX_TIMEOUT', message: 'test@1.0.0 did not finish within 300 ms', retryable: true });
  // Node timers have 1 ms granularity and may fire up to a millisecond early against performance.now().
  t.true(result.stats!.wallMs >= 299 && result.stats!.wallMs < 1_500, `wallMs ${result.stats!.wallMs}`);
  t.true(result.stats!.cpuMs < 100);
  await assertHealthy(t);
});

test.serial('memory bombs fail with SANDBOX_MEMORY', async (t) => {
  for (const action of ['arrayBomb', 'stringBomb']) {
    const result = await sandbox.invoke(invocation(action, {}, { memoryMb: 16, timeoutMs: 10_000, cpuMs: 10_000 }));
    t.deepEqual(
      failure(result),
      { code: 'SANDBOX_MEMORY', message: 'test@1.0.0 exceeded its memory limit of 16 MB', retryable: false },
      action,
    );
    // The disposed isolate left the cache: the next call with this limit compiles afresh and works.
    const again = await sandbox.invoke(invocation('echo', {}, { memoryMb: 16 }));
    t.true(again.ok, action);
  }
  await assertHealthy(t);
});

test.serial('a CPU budget lower than the timeout fails with SANDBOX_CPU', async (t) => {
  const result = await sandbox.invoke(invocation('spin', {}, { timeoutMs: 5_000, cpuMs: 200 }));
  t.deepEqual(failure(result), { code: 'SANDBOX_CPU', message: 'test@1.0.0 used more than its CPU budget of 200 ms', retryable: false });
  t.true(result.stats!.wallMs < 2_000);
  await assertHealthy(t);
});

test.serial('a 100 MB result fails with OUTPUT_TOO_LARGE', async (t) => {
  t.deepEqual(failure(await sandbox.invoke(invocation('bigOutput'))), {
    code: 'OUTPUT_TOO_LARGE',
    message: "the action's result is larger than 4194304 bytes",
    retryable: false,
  });
  t.is(failure(await sandbox.invoke(invocation('echo', { s: 'x'.repeat(2_000) }, { maxOutputBytes: 1_000 }))).code, 'OUTPUT_TOO_LARGE');
  await assertHealthy(t);
});

test.serial('a result that is not JSON (cycles, symbols, functions, bigints, proxies) fails with SANDBOX_ERROR', async (t) => {
  for (const action of ['cyclic', 'symbol', 'nestedFunction', 'bigint', 'proxyThrows', 'proxyFunctions']) {
    t.deepEqual(
      failure(await sandbox.invoke(invocation(action))),
      { code: 'SANDBOX_ERROR', message: "the action's result is not JSON", retryable: false },
      action,
    );
  }
  await assertHealthy(t);
});

test.serial('escapes find nothing of the host: only the language and the plugin API exist', async (t) => {
  const result = await sandbox.invoke(invocation('escapes'));
  t.true(result.ok);
  const out = (result.ok ? result.output : {}) as Record<string, unknown>;
  t.is(out.constructorChain, 'threw: process is not defined');
  t.is(out.actionChain, 'threw: process is not defined');
  for (const name of [
    'require',
    'process',
    'module',
    'exports',
    'Buffer',
    'console',
    'WebAssembly',
    'SharedArrayBuffer',
    'Atomics',
    'setTimeout',
    'fetch',
  ]) {
    t.is(out[name], 'undefined', name);
  }
  t.is(out.importFs, 'threw');
  t.deepEqual(out.reachableFrames, ['escapesFn'], 'no stack frame hands out the bootstrap’s (strict) functions');
  const language = [
    'AggregateError',
    'Array',
    'ArrayBuffer',
    'BigInt',
    'BigInt64Array',
    'BigUint64Array',
    'Boolean',
    'DataView',
    'Date',
    'Error',
    'EvalError',
    'Float32Array',
    'Float64Array',
    'Function',
    'Infinity',
    'Int16Array',
    'Int32Array',
    'Int8Array',
    'Intl',
    'JSON',
    'Map',
    'Math',
    'NaN',
    'Number',
    'Object',
    'Promise',
    'Proxy',
    'RangeError',
    'ReferenceError',
    'Reflect',
    'RegExp',
    'Set',
    'String',
    'Symbol',
    'SyntaxError',
    'TypeError',
    'URIError',
    'Uint16Array',
    'Uint32Array',
    'Uint8Array',
    'Uint8ClampedArray',
    'WeakMap',
    'WeakSet',
    'decodeURI',
    'decodeURIComponent',
    'encodeURI',
    'encodeURIComponent',
    'escape',
    'eval',
    'globalThis',
    'isFinite',
    'isNaN',
    'parseFloat',
    'parseInt',
    'undefined',
    'unescape',
    // ES2025 and explicit resource management, in V8 13 (Node.js 24): language intrinsics, nothing of the host.
    'AsyncDisposableStack',
    'DisposableStack',
    'Float16Array',
    'Iterator',
    'SuppressedError',
  ];
  const api = ['PluginError', 'defineAction', 'http', 'log'];
  t.deepEqual(out.globals, [...language, ...api].sort());
  await assertHealthy(t);
});

test.serial('egress errors reach the plugin as an Error with a code, and fail the step with it when uncaught', async (t) => {
  t.deepEqual(failure(await sandbox.invoke(invocation('egressDenied'))).code, 'EGRESS_DENIED');
  const caught = await sandbox.invoke(invocation('egressCaught'));
  t.deepEqual(caught.ok && caught.output, { name: 'HttpError', code: 'EGRESS_DENIED' });
});

test.serial('http.request reaches an allowed host through the egress layer', async (t) => {
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => res.end(`${req.method} ${req.headers['x-test']} ${body}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const inv = invocation('egressFetch', { url: `http://127.0.0.1:${port}/echo` });
    inv.network = { ...inv.network, allowedHosts: [`127.0.0.1:${port}`], allowedPrivate: ['127.0.0.1'] };
    const result = await sandbox.invoke(inv);
    t.deepEqual(result.ok ? result.output : result, { status: 200, body: 'POST yes ping', keys: ['body', 'headers', 'status'] });
  } finally {
    server.close();
  }
});

test.serial('a malformed invocation, a syntax error and a wrong hash fail cleanly without harming the process', async (t) => {
  const before = sandbox.crashes;
  const bad = { ...invocation('echo'), limits: { memoryMb: 'lots' } } as unknown as SandboxInvocation;
  t.deepEqual(failure(await sandbox.invoke(bad)), {
    code: 'SANDBOX_ERROR',
    message: 'invalid invocation: limits must be positive numbers',
    retryable: false,
  });
  const syntax = failure(await sandbox.invoke(invocation('x', {}, {}, 'defineAction("x", () => {')));
  t.is(syntax.code, 'SANDBOX_ERROR');
  t.regex(syntax.message, /^test@1\.0\.0 does not compile: Unexpected end of input/);
  const wrongHash = { ...invocation('echo'), script: { sha256: '0'.repeat(64), source: SOURCE, name: 'test@1.0.0' } };
  t.is(failure(await sandbox.invoke(wrongHash)).code, 'SCRIPT_HASH_MISMATCH');
  t.is(sandbox.crashes, before);
  await assertHealthy(t);
});

test.serial('an aborted signal resolves at once with SANDBOX_CANCELLED', async (t) => {
  const controller = new AbortController();
  const started = Date.now();
  const pending = sandbox.invoke(invocation('sleep', { ms: 5_000 }, { timeoutMs: 10_000, cpuMs: 10_000 }), controller.signal);
  setTimeout(() => controller.abort(), 100);
  t.deepEqual(failure(await pending), { code: 'SANDBOX_CANCELLED', message: 'the invocation was cancelled', retryable: false });
  t.true(Date.now() - started < 1_000);
  t.is(failure(await sandbox.invoke(invocation('echo'), AbortSignal.abort())).code, 'SANDBOX_CANCELLED');
  // The thread was told to stop too: two fresh calls (one per thread) run promptly.
  const both = await Promise.all([sandbox.invoke(invocation('echo')), sandbox.invoke(invocation('echo'))]);
  t.true(both.every((r) => r.ok));
  t.true(Date.now() - started < 3_000);
});

test.serial('killing the sandbox process fails its invocations with SANDBOX_CRASHED and a new process takes over', async (t) => {
  const pid = sandbox.pid!;
  const before = sandbox.crashes;
  const pending = sandbox.invoke(invocation('sleep', { ms: 10_000 }, { timeoutMs: 20_000, cpuMs: 20_000 }));
  // Let the invocation reach a thread before the kill.
  await new Promise((resolve) => setImmediate(resolve));
  process.kill(pid, 'SIGKILL');
  const crashed = failure(await pending);
  t.is(crashed.code, 'SANDBOX_CRASHED');
  t.true(crashed.retryable);
  t.is(sandbox.crashes, before + 1);
  t.like(crashes.at(-1), { pid, signal: 'SIGKILL', inFlight: 1 });
  await assertHealthy(t);
  t.not(sandbox.pid, undefined);
  t.not(sandbox.pid, pid);
});

test.serial('50 concurrent invocations all succeed', async (t) => {
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => sandbox.invoke(invocation('echo', { i }))));
  t.deepEqual(
    results.map((r) => (r.ok ? (r.output as { input: { i: number } }).input.i : r.error.code)),
    Array.from({ length: 50 }, (_, i) => i),
  );
});
