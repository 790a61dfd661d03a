import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import pg from 'pg';
import { ADMIN_TOKEN, startTestAppliance, type TestAppliance } from '../support/appliance.js';
import { generateCa, generatePublisherKey, packFiles, signFiles, type KeyAndCertificate } from '../../plugins/package/index.js';

let app: TestAppliance;
let unsignedApp: TestAppliance;
let db: pg.Pool;
let publisher: KeyAndCertificate;
let stranger: KeyAndCertificate;
let editor: string;
let tenantAdmin: string;

const PLUGIN_FIELDS = 'id name version publisher trust actions { name uses } permissions { hosts } publisherFingerprint';

function files(
  version: string,
  extra: Record<string, unknown> = {},
  script = "defineAction('forecast', async (input) => ({ city: input.city }));",
): Map<string, Buffer> {
  const manifest = {
    name: 'weather',
    version,
    publisher: 'Acme Integrations',
    minApplianceVersion: '0.1.0',
    entry: 'plugin.js',
    actions: [{ name: 'forecast', description: 'Forecast for a city', inputSchema: { type: 'object' }, outputSchema: { type: 'object' } }],
    permissions: { hosts: ['api.weather.example'], credentialTypes: [], rawSecretAccess: false },
    resources: { memoryMb: 32 },
    ...extra,
  };
  return new Map([
    ['manifest.json', Buffer.from(JSON.stringify(manifest))],
    ['plugin.js', Buffer.from(script)],
  ]);
}

const signed = (contents: Map<string, Buffer>, key = publisher): string =>
  packFiles(signFiles(contents, key.privateKeyPem, key.certificatePem)).toString('base64');

async function install(appliance: TestAppliance, bundle: string, token = ADMIN_TOKEN) {
  return appliance.gql(token, `mutation($b: String!) { installPlugin(input: { bundle: $b }) { ${PLUGIN_FIELDS} } }`, { b: bundle });
}

test.before(async () => {
  const ca = generateCa({ commonName: 'Switchyard test publisher CA' });
  const otherCa = generateCa({ commonName: 'Someone else' });
  publisher = generatePublisherKey({ commonName: 'Acme Integrations', ca });
  stranger = generatePublisherKey({ commonName: 'Acme Integrations', ca: otherCa });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-trust-'));
  const trustStore = path.join(dir, 'trust.pem');
  fs.writeFileSync(trustStore, ca.certificatePem);
  app = await startTestAppliance({ config: { pluginTrustStore: trustStore } });
  unsignedApp = await startTestAppliance({ config: { pluginTrustStore: trustStore, allowUnsignedPlugins: true } });
  const tenant = await app.tenant('plugins', ['EDITOR', 'ADMIN']);
  editor = tenant.tokens['EDITOR']!;
  tenantAdmin = tenant.tokens['ADMIN']!;
  db = new pg.Pool({ connectionString: app.databaseUrl, max: 2 });
});

test.after.always(async () => {
  await db?.end();
  await app?.stop();
  await unsignedApp?.stop();
});

test.serial('the first-party plugins are installed at start as CORE and listed for tenants', async (t) => {
  const res = await app.gql(editor, `{ plugins { ${PLUGIN_FIELDS} } }`);
  const byName = new Map<string, any>(res.data.plugins.map((p: any) => [p.name, p]));
  t.deepEqual([...byName.keys()].sort(), ['core', 'http', 'llm', 'webhook']);
  t.true([...byName.values()].every((p) => p.trust === 'CORE'));
  t.deepEqual(byName.get('http').actions, [{ name: 'request', uses: 'http/request@1' }]);
  t.deepEqual(byName.get('core').actions, [{ name: 'code', uses: 'core/code@1' }]);
});

test.serial('a signed package from a trusted publisher installs; the same package again is a no-op', async (t) => {
  const bundle = signed(files('1.0.0'));
  const first = await install(app, bundle);
  t.falsy(first.errors);
  t.like(first.data.installPlugin, { name: 'weather', version: '1.0.0', publisher: 'Acme Integrations', trust: 'SIGNED' });
  t.regex(first.data.installPlugin.publisherFingerprint, /^[0-9a-f]{64}$/);
  const again = await install(app, bundle);
  t.is(again.data.installPlugin.id, first.data.installPlugin.id);
  const other = await install(app, signed(files('1.0.0', {}, "defineAction('forecast', async () => ({}));")));
  t.is(other.errors?.[0]?.extensions.code, 'CONFLICT');
  const { rows } = await db.query("select count(*)::int as n from audit_events where action = 'plugin.installed' and target_id = $1", [
    first.data.installPlugin.id,
  ]);
  t.is(rows[0].n, 1);
});

test.serial('refused packages say why, are audited and install nothing', async (t) => {
  const modified = signFiles(files('2.0.0'), publisher.privateKeyPem, publisher.certificatePem);
  modified.set('plugin.js', Buffer.from("defineAction('forecast', async () => 'evil');"));
  const cases: [string, string, string, RegExp][] = [
    ['unsigned', packFiles(files('2.0.0')).toString('base64'), 'UNSIGNED', /no SIGNATURE\.json/i],
    ['modified', packFiles(modified).toString('base64'), 'MODIFIED', /plugin\.js/],
    ['untrusted publisher', signed(files('2.0.0'), stranger), 'UNTRUSTED_PUBLISHER', /trust/],
    ['incompatible', signed(files('2.0.0', { minApplianceVersion: '99.0.0' })), 'INCOMPATIBLE', /99\.0\.0/],
  ];
  for (const [what, bundle, code, reason] of cases) {
    const res = await install(app, bundle);
    t.is(res.errors?.[0]?.extensions.code, 'BAD_USER_INPUT', what);
    t.regex(res.errors![0]!.message, new RegExp(`^plugin package refused \\(${code}\\): .*${reason.source}`), what);
    t.is(res.errors![0]!.extensions['inputPath'], 'input.bundle', what);
    t.is(res.errors![0]!.extensions['refusal'], code, what);
  }
  const notBase64 = await install(app, '%%%');
  t.regex(notBase64.errors![0]!.message, /input\.bundle: must be the base64 of a plugin package/);
  const { rows } = await db.query("select count(*)::int as n from plugin_versions where version = '2.0.0'");
  t.is(rows[0].n, 0);
  const denied = await db.query(
    "select reason from audit_events where action = 'plugin.install_refused' and outcome = 'DENIED' order by seq",
  );
  t.deepEqual(
    denied.rows.map((r) => r.reason.split(':')[0]),
    ['UNSIGNED', 'MODIFIED', 'UNTRUSTED_PUBLISHER', 'INCOMPATIBLE'],
  );
});

test.serial('verifyPluginPackage reports what installing would find, before anything is installed or recorded', async (t) => {
  const CHECK =
    'ok refusal reason name version publisher trust publisherFingerprint minApplianceVersion packageSha256 actions { name uses } permissions { hosts credentialTypes rawSecretAccess } resources { memoryMb } installed { id }';
  // Its own plugin name, so the versions it installs do not change what later tests publish.
  const TIDES = { name: 'tides' };
  const verify = (bundle: string, token = ADMIN_TOKEN) =>
    app.gql(token, `query($b: String!) { verifyPluginPackage(bundle: $b) { ${CHECK} } }`, { b: bundle });
  const countRows = async () =>
    (await db.query('select (select count(*) from plugin_versions)::int as plugins, (select count(*) from audit_events)::int as events'))
      .rows[0];
  const before = await countRows();

  const good = await verify(signed(files('4.0.0', TIDES)));
  t.falsy(good.errors);
  t.like(good.data.verifyPluginPackage, {
    ok: true,
    refusal: null,
    name: 'tides',
    version: '4.0.0',
    publisher: 'Acme Integrations',
    trust: 'SIGNED',
    minApplianceVersion: '0.1.0',
    installed: null,
    permissions: { hosts: ['api.weather.example'], credentialTypes: [], rawSecretAccess: false },
    resources: { memoryMb: 32 },
  });
  t.deepEqual(good.data.verifyPluginPackage.actions, [{ name: 'forecast', uses: 'tides/forecast@4' }]);
  t.regex(good.data.verifyPluginPackage.publisherFingerprint, /^[0-9a-f]{64}$/);

  const untrusted = await verify(signed(files('4.0.0', TIDES), stranger));
  t.like(untrusted.data.verifyPluginPackage, { ok: false, refusal: 'UNTRUSTED_PUBLISHER', name: null, publisher: null });
  t.regex(untrusted.data.verifyPluginPackage.reason, /trust/);

  const reserved = await verify(signed(files('1.0.0', { name: 'core' })));
  t.like(reserved.data.verifyPluginPackage, { ok: false, refusal: 'RESERVED_NAME', name: 'core' });

  t.regex((await verify('%%%')).errors?.[0]?.message ?? '', /bundle: must be the base64 of a plugin package/);
  t.deepEqual(await countRows(), before, 'verifying installed nothing and recorded nothing');
  t.is(
    (await verify(signed(files('4.0.0', TIDES)), tenantAdmin)).errors?.[0]?.extensions.code,
    'FORBIDDEN',
    'only system administrators verify packages',
  );

  const bundle = signed(files('4.1.0', TIDES));
  const installed = await install(app, bundle);
  const same = await verify(bundle);
  t.like(
    same.data.verifyPluginPackage,
    { ok: true, version: '4.1.0', installed: { id: installed.data.installPlugin.id } },
    'the identical package is fine and says it is installed',
  );
  const conflicting = await verify(signed(files('4.1.0', TIDES, "defineAction('forecast', async () => ({ other: true }));")));
  t.like(conflicting.data.verifyPluginPackage, {
    ok: false,
    refusal: 'VERSION_CONFLICT',
    installed: { id: installed.data.installPlugin.id },
  });
});

test.serial('only a system administrator installs or removes plugins; the name "core" is reserved', async (t) => {
  const res = await install(app, signed(files('3.0.0')), tenantAdmin);
  t.is(res.errors?.[0]?.extensions.code, 'FORBIDDEN');
  const core = await install(app, signed(files('1.0.0', { name: 'core' })));
  t.regex(core.errors?.[0]?.message ?? '', /reserved/);
  const removeCore = await app.gql(ADMIN_TOKEN, 'mutation { removePlugin(input: { name: "http", version: "1.0.1" }) { id } }');
  t.is(removeCore.errors?.[0]?.extensions.code, 'CONFLICT');
});

test.serial(
  'publishing pins each action to the newest installed version of its major; removal of a used version needs force',
  async (t) => {
    const created = await app.gql(editor, 'mutation($d: JSON!) { createWorkflow(input: { name: "forecast", definition: $d }) { id } }', {
      d: { steps: [{ id: 'f', uses: 'weather/forecast@1', with: { city: 'Oslo' } }] },
    });
    t.falsy(created.errors);
    const workflowId = created.data.createWorkflow.id;
    const v110 = await install(app, signed(files('1.1.0')));
    t.falsy(v110.errors);
    const published = await app.gql(
      editor,
      'mutation($w: ID!, $d: JSON!) { publishWorkflowVersion(input: { workflowId: $w, definition: $d }) { version } }',
      {
        w: workflowId,
        d: { steps: [{ id: 'f', uses: 'weather/forecast@1', with: { city: 'Bergen' } }] },
      },
    );
    t.is(published.data.publishWorkflowVersion.version, 2);
    const { rows } = await db.query(
      `select v.version, p.version as plugin_version from workflow_versions v
       cross join lateral jsonb_each_text(v.resolved_actions) e join plugin_versions p on p.id = e.value::uuid
      where v.workflow_id = $1 order by v.version`,
      [workflowId],
    );
    t.deepEqual(
      rows.map((r) => [r.version, r.plugin_version]),
      [
        [1, '1.0.0'],
        [2, '1.1.0'],
      ],
      'version 1 keeps 1.0.0 although 1.1.0 is installed',
    );

    const unknownMajor = await app.gql(
      editor,
      'mutation($w: ID!, $d: JSON!) { publishWorkflowVersion(input: { workflowId: $w, definition: $d }) { version } }',
      {
        w: workflowId,
        d: { steps: [{ id: 'f', uses: 'weather/forecast@2' }] },
      },
    );
    t.regex(unknownMajor.errors?.[0]?.message ?? '', /steps\[0\]\.uses.*no installed version of weather has major version 2/);

    const refused = await app.gql(ADMIN_TOKEN, 'mutation { removePlugin(input: { name: "weather", version: "1.0.0" }) { id } }');
    t.is(refused.errors?.[0]?.extensions.code, 'CONFLICT');
    t.regex(refused.errors![0]!.message, /used by 1 published workflow version/);
    const forced = await app.gql(
      ADMIN_TOKEN,
      'mutation { removePlugin(input: { name: "weather", version: "1.0.0", force: true }) { version } }',
    );
    t.is(forced.data?.removePlugin.version, '1.0.0');
    const left = await db.query("select version from plugin_versions where name = 'weather' order by version");
    t.deepEqual(
      left.rows.map((r) => r.version),
      ['1.1.0'],
    );
  },
);

test.serial(
  'allowUnsignedPlugins installs an unsigned package as UNSIGNED and audits the override; a modified signed one is still refused',
  async (t) => {
    const res = await install(unsignedApp, packFiles(files('1.0.0')).toString('base64'));
    t.falsy(res.errors);
    t.is(res.data.installPlugin.trust, 'UNSIGNED');
    const audit = new pg.Pool({ connectionString: unsignedApp.databaseUrl, max: 1 });
    try {
      const { rows } = await audit.query('select action from audit_events where target_id = $1 order by seq', [res.data.installPlugin.id]);
      t.deepEqual(
        rows.map((r) => r.action),
        ['plugin.unsigned_override_used', 'plugin.installed'],
      );
    } finally {
      await audit.end();
    }
    const modified = signFiles(files('1.2.0'), publisher.privateKeyPem, publisher.certificatePem);
    modified.set('extra.txt', Buffer.from('smuggled'));
    const refused = await install(unsignedApp, packFiles(modified).toString('base64'));
    t.regex(refused.errors?.[0]?.message ?? '', /EXTRA_FILE.*extra\.txt/);
  },
);
