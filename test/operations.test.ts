/**
 * `switchyard support-bundle` and `switchyard doctor` as an operator runs them, against a
 * real database, with the config file the installer's format.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { freshDatabase } from './support/database.js';
import { runSwitchyard } from './fixtures/processes.js';

const SECRETS = {
  adminToken: 'sy_PlAnTeDa_b7c9d1e3f5a7b9c1d3e5f7a9b1c3d5e7',
  runtimePassword: 'Plant3dRuntimePw',
  proxyPassword: 'Plant3dProxyPw',
  logToken: 'sy_QwErTyUi_0123456789abcdef0123456789abcdef',
  bearer: 'Plant3dBearerValue',
  logPassword: 'Plant3dLogPw',
  keyMaterial: 'Plant3dKeyMaterialAAAABBBBCCCC',
  urlPassword: 'Plant3dUrlPw',
  credentialSecret: 'Plant3dClientSecret',
};

function setup(databaseUrl: string): { dir: string; configFile: string; logFile: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-ops-'));
  const configFile = path.join(dir, 'switchyard.env');
  fs.writeFileSync(
    configFile,
    [
      '# as switchyard install writes it, plus what an administrator added',
      `DATABASE_URL=${databaseUrl}`,
      'PORT=18443',
      `SWITCHYARD_DATA_DIR=${path.join(dir, 'data')}`,
      `SWITCHYARD_MASTER_KEY_FILE=${path.join(dir, 'keys', 'master.key')}`,
      `SWITCHYARD_AUDIT_SIGNING_KEY_FILE=${path.join(dir, 'keys', 'audit-signing.pem')}`,
      `SWITCHYARD_ADMIN_TOKEN=${SECRETS.adminToken}`,
      `SWITCHYARD_RUNTIME_DATABASE_URL=postgres://switchyard_runtime:${SECRETS.runtimePassword}@db.corp.example:5432/switchyard`,
      `HTTPS_PROXY=http://proxyuser:${SECRETS.proxyPassword}@proxy.corp.example:3128`,
      '',
    ].join('\n'),
    { mode: 0o640 },
  );
  const logFile = path.join(dir, 'api.log');
  fs.writeFileSync(
    logFile,
    [
      '{"level":30,"msg":"Switchyard is listening","url":"https://switchyard.corp.example:18443"}',
      `{"level":40,"msg":"token used","token":"${SECRETS.logToken}"}`,
      `request headers: authorization: Bearer ${SECRETS.bearer}`,
      `connecting with password=${SECRETS.logPassword}`,
      `-----BEGIN RSA PRIVATE KEY-----\n${SECRETS.keyMaterial}\n-----END RSA PRIVATE KEY-----`,
      `upstream postgres://app:${SECRETS.urlPassword}@db.corp.example/app refused`,
      `{"credential":{"clientSecret":"${SECRETS.credentialSecret}"}}`,
      '',
    ].join('\n'),
  );
  return { dir, configFile, logFile };
}

test('the support bundle holds versions, configuration, logs and database statistics, and none of the secrets planted in them', async (t) => {
  const { dir, configFile, logFile } = setup(await freshDatabase());
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'support.tar.gz');
  const result = await runSwitchyard(['--config', configFile, 'support-bundle', '--out', out, '--log', logFile], {}, 60_000);
  t.is(result.code, 0, result.stderr);
  t.is(fs.statSync(out).mode & 0o777, 0o600);
  const extracted = path.join(dir, 'x');
  fs.mkdirSync(extracted);
  await tar.extract({ file: out, cwd: extracted, strip: 1 });
  const files = fs
    .readdirSync(extracted, { recursive: true })
    .map(String)
    .filter((f) => fs.statSync(path.join(extracted, f)).isFile())
    .sort();
  t.deepEqual(files, ['config-file.env', 'config.json', 'database.json', 'logs/1-api.log', 'versions.json']);
  const all = files.map((f) => fs.readFileSync(path.join(extracted, f), 'utf8')).join('\n');
  for (const [name, secret] of Object.entries(SECRETS)) t.false(all.includes(secret), `${name} is not in the bundle`);
  t.false(all.includes('BEGIN RSA PRIVATE KEY'), 'no key block survives');

  // Redaction keeps what support needs.
  const env = fs.readFileSync(path.join(extracted, 'config-file.env'), 'utf8');
  t.regex(env, /^PORT=18443$/m);
  t.regex(env, /^SWITCHYARD_ADMIN_TOKEN=\[REDACTED\]$/m);
  t.regex(env, /^HTTPS_PROXY=http:\/\/proxyuser:\[REDACTED\]@proxy\.corp\.example:3128$/m);
  const log = fs.readFileSync(path.join(extracted, 'logs/1-api.log'), 'utf8');
  t.true(log.includes('"msg":"Switchyard is listening"'));
  t.true(log.includes('db.corp.example/app refused'));
  const stats = JSON.parse(fs.readFileSync(path.join(extracted, 'database.json'), 'utf8'));
  t.true(
    stats.tables.some((r: { table: string }) => r.table === 'runs'),
    'table statistics',
  );
  t.true(stats.migrations.length >= 14, 'the migrations applied');
  t.true(Array.isArray(stats.jobs));
  const versions = JSON.parse(fs.readFileSync(path.join(extracted, 'versions.json'), 'utf8'));
  t.is(versions.node, process.version);
  t.like(JSON.parse(fs.readFileSync(path.join(extracted, 'config.json'), 'utf8')), {
    port: 18443,
    adminToken: '(set)',
    runtimeDatabaseUrl: 'postgres://db.corp.example:5432/switchyard',
  });
});

test('doctor fails on missing or exposed key files naming the fix, and passes once they are right; the database checks run against the real server', async (t) => {
  const { dir, configFile } = setup(await freshDatabase());
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const missing = await runSwitchyard(['--config', configFile, 'doctor'], {}, 60_000);
  t.is(missing.code, 1);
  t.regex(missing.stdout, /^FAIL +master key +.*master\.key is missing\n +fix: restore it from the key backup/m);
  t.regex(missing.stdout, /^PASS +database +PostgreSQL \d+\.\d+.* answers$/m);
  t.regex(missing.stdout, /^PASS +migrations +all applied$/m);
  t.regex(missing.stdout, /^WARN +engine +no worker process is registered/m);
  t.regex(missing.stdout, /^PASS +circuit breakers +none open$/m);

  fs.mkdirSync(path.join(dir, 'keys'));
  for (const name of ['master.key', 'audit-signing.pem']) fs.writeFileSync(path.join(dir, 'keys', name), 'x', { mode: 0o644 });
  const exposed = await runSwitchyard(['--config', configFile, 'doctor'], {}, 60_000);
  t.is(exposed.code, 1);
  t.regex(exposed.stdout, /^FAIL +master key +.* is readable by others \(mode 644\)\n +fix: chmod 600 /m);

  for (const name of ['master.key', 'audit-signing.pem']) fs.chmodSync(path.join(dir, 'keys', name), 0o600);
  const healthy = await runSwitchyard(['--config', configFile, 'doctor'], {}, 60_000);
  t.is(healthy.code, 0, healthy.stdout);
  t.regex(healthy.stdout, /^0 failed, 1 warnings, \d+ passed$/m);
});
