/**
 * The offline bundle (`npm run bundle`): unpacked where no node_modules of this checkout
 * can be reached, installed and started with npm pointed at a registry that does not
 * exist and every proxy dead, it serves /ready.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { makeBundle } from '../installer/bundle.js';
import { freshDatabase } from './support/database.js';
import { waitFor } from './support/appliance.js';
import { childEnv, freePort, httpStatus } from './fixtures/processes.js';

// No network: a registry and proxies nothing listens on.
const OFFLINE = {
  npm_config_offline: 'true', npm_config_registry: 'http://127.0.0.1:9/', HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9', NO_PROXY: 'localhost,127.0.0.1',
};

function run(command: string, args: string[], env: Record<string, string | undefined>, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: childEnv(env), timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('the offline bundle holds production dependencies only, with isolated-vm compiled, and installs and starts with no registry or network', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bundle-test-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const file = await makeBundle(path.join(root, 'switchyard.tar.gz'));
  await tar.extract({ file, cwd: root });
  const [name] = fs.readdirSync(root).filter((n) => n.startsWith('switchyard-'));
  t.regex(name!, new RegExp(`^switchyard-\\d+\\.\\d+\\.\\d+-linux-x64-node${process.versions.node.split('.')[0]}$`));
  const app = path.join(root, name!);
  t.true(fs.existsSync(path.join(app, 'node_modules/isolated-vm/out/isolated_vm.node')), 'isolated-vm is compiled in the bundle');
  // (typescript and @types/node stay: graphile-worker depends on them.)
  for (const dev of ['ava', 'csv-stringify', '@types/node-forge', 'playwright-core']) t.false(fs.existsSync(path.join(app, 'node_modules', dev)), `no ${dev} (a dev dependency)`);
  t.false(fs.existsSync(path.join(app, 'dist/test')), 'no tests');
  t.true(fs.existsSync(path.join(app, 'plugins/firstParty/http/plugin.js')), 'the first-party plugins');

  const prefix = path.join(root, 'host');
  const port = await freePort();
  const bin = path.join(app, 'bin/switchyard');
  const installed = await run(bin, ['install', '--yes', '--prefix', prefix, '--database-url', await freshDatabase(), '--host', '127.0.0.1', '--port', String(port), '--hostname', 'localhost', '--no-tls'], OFFLINE, 120_000);
  t.is(installed.code, 0, installed.stderr);
  t.regex(installed.stdout, /System-admin token \(shown once/);
  t.true(fs.readFileSync(path.join(prefix, 'etc/systemd/system/switchyard-api.service'), 'utf8').includes(`${prefix}/opt/switchyard/current/dist/bin/switchyard.js start --role api`), 'the units run the current release');
  t.is(fs.realpathSync(path.join(prefix, 'opt/switchyard/current')), path.join(prefix, 'opt/switchyard/releases', name!.split('-')[1]!), 'which is the bundle\'s, copied in');

  const server = spawn(bin, ['--config', path.join(prefix, 'etc/switchyard/switchyard.env'), 'start'], { env: childEnv(OFFLINE), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  server.stderr.on('data', (c) => { stderr += c; });
  t.teardown(() => { server.kill('SIGKILL'); });
  await waitFor(async () => {
    if (server.exitCode !== null) throw new Error(`the bundled appliance exited: ${stderr}`);
    return (await httpStatus(`http://127.0.0.1:${port}/ready`)) === 200;
  }, 'the bundled appliance to be ready', 60_000);
  // The admin console ships built: its page, its scripts and Preact's modules, with no package for them.
  t.is(await httpStatus(`http://127.0.0.1:${port}/`), 200);
  t.is(await httpStatus(`http://127.0.0.1:${port}/ui/main.js`), 200);
  t.is(await httpStatus(`http://127.0.0.1:${port}/ui/vendor/preact.module.js`), 200);
  t.false(fs.existsSync(path.join(app, 'node_modules/preact')), 'preact is a build-time dependency only');
});
