/**
 * The HTTP surface of an in-process appliance: health and readiness, authentication,
 * malformed and oversized requests, error hygiene, tenant isolation, log redaction,
 * pagination and runEvents subscriptions over Server-Sent Events.
 */
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ADMIN_TOKEN, RUN_FIELDS, startTestAppliance, waitFor, type TestAppliance } from './support/appliance.js';
import { newId } from '../core/ids.js';

const MAX_BODY = 64 * 1024;

const SSE_BUG =
  'BUG (server/http.ts handleGraphQL): every text/event-stream response fails with 500 — Readable.fromWeb(response.body) throws ' +
  "ERR_INVALID_ARG_TYPE because yoga's response body is a @whatwg-node PonyfillReadableStream, not Node's ReadableStream";

let app: TestAppliance;
let sql: pg.Client;

test.before(async () => {
  app = await startTestAppliance({ config: { maxBodyBytes: MAX_BODY } });
  sql = new pg.Client({ connectionString: app.databaseUrl });
  await sql.connect();
});

test.after.always(async () => {
  await sql?.end().catch(() => undefined);
  await app?.stop();
});

interface Reply {
  status: number;
  text: string;
  body: { data?: any; errors?: { message: string; extensions?: { code?: string; [k: string]: unknown }; [k: string]: unknown }[] } & Record<
    string,
    unknown
  >;
}

/** POST /graphql with whatever body and headers the test wants. */
async function post(base: string, body: string, headers: Record<string, string> = {}): Promise<Reply> {
  const response = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await response.text();
  let parsed: Reply['body'];
  try {
    parsed = JSON.parse(text) as Reply['body'];
  } catch {
    parsed = {};
  }
  return { status: response.status, text, body: parsed };
}

function gql(
  base: string,
  token: string | null,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return post(base, JSON.stringify({ query, variables }), { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...headers });
}

const STACK_FRAME = /\bat (?:\S+ \()?(?:file:|node:|\/)[^\s)]*:\d+:\d+/;
const SQL_TEXT = /\bselect\s|\binsert\s+into\b|\bupdate\s+\w+\s+set\b|\bfrom\s+(?:runs|tenants|api_tokens|workflows)\b/i;

/** Every error reply: no stack frames, no SQL, none of the given secrets, and every error has a contract code. */
function assertClean(t: ExecutionContext, reply: Reply, secrets: string[], what: string): void {
  t.notRegex(reply.text, STACK_FRAME, `${what}: no stack frame`);
  t.notRegex(reply.text, SQL_TEXT, `${what}: no SQL`);
  t.false(reply.text.includes('"stack"'), `${what}: no stack property`);
  t.false(reply.text.includes('originalError'), `${what}: no originalError`);
  for (const secret of secrets) t.false(reply.text.includes(secret), `${what}: does not echo a token`);
  for (const error of reply.body.errors ?? []) {
    t.regex(
      String(error.extensions?.code),
      /^(UNAUTHENTICATED|FORBIDDEN|NOT_FOUND|BAD_USER_INPUT|QUOTA_EXCEEDED|RATE_LIMITED|OVERLOADED|CONFLICT|INTERNAL)$/,
      `${what}: contract code`,
    );
  }
}

/** One error with this code (and a message matching `message`), no data for it. */
function assertError(t: ExecutionContext, reply: Reply, code: string, message: RegExp, secrets: string[], what: string): void {
  t.is(reply.body.errors?.length, 1, `${what}: one error (${reply.text.slice(0, 300)})`);
  const error = reply.body.errors?.[0];
  t.is(error?.extensions?.code, code, `${what}: code ${code} (${reply.text.slice(0, 300)})`);
  t.regex(error?.message ?? '', message, `${what}: message`);
  assertClean(t, reply, secrets, what);
}

const APPROVAL_DEFINITION = {
  steps: [
    { id: 'gate', uses: 'core/approval@1', with: { message: 'go?' } },
    { id: 'after', uses: 'core/noop@1', needs: ['gate'], with: { approved: '{{ steps.gate.output.approved }}' } },
  ],
};
const NOOP_DEFINITION = { steps: [{ id: 'only', uses: 'core/noop@1', with: { x: 1 } }] };

async function createWorkflow(target: TestAppliance, token: string, name: string, definition: unknown): Promise<string> {
  const r = await target.gql<{ createWorkflow: { id: string } }>(
    token,
    'mutation($i: CreateWorkflowInput!) { createWorkflow(input: $i) { id } }',
    { i: { name, definition } },
  );
  if (!r.data) throw new Error(JSON.stringify(r.errors));
  return r.data.createWorkflow.id;
}

async function startRun(target: TestAppliance, token: string, workflowId: string, input: unknown = {}): Promise<string> {
  const r = await target.gql<{ startRun: { id: string } }>(token, 'mutation($i: StartRunInput!) { startRun(input: $i) { id } }', {
    i: { workflowId, input },
  });
  if (!r.data) throw new Error(JSON.stringify(r.errors));
  return r.data.startRun.id;
}

async function runOf(target: TestAppliance, token: string, id: string): Promise<any> {
  const r = await target.gql(token, `query($id: ID!) { run(id: $id) { ${RUN_FIELDS} } }`, { id });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data.run;
}

async function waitForGate(target: TestAppliance, token: string, runId: string): Promise<void> {
  await waitFor(async () => {
    const run = await runOf(target, token, runId);
    return run.status === 'WAITING' && run.steps.find((s: { stepId: string }) => s.stepId === 'gate')?.status === 'WAITING';
  }, 'the run to wait for approval');
}

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

test('GET /health is 200; GET /ready is 200 with its checks', async (t) => {
  const health = await fetch(`${app.url}/health`);
  t.is(health.status, 200);
  t.deepEqual(await health.json(), { status: 'ok' });
  const ready = await fetch(`${app.url}/ready`);
  t.is(ready.status, 200);
  t.deepEqual(await ready.json(), { status: 'ready', checks: { database: true, migrations: true, jobRunner: true } });
});

test('authentication failures are UNAUTHENTICATED with HTTP 401', async (t) => {
  const tenant = await app.tenant(unique('auth'));
  const query = '{ viewer { role } }';
  const make = async (expiresInSeconds?: number) => {
    const r = await app.gql<{ createApiToken: { token: string; apiToken: { id: string } } }>(
      ADMIN_TOKEN,
      'mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token apiToken { id } } }',
      { i: { tenantId: tenant.id, role: 'VIEWER', name: unique('viewer'), ...(expiresInSeconds ? { expiresInSeconds } : {}) } },
    );
    if (!r.data) throw new Error(JSON.stringify(r.errors));
    const works = await gql(app.url, r.data.createApiToken.token, query);
    t.deepEqual(works.body, { data: { viewer: { role: 'VIEWER' } } }, 'the token works before it is revoked or expires');
    return { token: r.data.createApiToken.token, id: r.data.createApiToken.apiToken.id };
  };

  const revoked = await make();
  const revocation = await app.gql(ADMIN_TOKEN, 'mutation($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }', { id: revoked.id });
  t.is(revocation.data?.revokeApiToken.id, revoked.id);
  t.truthy(revocation.data?.revokeApiToken.revokedAt);

  const expired = await make(60);
  // The API's shortest lifetime is 60 s: move the expiry into the past directly.
  const { rowCount } = await sql.query(`update api_tokens set expires_at = now() - interval '1 second' where id = $1`, [expired.id]);
  t.is(rowCount, 1);

  const unknownToken = `sy_AAAAAAAA_${'A'.repeat(32)}`;
  const cases: [string, Record<string, string>, RegExp][] = [
    ['no Authorization header', {}, /^an Authorization: Bearer <token> header is required$/],
    [
      'a non-Bearer scheme',
      { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` },
      /^an Authorization: Bearer <token> header is required$/,
    ],
    ['a malformed token', { authorization: 'Bearer not-a-token' }, /^the token is not a Switchyard token$/],
    ['an overlong token', { authorization: `Bearer ${'x'.repeat(600)}` }, /^the token is not a Switchyard token$/],
    ['an unknown token', { authorization: `Bearer ${unknownToken}` }, /^the token is unknown$/],
    ['a revoked token', { authorization: `Bearer ${revoked.token}` }, /^the token is revoked$/],
    ['an expired token', { authorization: `Bearer ${expired.token}` }, /^the token is expired$/],
  ];
  for (const [what, headers, message] of cases) {
    const reply = await post(app.url, JSON.stringify({ query }), headers);
    t.is(reply.status, 401, `${what}: HTTP 401`);
    t.falsy(reply.body.data, `${what}: no data`);
    assertError(
      t,
      reply,
      'UNAUTHENTICATED',
      message,
      [ADMIN_TOKEN, tenant.tokens['ADMIN']!, revoked.token, expired.token, unknownToken],
      what,
    );
  }
  // A mutation is refused the same way, and does nothing.
  const refused = await gql(app.url, revoked.token, 'mutation { createTenant(input: { name: "never" }) { id } }');
  t.is(refused.status, 401);
  assertError(t, refused, 'UNAUTHENTICATED', /revoked/, [revoked.token], 'mutation with a revoked token');
  const { rowCount: created } = await sql.query(`select 1 from tenants where name = 'never'`);
  t.is(created, 0);
});

test('malformed, invalid and oversized requests are BAD_USER_INPUT and the server keeps serving', async (t) => {
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const secrets = [ADMIN_TOKEN];

  // With the GraphQL-over-HTTP media type the status is 400 ...
  const badJsonStrict = await post(app.url, '{"query": "{ viewer { role } }"', { ...auth, accept: 'application/graphql-response+json' });
  t.is(badJsonStrict.status, 400);
  assertError(t, badJsonStrict, 'BAD_USER_INPUT', /JSON/i, secrets, 'malformed JSON (accept: application/graphql-response+json)');
  // ... and so it must be for an ordinary client (fetch and curl send accept: */*).
  const badJson = await post(app.url, '{"query": "{ viewer { role } }"', auth);
  assertError(t, badJson, 'BAD_USER_INPUT', /JSON/i, secrets, 'malformed JSON');
  t.false(/originalError|stack/i.test(badJson.text), 'no originalError or stack in the response');
  t.is(
    badJson.status,
    400,
    'BUG (server/graphql.ts): a body that is not JSON answers HTTP 200 unless the client accepts application/graphql-response+json: ' +
      'yoga marks the error http.spec, and for application/json responses getResponseInitByRespectingErrors skips spec statuses',
  );

  const notGraphQL = await post(app.url, JSON.stringify({ query: '{ viewer { role ' }), auth);
  assertError(t, notGraphQL, 'BAD_USER_INPUT', /Syntax Error/, secrets, 'unparsable document');

  const unknownField = await post(app.url, JSON.stringify({ query: '{ viewer { role nope } }' }), auth);
  assertError(t, unknownField, 'BAD_USER_INPUT', /Cannot query field "nope" on type "Viewer"/, secrets, 'unknown field');
  t.falsy(unknownField.body.data);

  const noQuery = await post(app.url, JSON.stringify({ variables: {} }), auth);
  assertError(t, noQuery, 'BAD_USER_INPUT', /query/i, secrets, 'no query');

  // Exactly at the limit: accepted and executed. One byte more: 413 naming the limit.
  const frame = JSON.stringify({ query: '{ viewer { role } }', variables: { pad: '' } });
  const atLimit = JSON.stringify({ query: '{ viewer { role } }', variables: { pad: 'x'.repeat(MAX_BODY - frame.length) } });
  t.is(Buffer.byteLength(atLimit), MAX_BODY);
  const accepted = await post(app.url, atLimit, auth);
  t.is(accepted.status, 200, accepted.text.slice(0, 300));
  t.deepEqual(accepted.body, { data: { viewer: { role: 'SYSTEM_ADMIN' } } });

  const overLimit = JSON.stringify({ query: '{ viewer { role } }', variables: { pad: 'x'.repeat(MAX_BODY - frame.length + 1) } });
  t.is(Buffer.byteLength(overLimit), MAX_BODY + 1);
  const tooLarge = await post(app.url, overLimit, auth);
  t.is(tooLarge.status, 413);
  assertError(t, tooLarge, 'BAD_USER_INPUT', new RegExp(`\\b${MAX_BODY}\\b`), secrets, 'body over the limit');
  t.is(tooLarge.body.errors?.[0]?.message, `request body is larger than the limit of ${MAX_BODY} bytes`);

  const wrongType = await post(app.url, '<query/>', { ...auth, 'content-type': 'application/xml' });
  t.is(wrongType.status, 415);
  assertError(t, wrongType, 'BAD_USER_INPUT', /./, secrets, 'unsupported media type');

  const health = await fetch(`${app.url}/health`);
  t.is(health.status, 200);
  const still = await gql(app.url, ADMIN_TOKEN, '{ viewer { role } }');
  t.deepEqual(still.body, { data: { viewer: { role: 'SYSTEM_ADMIN' } } });
});

test('arguments of the wrong type are BAD_USER_INPUT', async (t) => {
  const tenant = await app.tenant(unique('types'));
  const token = tenant.tokens['ADMIN']!;
  const secrets = [ADMIN_TOKEN, token];
  const workflowId = await createWorkflow(app, token, 'typed', NOOP_DEFINITION);

  const viaVariables = await gql(app.url, token, 'mutation($i: StartRunInput!) { startRun(input: $i) { id } }', {
    i: { workflowId, version: 'x' },
  });
  assertError(t, viaVariables, 'BAD_USER_INPUT', /Int cannot represent non-integer value: "x"/, secrets, 'version "x" in variables');
  const inline = await gql(app.url, token, `mutation { startRun(input: { workflowId: "${workflowId}", version: "x" }) { id } }`);
  assertError(t, inline, 'BAD_USER_INPUT', /Int cannot represent non-integer value: "x"/, secrets, 'version "x" inline');
  const negative = await gql(app.url, token, 'mutation($i: StartRunInput!) { startRun(input: $i) { id } }', {
    i: { workflowId, version: 0 },
  });
  assertError(t, negative, 'BAD_USER_INPUT', /input\.version/, secrets, 'version 0');
  const missing = await gql(app.url, token, 'mutation($i: StartRunInput!) { startRun(input: $i) { id } }', { i: { version: 1 } });
  assertError(t, missing, 'BAD_USER_INPUT', /workflowId/, secrets, 'workflowId missing');
  const badFirst = await gql(app.url, token, '{ workflows(first: "ten") { nodes { id } } }');
  assertError(t, badFirst, 'BAD_USER_INPUT', /Int cannot represent/, secrets, 'first: "ten"');
  const badDate = await gql(app.url, token, '{ runs(filter: { createdAfter: "yesterday" }) { nodes { id } } }');
  assertError(t, badDate, 'BAD_USER_INPUT', /DateTime/, secrets, 'createdAfter: "yesterday"');

  const { rows } = await sql.query('select count(*)::int as n from runs where workflow_id = $1', [workflowId]);
  t.is(rows[0].n, 0, 'no run was started by any of these');
});

test('unknown and malformed ids: NOT_FOUND for lookups (the field null) and for operations', async (t) => {
  const tenant = await app.tenant(unique('ids'));
  const token = tenant.tokens['ADMIN']!;
  const secrets = [ADMIN_TOKEN, token];
  for (const id of [newId(), 'not-an-id', '00000000-0000-0000-0000-000000000000']) {
    const run = await gql(app.url, token, 'query($id: ID!) { run(id: $id) { id } }', { id });
    assertError(t, run, 'NOT_FOUND', /not found/, secrets, `run(${id})`);
    t.deepEqual(run.body.data, { run: null });
    const workflow = await gql(app.url, token, 'query($id: ID!) { workflow(id: $id) { id } }', { id });
    assertError(t, workflow, 'NOT_FOUND', /not found/, secrets, `workflow(${id})`);
    t.deepEqual(workflow.body.data, { workflow: null });
    for (const op of ['cancelRun', 'retryRun']) {
      const reply = await gql(app.url, token, `mutation($id: ID!) { ${op}(id: $id) { id } }`, { id });
      assertError(t, reply, 'NOT_FOUND', /not found/, secrets, `${op}(${id})`);
      t.is(reply.body.data, null);
    }
    const approve = await gql(app.url, token, 'mutation($i: ApproveStepInput!) { approveStep(input: $i) { id } }', {
      i: { runId: id, stepId: 'gate', approved: true },
    });
    assertError(t, approve, 'NOT_FOUND', /not found/, secrets, `approveStep(${id})`);
    const start = await gql(app.url, token, 'mutation($i: StartRunInput!) { startRun(input: $i) { id } }', { i: { workflowId: id } });
    assertError(t, start, 'NOT_FOUND', /not found/, secrets, `startRun(${id})`);
    const publish = await gql(app.url, token, 'mutation($i: PublishWorkflowVersionInput!) { publishWorkflowVersion(input: $i) { id } }', {
      i: { workflowId: id, definition: NOOP_DEFINITION },
    });
    assertError(t, publish, 'NOT_FOUND', /not found/, secrets, `publishWorkflowVersion(${id})`);
  }
});

test("another tenant's run and workflow are NOT_FOUND (never FORBIDDEN) and stay untouched", async (t) => {
  const owner = await app.tenant(unique('owner'));
  const other = await app.tenant(unique('other'));
  const ownerToken = owner.tokens['ADMIN']!;
  const otherToken = other.tokens['ADMIN']!;
  const secrets = [ADMIN_TOKEN, ownerToken, otherToken];
  const workflowId = await createWorkflow(app, ownerToken, 'private', APPROVAL_DEFINITION);
  const runId = await startRun(app, ownerToken, workflowId, { secret: 'owner data' });
  await waitForGate(app, ownerToken, runId);

  const run = await gql(app.url, otherToken, 'query($id: ID!) { run(id: $id) { id input } }', { id: runId });
  assertError(t, run, 'NOT_FOUND', new RegExp(`run "${runId}" not found`), secrets, 'run: NOT_FOUND, exactly as for an unknown id');
  t.deepEqual(run.body.data, { run: null });
  const workflow = await gql(app.url, otherToken, 'query($id: ID!) { workflow(id: $id) { id name } }', { id: workflowId });
  assertError(
    t,
    workflow,
    'NOT_FOUND',
    new RegExp(`workflow "${workflowId}" not found`),
    secrets,
    'workflow: NOT_FOUND, exactly as for an unknown id',
  );
  t.deepEqual(workflow.body.data, { workflow: null });
  const listed = await gql(app.url, otherToken, '{ workflows { nodes { id } } runs { nodes { id } } }');
  t.deepEqual(listed.body, { data: { workflows: { nodes: [] }, runs: { nodes: [] } } });

  const operations: [string, string, Record<string, unknown>][] = [
    ['cancelRun', 'mutation($id: ID!) { cancelRun(id: $id) { id } }', { id: runId }],
    ['retryRun', 'mutation($id: ID!) { retryRun(id: $id) { id } }', { id: runId }],
    ['approveStep', 'mutation($i: ApproveStepInput!) { approveStep(input: $i) { id } }', { i: { runId, stepId: 'gate', approved: true } }],
    [
      'publishWorkflowVersion',
      'mutation($i: PublishWorkflowVersionInput!) { publishWorkflowVersion(input: $i) { id } }',
      { i: { workflowId, definition: NOOP_DEFINITION } },
    ],
    ['startRun', 'mutation($i: StartRunInput!) { startRun(input: $i) { id } }', { i: { workflowId } }],
  ];
  for (const [op, query, variables] of operations) {
    const reply = await gql(app.url, otherToken, query, variables);
    assertError(t, reply, 'NOT_FOUND', /not found/, secrets, `${op} on another tenant's object`);
    t.false(reply.text.includes('FORBIDDEN'));
    t.false(reply.text.includes('owner data'));
  }
  const events = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${otherToken}` },
    body: JSON.stringify({ query: 'subscription($r: ID!) { runEvents(runId: $r) { seq type } }', variables: { r: runId } }),
  });
  const eventsText = await events.text();
  t.regex(eventsText, /"code":"NOT_FOUND"/, `runEvents on another tenant's run: ${eventsText.slice(0, 200)} — ${SSE_BUG}`);
  t.false(eventsText.includes('FORBIDDEN'));
  t.false(eventsText.includes('"type":"'), 'no event is delivered');

  const after = await runOf(app, ownerToken, runId);
  t.is(after.status, 'WAITING', 'the run was neither cancelled nor approved');
  t.deepEqual(
    after.steps.map((s: { stepId: string; status: string }) => [s.stepId, s.status]),
    [
      ['gate', 'WAITING'],
      ['after', 'PENDING'],
    ],
  );
  const versions = await app.gql(ownerToken, 'query($id: ID!) { workflow(id: $id) { latestVersion { version } } runs { nodes { id } } }', {
    id: workflowId,
  });
  t.deepEqual(
    versions.data,
    { workflow: { latestVersion: { version: 1 } }, runs: { nodes: [{ id: runId }] } },
    'no version was published and no run started',
  );
});

test('tokens and run input never reach the logs', async (t) => {
  const red = await startTestAppliance();
  t.teardown(() => red.stop());
  const planted = `planted-${randomBytes(12).toString('hex')}`;
  const tenant = await red.tenant(unique('redaction'));
  const token = tenant.tokens['ADMIN']!;
  const secrets = [ADMIN_TOKEN, token, planted];
  const altered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;

  // Valid requests with each token, also with the token as the request id.
  t.is(
    (await gql(red.url, ADMIN_TOKEN, '{ viewer { role } }', undefined, { 'x-request-id': ADMIN_TOKEN })).body.data?.viewer.role,
    'SYSTEM_ADMIN',
  );
  t.is((await gql(red.url, token, '{ viewer { role } }', undefined, { 'x-request-id': token })).body.data?.viewer.role, 'ADMIN');
  // Invalid tokens close to the real ones.
  for (const bad of [altered, `${ADMIN_TOKEN}x`, ADMIN_TOKEN.slice(0, -1), `${token} ${ADMIN_TOKEN}`]) {
    const reply = await post(red.url, JSON.stringify({ query: '{ viewer { role } }' }), { authorization: `Bearer ${bad}` });
    t.is(reply.status, 401);
    assertClean(t, reply, [ADMIN_TOKEN, token], 'invalid token');
  }
  // Failing requests made with valid tokens.
  const failing: Reply[] = [
    await gql(red.url, token, 'mutation($i: CreateWorkflowInput!) { createWorkflow(input: $i) { id } }', {
      i: { name: 'broken', definition: { steps: [{ id: 'x', uses: 'nope/nope@1' }] } },
    }),
    await gql(red.url, ADMIN_TOKEN, '{ workflows { nodes { id } } }'),
    await gql(red.url, token, '{ tenants { nodes { id } } }'),
    await post(red.url, `{"query": "{ viewer { role } }", "variables": {"password": "${planted}"`, { authorization: `Bearer ${token}` }),
    await gql(red.url, token, 'mutation($i: StartRunInput!) { startRun(input: $i) { id } }', {
      i: { workflowId: newId(), input: { password: planted } },
    }),
    await gql(red.url, token, 'mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token } }', {
      i: { role: 'NOPE', name: ADMIN_TOKEN },
    }),
  ];
  for (const reply of failing) {
    t.truthy(reply.body.errors?.length, `fails: ${reply.text.slice(0, 200)}`);
    assertClean(t, reply, [ADMIN_TOKEN, token], 'failing request');
  }

  // A run whose input holds the secret, carried through a step into the output.
  const workflowId = await createWorkflow(red, token, 'carries a secret', {
    steps: [{ id: 'echo', uses: 'core/noop@1', with: { copy: '{{ input.password }}', memo: '{{ input.memo }}' } }],
  });
  const runId = await startRun(red, token, workflowId, { password: planted, memo: planted, nested: { apiKey: planted } });
  const finished = await waitFor(async () => {
    const run = await runOf(red, token, runId);
    return run.status === 'SUCCEEDED' ? run : false;
  }, 'the run to succeed');
  t.deepEqual(finished.input, { password: planted, memo: planted, nested: { apiKey: planted } }, 'the input is stored as given');
  t.deepEqual(finished.steps[0].output, { copy: planted, memo: planted });

  // The checks below are not vacuous: requests and failures were logged (at debug level).
  const text = red.logs.join('');
  t.regex(text, /"msg":"authentication failed"/);
  t.regex(text, /"msg":"request"/);
  t.true(red.logs.length > 10);
  for (const secret of secrets) {
    const leaks = red.logs.filter((line) => line.includes(secret));
    t.deepEqual(leaks, [], `no log line contains ${secret === planted ? 'the planted run input' : 'a token'}`);
  }
  t.false(/sy_[A-Za-z0-9]{8}_[A-Za-z0-9]{32}/.test(text), 'no token-shaped string at all');
});

test('workflows pagination: pages of 10, newest first, and refused page arguments', async (t) => {
  const tenant = await app.tenant(unique('pages'));
  const token = tenant.tokens['ADMIN']!;
  const secrets = [ADMIN_TOKEN, token];
  const created: string[] = [];
  for (let i = 0; i < 25; i++) created.push(await createWorkflow(app, token, `wf-${String(i).padStart(2, '0')}`, NOOP_DEFINITION));

  const seen: string[] = [];
  const pages: { size: number; hasNextPage: boolean; hasPreviousPage: boolean }[] = [];
  let after: string | null = null;
  for (let page = 0; page < 10; page++) {
    const reply: Reply = await gql(
      app.url,
      token,
      'query($after: String) { workflows(first: 10, after: $after) { edges { cursor node { id name } } nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }',
      { after },
    );
    t.falsy(reply.body.errors, reply.text);
    const connection = reply.body.data.workflows;
    t.deepEqual(
      connection.nodes.map((n: { id: string }) => n.id),
      connection.edges.map((e: { node: { id: string } }) => e.node.id),
    );
    t.is(connection.pageInfo.endCursor, connection.edges.at(-1)?.cursor ?? null);
    t.is(connection.pageInfo.startCursor, connection.edges[0]?.cursor ?? null);
    seen.push(...connection.nodes.map((n: { id: string }) => n.id));
    pages.push({
      size: connection.nodes.length,
      hasNextPage: connection.pageInfo.hasNextPage,
      hasPreviousPage: connection.pageInfo.hasPreviousPage,
    });
    if (!connection.pageInfo.hasNextPage) break;
    after = connection.pageInfo.endCursor;
  }
  t.deepEqual(pages, [
    { size: 10, hasNextPage: true, hasPreviousPage: false },
    { size: 10, hasNextPage: true, hasPreviousPage: true },
    { size: 5, hasNextPage: false, hasPreviousPage: true },
  ]);
  t.is(new Set(seen).size, 25);
  t.deepEqual(seen, [...created].reverse(), 'newest first, each exactly once');

  for (const first of [0, 101, -1]) {
    const reply = await gql(app.url, token, 'query($first: Int) { workflows(first: $first) { nodes { id } } }', { first });
    assertError(t, reply, 'BAD_USER_INPUT', /first/, secrets, `first: ${first}`);
  }
  const hundred = await gql(app.url, token, '{ workflows(first: 100) { nodes { id } pageInfo { hasNextPage } } }');
  t.is(hundred.body.data?.workflows.nodes.length, 25);
  t.false(hundred.body.data?.workflows.pageInfo.hasNextPage);
  for (const garbage of [
    'garbage',
    '!!!',
    Buffer.from('c1:not-a-uuid').toString('base64url'),
    Buffer.from(`x1:${newId()}`).toString('base64url'),
  ]) {
    const reply = await gql(app.url, token, 'query($after: String) { workflows(first: 10, after: $after) { nodes { id } } }', {
      after: garbage,
    });
    assertError(t, reply, 'BAD_USER_INPUT', /after/, secrets, `after: ${garbage}`);
  }
});

interface SseStream {
  status: number;
  contentType: string;
  /** Parsed `event: next` payloads. */
  next: any[];
  /** Every event block, in order (`next`, `complete`, ...). */
  kinds: string[];
  pings: number;
  ended: boolean;
  error: unknown;
  close(): void;
}

/** Opens a GraphQL subscription over SSE and reads it in the background. */
async function openSse(url: string, init: RequestInit): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, { ...init, signal: controller.signal });
  const stream: SseStream = {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    next: [],
    kinds: [],
    pings: 0,
    ended: false,
    error: undefined,
    close: () => controller.abort(),
  };
  const body = response.body;
  if (!body) {
    stream.ended = true;
    return stream;
  }
  void (async () => {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split('\n');
          if (lines.every((line) => line.startsWith(':'))) {
            stream.pings++;
            continue;
          }
          const kind =
            lines
              .find((l) => l.startsWith('event:'))
              ?.slice(6)
              .trim() ?? 'message';
          const data = lines
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trim())
            .join('\n');
          stream.kinds.push(kind);
          if (kind === 'next') stream.next.push(JSON.parse(data));
        }
      }
    } catch (error) {
      stream.error = error;
    } finally {
      stream.ended = true;
    }
  })();
  return stream;
}

const SUBSCRIPTION = 'subscription($r: ID!) { runEvents(runId: $r) { seq type stepId data } }';

/** Approves the gate and checks the stream delivers the rest of the run, then ends. */
async function approveAndExpectCompletion(
  t: ExecutionContext,
  stream: SseStream,
  approver: TestAppliance,
  token: string,
  runId: string,
): Promise<void> {
  t.is(stream.status, 200, SSE_BUG);
  t.regex(stream.contentType, /text\/event-stream/);
  // The subscription is live once the server has flushed its first ping.
  await waitFor(async () => stream.pings > 0 || stream.ended, 'the event stream to open');
  t.false(stream.ended, `the stream stays open before the approval (${String(stream.error)})`);
  const approval = await approver.gql(token, 'mutation($i: ApproveStepInput!) { approveStep(input: $i) { id } }', {
    i: { runId, stepId: 'gate', approved: true, comment: 'fine' },
  });
  t.is(approval.data?.approveStep.id, runId, JSON.stringify(approval.errors));

  await waitFor(async () => stream.ended, 'the stream to end after the run finished', 20_000);
  t.is(stream.error, undefined);
  t.deepEqual(stream.kinds, [...stream.next.map(() => 'next'), 'complete'], 'events, then complete');
  for (const payload of stream.next) t.falsy(payload.errors, JSON.stringify(payload));
  const events = stream.next.map((payload) => payload.data.runEvents as { seq: number; type: string; stepId: string | null; data: any });
  t.deepEqual(
    events.map((e) => [e.type, e.stepId]),
    [
      ['STEP_SUCCEEDED', 'gate'],
      ['STEP_STARTED', 'after'],
      ['STEP_SUCCEEDED', 'after'],
      ['RUN_SUCCEEDED', null],
    ],
  );
  const seqs = events.map((e) => e.seq);
  t.deepEqual(
    seqs,
    seqs.map((_, i) => seqs[0]! + i),
    'consecutive sequence numbers, none missed',
  );
  const gateOutput = events[0]!.data.output;
  t.like(gateOutput, { approved: true, comment: 'fine' });
  t.deepEqual(events[2]!.data.output, { approved: true });
  t.deepEqual(events[3]!.data.output, { after: { approved: true } });
  const run = await runOf(approver, token, runId);
  t.is(run.status, 'SUCCEEDED');
}

test('runEvents over SSE (POST, accept: text/event-stream): the approval, the rest of the run, then the stream ends', async (t) => {
  const tenant = await app.tenant(unique('sse'));
  const token = tenant.tokens['ADMIN']!;
  const workflowId = await createWorkflow(app, token, 'approval', APPROVAL_DEFINITION);
  const runId = await startRun(app, token, workflowId);
  await waitForGate(app, token, runId);

  const stream = await openSse(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: SUBSCRIPTION, variables: { r: runId } }),
  });
  t.teardown(() => stream.close());
  await approveAndExpectCompletion(t, stream, app, token, runId);
});

test('runEvents over SSE (GET) on an api-only process receives events another process produced', async (t) => {
  const apiOnly = await startTestAppliance({ databaseUrl: app.databaseUrl, config: { role: 'api', maxBodyBytes: MAX_BODY } });
  t.teardown(() => apiOnly.stop());
  t.is(apiOnly.appliance.engine, null, 'the api-only process runs no engine');
  const tenant = await app.tenant(unique('cross'));
  const token = tenant.tokens['ADMIN']!;
  const workflowId = await createWorkflow(app, token, 'approval', APPROVAL_DEFINITION);
  const runId = await startRun(app, token, workflowId);
  await waitForGate(app, token, runId);

  const params = new URLSearchParams({ query: SUBSCRIPTION, variables: JSON.stringify({ r: runId }) });
  const stream = await openSse(`${apiOnly.url}/graphql?${params}`, {
    method: 'GET',
    headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
  });
  t.teardown(() => stream.close());
  // Approved through, and executed by, the other process: only NOTIFY reaches the api-only one.
  await approveAndExpectCompletion(t, stream, app, token, runId);
});

// Serial: it counts the appliance's open streams, which the other SSE tests' streams would change.
test.serial('subscribers that leave at once, before any event, neither bring the server down nor leave a listener behind', async (t) => {
  const tenant = await app.tenant(unique('leavers'));
  const token = tenant.tokens['ADMIN']!;
  const workflowId = await createWorkflow(app, token, 'approval', APPROVAL_DEFINITION);
  const runId = await startRun(app, token, workflowId);
  await waitForGate(app, token, runId);
  const before = app.appliance.services.runEvents.openStreams();
  await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const abort = new AbortController();
      const response = fetch(`${app.url}/graphql`, {
        method: 'POST',
        signal: abort.signal,
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: SUBSCRIPTION, variables: { r: runId } }),
      });
      // Half leave as soon as the headers arrive, half before even that.
      if (i % 2 === 0)
        await response.then(
          () => undefined,
          () => undefined,
        );
      abort.abort();
      await response.catch(() => undefined);
    }),
  );
  await waitFor(async () => app.appliance.services.runEvents.openStreams() === before, 'every listener to be removed', 10_000);
  t.is((await fetch(`${app.url}/health`)).status, 200, 'the server still serves');
  t.is((await runOf(app, token, runId)).status, 'WAITING');
});
