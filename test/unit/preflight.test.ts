import test from 'ava';
import { clockSkew, cpus, formatChecks, freeDisk, memory, nodeVersion, proxy } from '../../installer/preflight.js';

const GIB = 2 ** 30;

test('each check passes, warns or fails at its limits, with a fix for anything but PASS', (t) => {
  t.is(nodeVersion('20.0.0').status, 'PASS');
  t.is(nodeVersion('18.19.1').status, 'FAIL');
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
  for (const r of [nodeVersion('18.0.0'), cpus(1), memory(0), disk(0), clockSkew(0, 60_000)]) t.truthy(r.fix, `${r.name} says how to fix it`);
});

test('a proxy without NO_PROXY for loopback and the database host warns and names what is missing', (t) => {
  t.is(proxy({}, null).status, 'PASS');
  const missing = proxy({ HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'localhost' }, 'postgres://u@db.corp.example:5432/sy');
  t.is(missing.status, 'WARN');
  t.regex(missing.detail, /does not cover 127\.0\.0\.1, db\.corp\.example/);
  t.is(proxy({ https_proxy: 'http://proxy:3128', no_proxy: 'localhost,127.0.0.1,.corp.example' }, 'postgres://u@db.corp.example/sy').status, 'PASS');
});

test('the table lines up names and puts each fix under its check', (t) => {
  const table = formatChecks([{ name: 'a', status: 'PASS', detail: 'ok' }, { name: 'longer', status: 'FAIL', detail: 'bad', fix: 'do this' }]);
  t.is(table, 'PASS  a       ok\nFAIL  longer  bad\n              fix: do this');
});
