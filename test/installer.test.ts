/**
 * `switchyard install` into a prefix, as enterprise IT runs it unattended: preflight,
 * config file, keys, TLS from a generated local CA, database schema and roles, systemd
 * units and the first admin token; then the installed appliance serving HTTPS to a client
 * that trusts only that CA.
 */
import test from 'ava';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freshDatabase } from './support/database.js';
import { waitFor } from './support/appliance.js';
import { freePort, runSwitchyard, spawnSwitchyard, stopChild } from './fixtures/processes.js';

const TOKEN_BANNER = /System-admin token \(shown once, store it now\):\n {2}(\S+)\n/;

function tempPrefix(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-install-'));
}

const mode = (file: string) => fs.statSync(file).mode & 0o777;

/** GET over TLS trusting only `ca` (or the system store when null); the status, or the TLS error's code. */
function httpsGet(
  port: number,
  pathname: string,
  ca: string | null,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const request = https.request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        path: pathname,
        method: body ? 'POST' : 'GET',
        headers,
        ...(ca ? { ca } : {}),
        // The name checked is the one the client asked for: localhost, a SAN of the certificate.
        checkServerIdentity: (_host, cert) =>
          cert.subjectaltname?.includes('DNS:localhost') ? undefined : new Error('localhost is not in the certificate'),
      },
      (response) => {
        let text = '';
        response.on('data', (chunk) => {
          text += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    request.end(body);
  });
}

test('an unattended install into a prefix writes config, keys, TLS and units, prints the admin token once, and the appliance it installed serves HTTPS trusted through its CA', async (t) => {
  const prefix = tempPrefix();
  t.teardown(() => fs.rmSync(prefix, { recursive: true, force: true }));
  const db = await freshDatabase();
  const port = await freePort();
  const args = [
    'install',
    '--yes',
    '--prefix',
    prefix,
    '--database-url',
    db,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--hostname',
    'localhost',
    '--hostname',
    '127.0.0.1',
  ];
  const first = await runSwitchyard(args, {}, 120_000);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /Preflight:\nPASS {2}Node\.js/);
  for (const check of [
    'memory',
    'free disk',
    `port 127.0.0.1:${port}`,
    'PostgreSQL',
    'database privileges',
    'clock skew',
    'config directory',
    'data directory',
    'proxy',
  ]) {
    t.regex(first.stdout, new RegExp(`^(PASS|WARN) +${check.replace(/[.]/g, '\\.')} `, 'm'), `preflight reports ${check}`);
  }
  const token = TOKEN_BANNER.exec(first.stdout)?.[1];
  t.truthy(token, 'the first admin token is printed');

  const etc = path.join(prefix, 'etc/switchyard');
  const configFile = path.join(etc, 'switchyard.env');
  t.is(mode(configFile), 0o640);
  for (const secret of ['keys/master.key', 'keys/audit-signing.pem', 'tls/server.key', 'tls/ca.key'])
    t.is(mode(path.join(etc, secret)), 0o600, `${secret} is the owner's alone`);
  const config = fs.readFileSync(configFile, 'utf8');
  t.regex(config, new RegExp(`^SWITCHYARD_TLS_CERT_FILE=${path.join(etc, 'tls/server.pem')}$`, 'm'));
  t.regex(config, /^SWITCHYARD_ENV=production$/m);
  t.false(config.includes(token!), 'the token is not in the config file');
  for (const role of ['api', 'worker']) {
    const unit = fs.readFileSync(path.join(prefix, 'etc/systemd/system', `switchyard-${role}.service`), 'utf8');
    for (const line of [
      'NoNewPrivileges=true',
      'ProtectSystem=strict',
      'PrivateTmp=true',
      'LimitNOFILE=65536',
      `EnvironmentFile=${configFile}`,
      `start --role ${role}`,
      `ReadWritePaths=${path.join(prefix, 'var/lib/switchyard')}`,
    ]) {
      t.true(unit.includes(line), `switchyard-${role}.service has ${line}`);
    }
  }

  // Again: keys and CA kept, no second token.
  const keyBefore = fs.readFileSync(path.join(etc, 'keys/master.key'), 'utf8');
  const caBefore = fs.readFileSync(path.join(etc, 'tls/ca.pem'), 'utf8');
  const second = await runSwitchyard(args, {}, 120_000);
  t.is(second.code, 0, second.stderr);
  t.false(TOKEN_BANNER.test(second.stdout), 'a second install prints no token');
  t.is(fs.readFileSync(path.join(etc, 'keys/master.key'), 'utf8'), keyBefore);
  t.is(fs.readFileSync(path.join(etc, 'tls/ca.pem'), 'utf8'), caBefore);

  // The installed appliance, from its config file alone.
  const server = spawnSwitchyard(['--config', configFile, 'start'], {});
  t.teardown(() => stopChild(server, 5000));
  const ca = fs.readFileSync(path.join(etc, 'tls/ca.pem'), 'utf8');
  await waitFor(
    async () => {
      if (!server.alive()) throw new Error(`the installed appliance exited: ${server.stderr()}`);
      const r = await httpsGet(port, '/ready', ca);
      return 'status' in r && r.status === 200;
    },
    'the installed appliance to be ready over HTTPS',
    60_000,
  );
  const untrusted = await httpsGet(port, '/ready', null);
  t.true(
    'error' in untrusted && /SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY/.test(untrusted.error),
    `a client without the CA refuses the certificate (${JSON.stringify(untrusted)})`,
  );
  const viewer = await httpsGet(
    port,
    '/graphql',
    ca,
    { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    JSON.stringify({ query: '{ viewer { role } }' }),
  );
  t.deepEqual(
    'status' in viewer ? JSON.parse(viewer.body) : viewer,
    { data: { viewer: { role: 'SYSTEM_ADMIN' } } },
    'the printed token signs in over HTTPS',
  );
  const plain = await fetch(`http://127.0.0.1:${port}/ready`).then(
    (r) => r.status,
    (e: Error) => e.name,
  );
  t.not(plain, 200, 'no plain HTTP on the TLS port');
});

test('a failing preflight check stops the install with the reason and the fix and changes nothing; --ignore-preflight installs and is recorded', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  const prefix = path.join(tempPrefix(), 'root');
  t.teardown(() => fs.rmSync(path.dirname(prefix), { recursive: true, force: true }));
  const db = await freshDatabase();
  const args = [
    'install',
    '--yes',
    '--prefix',
    prefix,
    '--database-url',
    db,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--hostname',
    'localhost',
    '--no-tls',
  ];

  const client = new pg.Client({ connectionString: db });
  await client.connect();
  t.teardown(() => client.end());
  const counts = async () =>
    (await client.query('select (select count(*)::int from api_tokens) as tokens, (select count(*)::int from audit_events) as events'))
      .rows[0];
  const before = await counts();

  const refused = await runSwitchyard(args, {}, 120_000);
  t.is(refused.code, 1);
  t.regex(
    refused.stdout,
    new RegExp(`^FAIL +port 127\\.0\\.0\\.1:${port} +in use by another program\\n +fix: stop what listens there`, 'm'),
  );
  t.regex(refused.stderr, /preflight failed \(port 127\.0\.0\.1:\d+\); nothing was changed/);
  t.false(fs.existsSync(prefix), 'nothing was created');
  t.deepEqual(await counts(), before, 'no token made, nothing recorded');

  const forced = await runSwitchyard([...args, '--ignore-preflight'], {}, 120_000);
  t.is(forced.code, 0, forced.stderr);
  t.regex(
    fs.readFileSync(path.join(prefix, 'etc/switchyard/switchyard.env'), 'utf8'),
    /with --ignore-preflight \(failed: port 127\.0\.0\.1:\d+\)/,
  );
  const { rows } = await client.query("select reason, details from audit_events where action = 'config.installed'");
  t.is(rows.length, 1);
  t.regex(rows[0].reason, /installed with --ignore-preflight despite: port 127\.0\.0\.1:\d+ \(in use by another program\)/);
  t.like(rows[0].details, { ignorePreflight: true, tls: 'none' });
});

test('bad answers are refused naming each wrong field, host names that are neither DNS names nor addresses too, before anything is checked or written', async (t) => {
  const dir = tempPrefix();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const answers = path.join(dir, 'answers.json');
  fs.writeFileSync(answers, JSON.stringify({ port: 70000, tls: { mode: 'sometimes' }, hostnames: ['bad host'], colour: 'blue' }));
  const result = await runSwitchyard(['install', '--yes', '--answers', answers, '--prefix', path.join(dir, 'root')], {}, 60_000);
  t.is(result.code, 1);
  for (const problem of [
    '/port must be <= 65535',
    '/hostnames/0 must match pattern',
    '/tls must match exactly one schema',
    'must NOT have additional properties',
  ])
    t.true(result.stderr.includes(problem), `${problem} in ${result.stderr}`);
  t.false(result.stdout.includes('Preflight'), 'no check ran');
  t.false(fs.existsSync(path.join(dir, 'root')));

  // Characters the schema allows can still make no host name a certificate or a resolver accepts.
  const names = await runSwitchyard(
    [
      'install',
      '--yes',
      '--prefix',
      path.join(dir, 'root'),
      '--hostname',
      'localhost',
      '--hostname',
      'switchyard-.corp',
      '--hostname',
      'a..b',
    ],
    {},
    60_000,
  );
  t.is(names.code, 1);
  t.regex(
    names.stderr,
    /flags: \/hostnames\/1 "switchyard-\.corp" has a label starting or ending with a hyphen; \/hostnames\/2 "a\.\.b" has an empty label/,
  );
  t.false(fs.existsSync(path.join(dir, 'root')));
});
