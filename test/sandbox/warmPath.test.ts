import test from 'ava';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SandboxSupervisor, type SandboxInvocation, type SandboxLogLine, type SandboxResult } from '../../sandbox/runtime/index.js';

/**
 * The warm path keeps a fresh context per invocation: a thread makes the next context of an
 * isolate ahead of time, and it must hold nothing of earlier invocations and answer only the
 * invocation that takes it. One thread, so every call after the first uses such a context.
 */
const SOURCE = String.raw`
let loads = 0;
loads += 1;
defineAction('state', () => {
  const seen = { loads, global: globalThis.leaked === undefined ? null : globalThis.leaked, proto: ({}).polluted === undefined ? null : ({}).polluted };
  globalThis.leaked = 'from an earlier invocation';
  Object.prototype.polluted = 'from an earlier invocation';
  JSON.stringify = () => '"patched"';
  return seen;
});
defineAction('log', (input) => { log.info('hello ' + input.n); return input.n; });
defineAction('fetch', async (input) => {
  try { return (await http.request({ url: input.url })).body; } catch (e) { return e.code; }
});
defineAction('leaveBehind', (input) => {
  // Not awaited: its continuation runs after this invocation has ended.
  http.request({ url: input.url }).then(() => log.info('late'), () => log.info('late'));
  return 'left';
});
`;

const SHA = createHash('sha256').update(SOURCE).digest('hex');
const logs: SandboxLogLine[] = [];
let sandbox: SandboxSupervisor;
let server: Server;
let host: string;
let n = 0;

function invocation(action: string, input: unknown = {}, allowedHosts: string[] = []): SandboxInvocation {
  n += 1;
  return {
    invocationId: `warm-${n}`,
    script: { sha256: SHA, source: SOURCE, name: 'warm@1.0.0' },
    action,
    input,
    context: { tenantId: `tenant-${n % 3}`, runId: `run-${n}`, stepId: 's', attempt: 1, idempotencyKey: `k-${n}` },
    limits: { memoryMb: 32, timeoutMs: 5_000, cpuMs: 2_000, maxOutputBytes: 1_000_000 },
    network: {
      allowedHosts,
      allowedPrivate: allowedHosts.length ? ['127.0.0.1'] : [],
      maxRequests: 5,
      maxResponseBytes: 100_000,
      requestTimeoutMs: 2_000,
    },
    credentials: [],
  };
}

const output = (r: SandboxResult) => (r.ok ? r.output : r.error);

test.before(async () => {
  sandbox = await SandboxSupervisor.start({ poolSize: 1, onLog: (line) => logs.push(line) });
  server = createServer((req, res) => {
    const delay = req.url === '/slow' ? 200 : 0;
    setTimeout(() => res.end('pong'), delay);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

test.after.always(async () => {
  await sandbox?.stop();
  await new Promise((resolve) => server?.close(resolve));
});

test.serial('no state carries from one invocation to the next: script top level, globals, prototypes, intrinsics', async (t) => {
  for (let i = 0; i < 20; i++) {
    const result = await sandbox.invoke(invocation('state'));
    t.deepEqual(output(result), { loads: 1, global: null, proto: null }, `call ${i}`);
    // Isolates are per tenant and the calls rotate three tenants: each tenant's first call is cold.
    t.is(result.stats!.cold, i < 3, `call ${i}`);
  }
});

test.serial('log lines of consecutive invocations carry their own invocation id', async (t) => {
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    const inv = invocation('log', { n: i });
    ids.push(inv.invocationId);
    t.is(output(await sandbox.invoke(inv)), i);
  }
  const start = Date.now();
  while (logs.filter((l) => ids.includes(l.invocationId)).length < 10 && Date.now() - start < 5_000)
    await new Promise((r) => setTimeout(r, 10));
  t.deepEqual(
    logs.filter((l) => ids.includes(l.invocationId)).map((l) => [l.invocationId, l.message]),
    ids.map((id, i) => [id, `hello ${i}`]),
  );
});

test.serial('each invocation reaches the network with its own policy, whatever the one before was allowed', async (t) => {
  const url = `http://${host}/`;
  t.is(output(await sandbox.invoke(invocation('fetch', { url }))), 'EGRESS_DENIED');
  t.is(output(await sandbox.invoke(invocation('fetch', { url }, [host]))), 'pong');
  t.is(output(await sandbox.invoke(invocation('fetch', { url }))), 'EGRESS_DENIED');
  t.is(output(await sandbox.invoke(invocation('fetch', { url }, [host]))), 'pong');
});

test.serial('an unawaited request finishes within its own invocation; nothing reaches a later one', async (t) => {
  const left = invocation('leaveBehind', { url: `http://${host}/slow` }, [host]);
  t.is(output(await sandbox.invoke(left)), 'left');
  const later: string[] = [];
  for (let i = 0; i < 5; i++) {
    const inv = invocation('log', { n: 100 + i });
    later.push(inv.invocationId);
    t.is(output(await sandbox.invoke(inv)), 100 + i);
    await new Promise((r) => setTimeout(r, 60));
  }
  // The invocation ended only once its request had settled, so the line is its own.
  t.deepEqual(
    logs.filter((l) => l.message === 'late').map((l) => l.invocationId),
    [left.invocationId],
  );
  t.false(logs.some((l) => later.includes(l.invocationId) && l.message !== `hello ${100 + later.indexOf(l.invocationId)}`));
});
