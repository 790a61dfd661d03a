import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import pg from 'pg';
import { ADMIN_TOKEN, startTestAppliance, waitFor, RUN_FIELDS, type TestAppliance } from './support/appliance.js';
import { packFiles } from '../plugins/package/index.js';

const SECRET = 'sk-planted-3f9a2c71e4b8d605';
const PASSWORD = 'pw-planted-77c1d0e9a2';

let app: TestAppliance;
let db: pg.Pool;
let admin: string;
let viewer: string;
let otherAdmin: string;
let server: http.Server;
let hostPort: string;
const seen: { authorization?: string; url: string }[] = [];

test.before(async () => {
  server = http.createServer((req, res) => {
    seen.push({ url: req.url!, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    // Echoes what it received: a hostile or careless server must not hand the secret back to the plugin.
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ echoed: req.headers.authorization ?? null, url: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hostPort = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  app = await startTestAppliance({ config: { sandboxPoolSize: 1 } });
  const tenant = await app.tenant('creds', ['ADMIN', 'VIEWER']);
  admin = tenant.tokens['ADMIN']!;
  viewer = tenant.tokens['VIEWER']!;
  otherAdmin = (await app.tenant('creds-other', ['ADMIN'])).tokens['ADMIN']!;
  db = new pg.Pool({ connectionString: app.databaseUrl, max: 2 });
  const policy = await app.gql(
    ADMIN_TOKEN,
    'mutation($h: [String!]) { setPluginPolicy(input: { name: "http", allowedHosts: $h, allowedPrivate: ["127.0.0.1"] }) { allowedHosts } }',
    { h: ['*', hostPort] },
  );
  if (policy.errors) throw new Error(JSON.stringify(policy.errors));
});

test.after.always(async () => {
  await db?.end();
  await app?.stop();
  await new Promise((resolve) => server?.close(resolve));
});

const SET = 'mutation($i: SetCredentialInput!) { setCredential(input: $i) { id name type config allowedHosts } }';

async function runSteps(steps: unknown[]): Promise<any> {
  const created = await app.gql(admin, 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }', {
    n: `wf-${Math.random()}`,
    d: { steps },
  });
  if (!created.data) throw new Error(JSON.stringify(created.errors));
  const started = await app.gql(admin, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', {
    w: created.data.createWorkflow.id,
  });
  const id = started.data.startRun.id;
  return waitFor(
    async () => {
      const r = (
        await app.gql(admin, `query($id: ID!) { run(id: $id) { ${RUN_FIELDS} events(first: 100) { nodes { type data } } } }`, { id })
      ).data.run;
      return ['SUCCEEDED', 'FAILED'].includes(r.status) ? r : undefined;
    },
    `run ${id}`,
    30_000,
  );
}

test.serial('setCredential stores the secret encrypted; no API returns it', async (t) => {
  const res = await app.gql(admin, SET, { i: { name: 'api', type: 'bearer', secret: { token: SECRET }, allowedHosts: [hostPort] } });
  t.falsy(res.errors);
  t.like(res.data.setCredential, { name: 'api', type: 'bearer', config: {}, allowedHosts: [hostPort] });
  const basic = await app.gql(admin, SET, {
    i: { name: 'basic', type: 'basic', secret: { username: 'svc', password: PASSWORD }, allowedHosts: ['api.example.com'] },
  });
  t.falsy(basic.errors);
  const listed = await app.gql(viewer, '{ credentials { name type allowedHosts } }');
  t.deepEqual(
    listed.data.credentials.map((c: any) => c.name),
    ['api', 'basic'],
  );
  t.false(JSON.stringify(listed).includes(SECRET));
  const asked = await app.gql(viewer, '{ credentials { name secret } }');
  t.is(asked.errors?.[0]?.extensions.code, 'BAD_USER_INPUT', 'the schema has no secret field');

  const { rows } = await db.query("select secret_ciphertext, type from credentials where name = 'api'");
  t.false(rows[0].secret_ciphertext.includes(Buffer.from(SECRET)), 'the stored bytes are not the secret');
  t.false(rows[0].secret_ciphertext.includes(Buffer.from(Buffer.from(SECRET).toString('base64'))));
  const replaced = await app.gql(admin, SET, {
    i: { name: 'api', type: 'bearer', secret: { token: SECRET }, allowedHosts: [hostPort, 'api.example.com'] },
  });
  t.is(replaced.data.setCredential.id, res.data.setCredential.id, 'setting again replaces in place');
  const audit = await db.query("select action, details::text from audit_events where target_type = 'credential' order by seq");
  t.deepEqual(
    audit.rows.map((r) => r.action),
    ['credential.created', 'credential.created', 'credential.updated'],
  );
  t.false(audit.rows.some((r) => r.details.includes(SECRET) || r.details.includes(PASSWORD)));
});

test.serial('bad credential input names the problem, never echoes a secret, and writes nothing', async (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ name: 'x', type: 'magic', secret: { token: SECRET }, allowedHosts: ['a.example'] }, /input\.type: unknown credential type "magic"/],
    [{ name: 'x', type: 'bearer', secret: {}, allowedHosts: ['a.example'] }, /input\.secret\.token: must be a string/],
    [
      { name: 'x', type: 'bearer', secret: { token: 'ok', password: SECRET }, allowedHosts: ['a.example'] },
      /input\.secret\.password: is not a field/,
    ],
    [{ name: 'x', type: 'bearer', secret: { token: SECRET }, allowedHosts: [] }, /input\.allowedHosts: must list 1 to 50 hosts/],
    [{ name: 'x', type: 'bearer', secret: { token: SECRET }, allowedHosts: ['*'] }, /input\.allowedHosts\[0\]/],
    [{ name: 'bad name', type: 'bearer', secret: { token: SECRET }, allowedHosts: ['a.example'] }, /input\.name/],
    [
      { name: 'x', type: 'header', secret: { token: SECRET }, config: { headerName: 'Authorization' }, allowedHosts: ['a.example'] },
      /input\.config: headerName/,
    ],
    [
      { name: 'x', type: 'openai', secret: { token: SECRET }, config: { baseUrl: 'ftp://models' }, allowedHosts: ['a.example'] },
      /input\.config: baseUrl/,
    ],
  ];
  for (const [input, message] of cases) {
    const res = await app.gql(admin, SET, { i: input });
    t.is(res.errors?.[0]?.extensions.code, 'BAD_USER_INPUT', message.source);
    t.regex(res.errors![0]!.message, message);
    t.false(JSON.stringify(res).includes(SECRET), 'the secret is not echoed');
  }
  const { rows } = await db.query("select count(*)::int as n from credentials where name in ('x', 'bad name')");
  t.is(rows[0].n, 0);
  t.is(
    (await app.gql(viewer, SET, { i: { name: 'v', type: 'bearer', secret: { token: 'x' }, allowedHosts: ['a.example'] } })).errors?.[0]
      ?.extensions.code,
    'FORBIDDEN',
  );
  t.is(
    (await app.gql(otherAdmin, 'mutation { deleteCredential(name: "api") { id } }')).errors?.[0]?.extensions.code,
    'NOT_FOUND',
    'another tenant cannot touch it',
  );
  t.deepEqual((await app.gql(otherAdmin, '{ credentials { name } }')).data.credentials, []);
});

test.serial(
  'a step uses the credential through a lease: the server gets the secret, the plugin, outputs, events and logs never do',
  async (t) => {
    const r = await runSteps([{ id: 'call', uses: 'http/request@1', credential: 'api', with: { url: `http://${hostPort}/whoami` } }]);
    t.is(r.status, 'SUCCEEDED', JSON.stringify(r.steps));
    const request = seen.find((s) => s.url === '/whoami');
    t.is(request?.authorization, `Bearer ${SECRET}`, 'the host placed the secret');
    t.is(r.steps[0].output.body.echoed, 'Bearer [redacted]', 'an echoing server cannot hand it back to the plugin');
    t.false(JSON.stringify(r).includes(SECRET), 'not in the run, its steps or its events');
    t.false(
      app.logs.some((line) => line.includes(SECRET)),
      'not in any log line',
    );
    const lease = await db.query(
      'select run_id, step_id, attempt, expires_at > issued_at as expires from credential_leases where run_id = $1',
      [r.id],
    );
    t.deepEqual(lease.rows, [{ run_id: r.id, step_id: 'call', attempt: 1, expires: true }]);
    const audit = await db.query(
      "select action, details from audit_events where action like 'credential.lease_%' and details->>'runId' = $1 order by seq",
      [r.id],
    );
    t.deepEqual(
      audit.rows.map((row) => row.action),
      ['credential.lease_issued', 'credential.lease_used'],
    );
    t.like(audit.rows[0].details, { name: 'api', stepId: 'call', attempt: 1 });
    t.like(audit.rows[1].details, { name: 'api', stepId: 'call', attempt: 1, requests: 1, leaseId: audit.rows[0].details.leaseId });
    const stored = await db.query(
      `select (select string_agg(e::text, ' ') from run_events e where e.run_id = $1) || (select string_agg(s::text, ' ') from step_executions s where s.run_id = $1) as text`,
      [r.id],
    );
    t.true(stored.rows[0].text.includes('redacted'), 'the stored rows were read');
    t.false(stored.rows[0].text.includes(SECRET), 'not in the stored events or step rows');
  },
);

test.serial('a credential is refused for hosts it does not allow, for plugins that may not use it, and when missing', async (t) => {
  const wrongHost = await runSteps([
    { id: 'call', uses: 'http/request@1', credential: 'basic', retry: { maxAttempts: 1 }, with: { url: `http://${hostPort}/x` } },
  ]);
  t.is(wrongHost.steps[0].error.code, 'CREDENTIAL_DENIED');
  t.false(
    seen.some((s) => s.url === '/x'),
    'the request was not sent',
  );
  const codeStep = await runSteps([{ id: 'c', uses: 'core/code@1', credential: 'api', with: { code: 'return 1' } }]);
  t.is(codeStep.steps[0].error.code, 'CREDENTIAL_NOT_ALLOWED');
  t.regex(codeStep.steps[0].error.message, /plugin core may not be handed a bearer credential/);
  const missing = await runSteps([{ id: 'call', uses: 'http/request@1', credential: 'nope', with: { url: `http://${hostPort}/y` } }]);
  t.is(missing.steps[0].error.code, 'CREDENTIAL_NOT_FOUND');
});

test.serial('master key rotation re-wraps the data keys and credentials keep working', async (t) => {
  const before = (await db.query('select distinct master_key_id from tenant_data_keys')).rows.map((r) => r.master_key_id);
  t.is(before.length, 1);
  const rotation = await app.appliance.services.credentials.rotateMasterKey({ prune: true });
  t.not(rotation.masterKeyId, before[0]);
  t.is(rotation.rewrapped, 1, "the tenant's one data key");
  t.deepEqual(rotation.pruned, before, 'the old key left the key file');
  const { rows } = await db.query('select distinct master_key_id from tenant_data_keys');
  t.deepEqual(
    rows.map((r) => r.master_key_id),
    [rotation.masterKeyId],
  );
  const audit = await db.query("select details from audit_events where action = 'keys.master_rotated'");
  t.deepEqual(
    audit.rows.map((r) => r.details),
    [{ rewrappedDataKeys: 1 }],
  );
  const r = await runSteps([{ id: 'call', uses: 'http/request@1', credential: 'api', with: { url: `http://${hostPort}/after-rotation` } }]);
  t.is(r.status, 'SUCCEEDED');
  t.is(seen.find((s) => s.url === '/after-rotation')?.authorization, `Bearer ${SECRET}`);
});

test.serial('deleting a credential makes later steps fail and is audited', async (t) => {
  const deleted = await app.gql(admin, 'mutation { deleteCredential(name: "basic") { name } }');
  t.is(deleted.data.deleteCredential.name, 'basic');
  const again = await app.gql(admin, 'mutation { deleteCredential(name: "basic") { name } }');
  t.is(again.errors?.[0]?.extensions.code, 'NOT_FOUND');
  const { rows } = await db.query("select count(*)::int as n from audit_events where action = 'credential.deleted'");
  t.is(rows[0].n, 1);
});

test.serial("raw secret access needs both the manifest's request and the administrator's approval", async (t) => {
  const dev = await startTestAppliance({ config: { sandboxPoolSize: 1, allowUnsignedPlugins: true } });
  try {
    const manifest = {
      name: 'vault-reader',
      version: '1.0.0',
      publisher: 'Acme',
      minApplianceVersion: '0.1.0',
      entry: 'plugin.js',
      actions: [
        { name: 'peek', description: 'Reports what it can see of its credential', inputSchema: { type: 'object' }, outputSchema: {} },
      ],
      permissions: { hosts: [], credentialTypes: ['bearer'], rawSecretAccess: true },
      resources: {},
    };
    const script =
      "defineAction('peek', async (input, context) => ({ type: context.credential.type, handle: typeof context.credential.handle, secret: context.credential.secret || null }));";
    const bundle = packFiles(
      new Map([
        ['manifest.json', Buffer.from(JSON.stringify(manifest))],
        ['plugin.js', Buffer.from(script)],
      ]),
    ).toString('base64');
    const installed = await dev.gql(ADMIN_TOKEN, 'mutation($b: String!) { installPlugin(input: { bundle: $b }) { trust } }', { b: bundle });
    t.is(installed.data?.installPlugin.trust, 'UNSIGNED', JSON.stringify(installed.errors));
    const as = (await dev.tenant('raw', ['ADMIN'])).tokens['ADMIN']!;
    await dev.gql(as, SET, { i: { name: 'key', type: 'bearer', secret: { token: SECRET }, allowedHosts: ['api.example.com'] } });
    const wf = await dev.gql(as, 'mutation($d: JSON!) { createWorkflow(input: { name: "peek", definition: $d }) { id } }', {
      d: { steps: [{ id: 'p', uses: 'vault-reader/peek@1', credential: 'key' }] },
    });
    const peek = async () => {
      const started = await dev.gql(as, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', {
        w: wf.data.createWorkflow.id,
      });
      return waitFor(async () => {
        const r = (await dev.gql(as, `query($id: ID!) { run(id: $id) { ${RUN_FIELDS} } }`, { id: started.data.startRun.id })).data.run;
        return r.status === 'SUCCEEDED' || r.status === 'FAILED' ? r.steps[0] : undefined;
      }, 'peek run');
    };
    t.deepEqual((await peek()).output, { type: 'bearer', handle: 'string', secret: null }, 'asked for, not yet approved: no secret');
    const approved = await dev.gql(
      ADMIN_TOKEN,
      'mutation { setPluginPolicy(input: { name: "vault-reader", rawSecretAccessApproved: true }) { rawSecretAccessApproved } }',
    );
    t.true(approved.data?.setPluginPolicy.rawSecretAccessApproved);
    const seenAfter = await waitFor(
      async () => {
        const step = await peek();
        return step.output?.secret ? step : undefined;
      },
      'the approval to apply (policy cache)',
      10_000,
    );
    t.deepEqual(seenAfter.output.secret, { token: SECRET });
  } finally {
    await dev.stop();
  }
});
