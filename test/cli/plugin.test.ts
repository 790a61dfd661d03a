/**
 * `switchyard plugin ...` as a user runs it: the built CLI in a child process, on real
 * files in a temporary directory, and (install, list, remove) against a real appliance
 * whose trust store is the CA the CLI created.
 */
import test from 'ava';
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADMIN_TOKEN, startTestAppliance, type TestAppliance } from '../support/appliance.js';
import { freePort, runSwitchyard } from '../fixtures/processes.js';
import { packFiles, readPackage } from '../../plugins/package/index.js';

const PUBLISHER = 'Acme Integrations';
const STACK_TRACE = /^\s+at .+:\d+:\d+\)?$/m;
const SUBCOMMANDS = ['ca', 'keygen', 'sign', 'verify', 'install', 'list', 'remove'];

let dir: string;
let app: TestAppliance;
/** dir/ca: the publisher CA (the appliance's trust store); dir/publisher: a key it issued. */
let caDir: string;
let pubDir: string;
let pluginDir: string;

const sy = (args: string[], env: Record<string, string | undefined> = {}) => runSwitchyard(args, env);
const at = (...parts: string[]): string => path.join(dir, ...parts);
const signArgs = (out: string, folder = pluginDir): string[] => [
  'plugin',
  'sign',
  folder,
  '--key',
  path.join(pubDir, 'publisher.key.pem'),
  '--cert',
  path.join(pubDir, 'publisher.cert.pem'),
  '--out',
  out,
];

function writePlugin(folder: string, manifest: Record<string, unknown>): void {
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, 'manifest.json'), JSON.stringify(manifest, null, 2));
  fs.writeFileSync(path.join(folder, 'plugin.js'), "defineAction('forecast', async (input) => ({ city: input.city }));\n");
  fs.writeFileSync(path.join(folder, 'README.txt'), 'Forecasts.\n');
}

const MANIFEST = {
  name: 'weather',
  version: '1.0.0',
  publisher: PUBLISHER,
  minApplianceVersion: '0.1.0',
  actions: [{ name: 'forecast', description: 'Forecast for a city', inputSchema: { type: 'object' }, outputSchema: { type: 'object' } }],
  permissions: { hosts: ['api.weather.example'] },
};

async function mustSucceed(args: string[]): Promise<string> {
  const result = await sy(args);
  if (result.code !== 0) throw new Error(`switchyard ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

test.before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-plugin-cli-'));
  caDir = at('ca');
  pubDir = at('publisher');
  pluginDir = at('weather');
  await mustSucceed(['plugin', 'ca', '--out', caDir, '--name', 'Acme plugin signing CA']);
  await mustSucceed([
    'plugin',
    'keygen',
    '--ca-key',
    path.join(caDir, 'ca.key.pem'),
    '--ca-cert',
    path.join(caDir, 'ca.cert.pem'),
    '--publisher',
    PUBLISHER,
    '--out',
    pubDir,
  ]);
  writePlugin(pluginDir, MANIFEST);
  // The trust store is read at start, so the CA must exist first.
  app = await startTestAppliance({ config: { pluginTrustStore: path.join(caDir, 'ca.cert.pem') } });
});

// A failure against the appliance is easier to read with what the appliance logged.
test.afterEach.always((t) => {
  if (!t.passed && app) t.log(app.logs.filter((l) => /"level":(40|50|60)/.test(l)).join('\n'));
});

test.after.always(async () => {
  await app?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('ca and keygen write PEM files with private keys at mode 0600', (t) => {
  for (const [folder, name] of [
    [caDir, 'ca'],
    [pubDir, 'publisher'],
  ] as const) {
    const key = path.join(folder, `${name}.key.pem`);
    const cert = path.join(folder, `${name}.cert.pem`);
    t.is(fs.statSync(key).mode & 0o777, 0o600, key);
    t.regex(fs.readFileSync(key, 'utf8'), /-----BEGIN (RSA )?PRIVATE KEY-----/);
    t.is(fs.statSync(cert).mode & 0o077, 0o044, `${cert} is readable by others, writable by none`);
    t.notThrows(() => new X509Certificate(fs.readFileSync(cert)));
  }
  const ca = new X509Certificate(fs.readFileSync(path.join(caDir, 'ca.cert.pem')));
  const publisher = new X509Certificate(fs.readFileSync(path.join(pubDir, 'publisher.cert.pem')));
  t.true(ca.ca);
  t.false(publisher.ca);
  t.true(publisher.checkIssued(ca));
  t.regex(publisher.subject, new RegExp(`CN=${PUBLISHER}`));
});

test('ca and keygen refuse to overwrite existing files (exit 2) and leave them as they were', async (t) => {
  const before = fs.readFileSync(path.join(caDir, 'ca.key.pem'), 'utf8');
  const ca = await sy(['plugin', 'ca', '--out', caDir, '--name', 'Another CA']);
  t.is(ca.code, 2);
  t.regex(ca.stderr, /refusing to overwrite .*ca\.key\.pem/);
  t.is(fs.readFileSync(path.join(caDir, 'ca.key.pem'), 'utf8'), before);

  // One of the two targets existing is enough to refuse, and the other is not created.
  const partial = at('partial');
  fs.mkdirSync(partial);
  fs.writeFileSync(path.join(partial, 'publisher.cert.pem'), 'keep me');
  const keygen = await sy([
    'plugin',
    'keygen',
    '--ca-key',
    path.join(caDir, 'ca.key.pem'),
    '--ca-cert',
    path.join(caDir, 'ca.cert.pem'),
    '--publisher',
    PUBLISHER,
    '--out',
    partial,
  ]);
  t.is(keygen.code, 2);
  t.regex(keygen.stderr, /refusing to overwrite .*publisher\.cert\.pem/);
  t.false(fs.existsSync(path.join(partial, 'publisher.key.pem')));
  t.is(fs.readFileSync(path.join(partial, 'publisher.cert.pem'), 'utf8'), 'keep me');
});

test('sign then verify: exit 0 with name, version, publisher, fingerprint and certificate expiry', async (t) => {
  const out = at('out', 'weather-1.0.0.tgz');
  const signed = await sy(signArgs(out));
  t.is(signed.code, 0, signed.stderr);
  t.regex(signed.stdout, /signed weather 1\.0\.0/);
  const { files } = await readPackage(fs.readFileSync(out));
  t.deepEqual([...files.keys()].sort(), ['README.txt', 'SIGNATURE.json', 'manifest.json', 'plugin.js']);

  const verified = await sy(['plugin', 'verify', out, '--trust-store', path.join(caDir, 'ca.cert.pem')]);
  t.is(verified.code, 0, verified.stderr + verified.stdout);
  const publisher = new X509Certificate(fs.readFileSync(path.join(pubDir, 'publisher.cert.pem')));
  t.regex(verified.stdout, /^verified: weather 1\.0\.0$/m);
  t.regex(verified.stdout, new RegExp(`publisher: +${PUBLISHER}$`, 'm'));
  t.true(verified.stdout.includes(createHash('sha256').update(publisher.raw).digest('hex')));
  t.true(verified.stdout.includes(new Date(publisher.validTo).toISOString()));

  // A plugin that needs a newer appliance than the one named is INCOMPATIBLE.
  const old = await sy(['plugin', 'verify', out, '--trust-store', path.join(caDir, 'ca.cert.pem'), '--appliance-version', '0.0.9']);
  t.is(old.code, 1);
  t.regex(old.stdout, /refused: INCOMPATIBLE/);
});

test('a package changed after signing is refused with MODIFIED (exit 1)', async (t) => {
  const out = at('tamper', 'weather.tgz');
  t.is((await sy(signArgs(out))).code, 0);
  const { files } = await readPackage(fs.readFileSync(out));
  files.set('plugin.js', Buffer.from("defineAction('forecast', async () => 'evil');\n"));
  const tampered = at('tamper', 'tampered.tgz');
  fs.writeFileSync(tampered, packFiles(files));
  const result = await sy(['plugin', 'verify', tampered, '--trust-store', path.join(caDir, 'ca.cert.pem')]);
  t.is(result.code, 1);
  t.regex(result.stdout, /^refused: MODIFIED$/m);
  t.regex(result.stdout, /plugin\.js.*modified/);
});

test('a package whose CA is not in the trust store is refused with UNTRUSTED_PUBLISHER (exit 1)', async (t) => {
  const out = at('untrusted', 'weather.tgz');
  t.is((await sy(signArgs(out))).code, 0);
  await mustSucceed(['plugin', 'ca', '--out', at('other-ca'), '--name', 'Someone else']);
  const result = await sy(['plugin', 'verify', out, '--trust-store', at('other-ca', 'ca.cert.pem')]);
  t.is(result.code, 1);
  t.regex(result.stdout, /^refused: UNTRUSTED_PUBLISHER$/m);
});

test('sign refuses an invalid manifest before signing, naming every issue with its path', async (t) => {
  const folder = at('invalid-plugin');
  writePlugin(folder, { ...MANIFEST, name: 'Weather!', version: '1.0', actions: [], colour: 'blue' });
  const out = at('invalid-out', 'weather.tgz');
  const result = await sy(signArgs(out, folder));
  t.is(result.code, 2);
  t.regex(result.stderr, /manifest\.json is invalid \(4 issues\); nothing was signed/);
  for (const issue of [
    /^ {2}name: must start with a lowercase letter/m,
    /^ {2}version: must be a version/m,
    /^ {2}actions: must have at least 1 item/m,
    /^ {2}colour: unknown property/m,
  ]) {
    t.regex(result.stderr, issue);
  }
  t.false(fs.existsSync(out));

  // A valid manifest naming another publisher than the certificate would never install.
  const other = at('other-publisher');
  writePlugin(other, { ...MANIFEST, publisher: 'Someone Else' });
  const mismatch = await sy(signArgs(out, other));
  t.is(mismatch.code, 2);
  t.regex(mismatch.stderr, /publisher: "Someone Else" is not the name on --cert/);
  t.false(fs.existsSync(out));
});

test('bad input exits 2 with a message naming what is wrong, never a stack trace', async (t) => {
  const garbage = at('garbage.pem');
  fs.writeFileSync(garbage, 'not a key\n');
  const key = path.join(pubDir, 'publisher.key.pem');
  const cert = path.join(pubDir, 'publisher.cert.pem');
  const caKey = path.join(caDir, 'ca.key.pem');
  const caCert = path.join(caDir, 'ca.cert.pem');
  const cases: [string[], RegExp][] = [
    [['plugin', 'verify', at('missing.tgz'), '--trust-store', caCert], /package .*missing\.tgz: no such file/],
    [['plugin', 'verify', garbage, '--trust-store', at('nope.pem')], /--trust-store .*nope\.pem: no such file/],
    [['plugin', 'verify', at('missing.tgz')], /required option '--trust-store <file>' not specified/],
    [
      ['plugin', 'verify', at('missing.tgz'), '--trust-store', caCert, '--appliance-version', 'latest'],
      /--appliance-version.*'latest' is invalid/,
    ],
    [['plugin', 'verify', at('x.tgz'), '--trust-store', caCert, '--frobnicate'], /unknown option '--frobnicate'/],
    [['plugin', 'sign', pluginDir, '--key', garbage, '--cert', cert, '--out', at('o.tgz')], /--key .*garbage\.pem: not a PEM private key/],
    [['plugin', 'sign', pluginDir, '--key', key, '--cert', garbage, '--out', at('o.tgz')], /--cert .*garbage\.pem: no PEM certificate/],
    [['plugin', 'sign', pluginDir, '--key', caKey, '--cert', cert, '--out', at('o.tgz')], /--key .*ca\.key\.pem does not belong to --cert/],
    [
      ['plugin', 'sign', at('no-such-folder'), '--key', key, '--cert', cert, '--out', at('o.tgz')],
      /plugin folder .*no-such-folder: no such directory/,
    ],
    [
      ['plugin', 'sign', pluginDir, '--key', key, '--cert', cert, '--out', path.join(pluginDir, 'o.tgz')],
      /--out .* is inside the plugin folder/,
    ],
    [
      ['plugin', 'keygen', '--ca-key', key, '--ca-cert', cert, '--publisher', 'x', '--out', at('k')],
      /--ca-cert .*publisher\.cert\.pem: not a CA certificate/,
    ],
    [
      ['plugin', 'keygen', '--ca-key', caKey, '--ca-cert', caCert, '--publisher', 'x', '--out', at('k'), '--days', 'soon'],
      /--days <n>.*'soon' is invalid/,
    ],
    [['plugin', 'ca', '--out', at('c')], /required option '--name <name>' not specified/],
    [['plugin', 'list'], /no API token: pass --token or set SWITCHYARD_TOKEN/],
    [['plugin', 'list', '--token', 'x', '--url', 'not a url'], /--url "not a url": not a URL/],
    [['plugin', 'remove', 'weather', 'latest', '--token', 'x'], /VERSION "latest": must be a version/],
    [['plugin', 'install', '--token', 'x'], /missing required argument 'file'/],
    [['plugin', 'launch'], /unknown command 'launch'/],
  ];
  await Promise.all(
    cases.map(async ([args, message]) => {
      const result = await sy(args);
      const what = args.slice(1).join(' ');
      t.is(result.code, 2, `${what}: ${result.stderr}`);
      t.regex(result.stderr, message, what);
      t.notRegex(result.stderr, STACK_TRACE, what);
    }),
  );
  t.false(fs.existsSync(at('k')), 'nothing written by a refused keygen');
});

test('--help of plugin and of each subcommand exits 0', async (t) => {
  const parent = await sy(['plugin', '--help']);
  t.is(parent.code, 0);
  for (const name of SUBCOMMANDS) t.regex(parent.stdout, new RegExp(`^ {2}${name}\\b`, 'm'));
  await Promise.all(
    SUBCOMMANDS.map(async (name) => {
      const result = await sy(['plugin', name, '--help']);
      t.is(result.code, 0, name);
      t.regex(result.stdout, new RegExp(`^Usage: switchyard plugin ${name}`, 'm'), name);
    }),
  );
});

test.serial('install, list and remove a plugin on a running appliance', async (t) => {
  const pkg = at('install', 'weather-1.0.0.tgz');
  t.is((await sy(signArgs(pkg))).code, 0);
  const env = { SWITCHYARD_TOKEN: ADMIN_TOKEN };

  const installed = await sy(['plugin', 'install', pkg, '--url', app.url], env);
  t.is(installed.code, 0, installed.stderr);
  t.regex(installed.stdout, /^installed weather 1\.0\.0 \(SIGNED, publisher "Acme Integrations"\)$/m);
  t.false(installed.stdout.includes(ADMIN_TOKEN) || installed.stderr.includes(ADMIN_TOKEN));
  const query = await app.gql(ADMIN_TOKEN, '{ plugins { name version trust } }');
  t.true(query.data.plugins.some((p: any) => p.name === 'weather' && p.version === '1.0.0' && p.trust === 'SIGNED'));

  // The token may also come from --token.
  const listed = await sy(['plugin', 'list', '--url', app.url, '--token', ADMIN_TOKEN]);
  t.is(listed.code, 0, listed.stderr);
  const lines = listed.stdout.trimEnd().split('\n');
  t.regex(lines[0]!, /^NAME +VERSION +TRUST +PUBLISHER +ACTIONS$/);
  t.true(
    lines.some((l) => /^weather +1\.0\.0 +SIGNED +Acme Integrations +weather\/forecast@1$/.test(l)),
    listed.stdout,
  );
  t.true(
    lines.some((l) => /^http +1\.0\.1 +CORE +/.test(l)),
    'first-party plugins are listed too',
  );
  t.false(listed.stdout.includes(ADMIN_TOKEN));

  // The appliance's own verification refuses a tampered package: exit 1 with its code and reason.
  const { files } = await readPackage(fs.readFileSync(pkg));
  files.set('plugin.js', Buffer.from("defineAction('forecast', async () => 'evil');\n"));
  const tampered = at('install', 'tampered.tgz');
  fs.writeFileSync(tampered, packFiles(files));
  const refused = await sy(['plugin', 'install', tampered, '--url', app.url], env);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /BAD_USER_INPUT: plugin package refused \(MODIFIED\)/);

  const removed = await sy(['plugin', 'remove', 'weather', '1.0.0', '--url', app.url], env);
  t.is(removed.code, 0, removed.stderr);
  t.regex(removed.stdout, /^removed weather 1\.0\.0$/m);
  const after = await sy(['plugin', 'list', '--url', app.url], env);
  t.is(after.code, 0);
  t.false(/^weather /m.test(after.stdout), after.stdout);

  const again = await sy(['plugin', 'remove', 'weather', '1.0.0', '--url', app.url], env);
  t.is(again.code, 1);
  t.regex(again.stderr, /NOT_FOUND: plugin weather 1\.0\.0 is not installed/);
});

test.serial('install with a bad token exits 1 with UNAUTHENTICATED and never prints the token', async (t) => {
  const pkg = at('badtoken', 'weather.tgz');
  t.is((await sy(signArgs(pkg))).code, 0);
  const badToken = 'sy_AAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
  for (const [args, env] of [
    [['--token', badToken], {}],
    [[], { SWITCHYARD_TOKEN: badToken }],
  ] as [string[], Record<string, string>][]) {
    const result = await sy(['plugin', 'install', pkg, '--url', app.url, ...args], env);
    t.is(result.code, 1);
    t.regex(result.stderr, /UNAUTHENTICATED/);
    t.false(result.stdout.includes(badToken) || result.stderr.includes(badToken));
    t.notRegex(result.stderr, STACK_TRACE);
  }
  const query = await app.gql(ADMIN_TOKEN, '{ plugins { name } }');
  t.false(query.data.plugins.some((p: any) => p.name === 'weather'));
});

test('an appliance that does not answer is exit 1 with the address, not the token', async (t) => {
  const port = await freePort();
  const result = await sy(['plugin', 'list', '--url', `http://127.0.0.1:${port}`, '--token', ADMIN_TOKEN]);
  t.is(result.code, 1);
  t.regex(result.stderr, new RegExp(`cannot reach the appliance at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
  t.false(result.stderr.includes(ADMIN_TOKEN));
});
