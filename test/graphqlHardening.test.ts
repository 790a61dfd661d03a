/**
 * GraphQL hardening on a real appliance: document limits (depth, cost, aliases,
 * directives, tokens, batch size, body size) each exactly at the limit and one over,
 * abusive documents far over them, introspection for authenticated tokens only (and for
 * nobody when switched off), persisted-operations mode, and the per-token API rate limit. After every
 * abusive request the server must still answer an ordinary query.
 */
import test, { type ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Lexer, Source, TokenKind } from 'graphql';
import pg from 'pg';
import { ADMIN_TOKEN, startTestAppliance, type TestAppliance } from './support/appliance.js';

// The documented defaults (README configuration table); the first test checks they are in force.
const MAX_DEPTH = 12;
const MAX_COST = 20_000;
const MAX_ALIASES = 30;
const MAX_DIRECTIVES = 50;
const MAX_TOKENS = 5000;
const MAX_BATCH = 10;
const MAX_BODY = 1024 * 1024;

const PERSISTED_QUERY = '{ viewer { role } }';
const PERSISTED_HASH = createHash('sha256').update(PERSISTED_QUERY).digest('hex');

// role 'api': these tests need the HTTP API only, not the engine or the sandbox.
let production: TestAppliance;
let development: TestAppliance;
let persisted: TestAppliance;
let limited: TestAppliance;
let noIntrospection: TestAppliance;
let persistedDir: string;

test.before(async () => {
  persistedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-persisted-'));
  const persistedFile = path.join(persistedDir, 'operations.json');
  fs.writeFileSync(persistedFile, JSON.stringify({ [PERSISTED_HASH]: PERSISTED_QUERY }));
  [production, development, persisted, limited, noIntrospection] = await Promise.all([
    startTestAppliance({ config: { role: 'api' } }),
    startTestAppliance({ config: { role: 'api', environment: 'development' } }),
    startTestAppliance({ config: { role: 'api', persistedOperationsFile: persistedFile } }),
    // One token per 5 s: the burst and the request after it must fall within one refill even on a busy machine.
    startTestAppliance({ config: { role: 'api', apiRateLimitPerSecond: 0.2, apiRateLimitBurst: 5 } }),
    startTestAppliance({ config: { role: 'api', graphqlIntrospection: 'off' } }),
  ]);
});

test.after.always(async () => {
  await Promise.all([production, development, persisted, limited, noIntrospection].map((app) => app?.stop()));
  if (persistedDir) fs.rmSync(persistedDir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

/** POSTs `body`; a null token sends no authorization header at all. */
async function post(app: TestAppliance, token: string | null, body: string): Promise<Reply> {
  const response = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    body,
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = {};
  }
  return { status: response.status, headers: response.headers, text, body: parsed };
}

const query = (app: TestAppliance, token: string, document: string, variables?: Record<string, unknown>) =>
  post(app, token, JSON.stringify({ query: document, variables }));

/** Exactly one error, with this code and a message matching `message`, and nothing leaked. */
function assertRefused(t: ExecutionContext, reply: Reply, code: string, message: RegExp, what: string): void {
  const errors = reply.body.errors as { message: string; extensions?: Record<string, unknown> }[] | undefined;
  t.is(errors?.length, 1, `${what}: one error (${reply.text.slice(0, 300)})`);
  t.is(errors?.[0]?.extensions?.['code'], code, `${what}: code ${code} (${reply.text.slice(0, 300)})`);
  t.regex(errors?.[0]?.message ?? '', message, `${what}: message`);
  t.falsy(reply.body.data, `${what}: no data`);
  t.false(/"stack"|originalError|"http"/.test(reply.text), `${what}: no stack, originalError or internal http extension`);
}

function assertServed(t: ExecutionContext, reply: Reply, what: string): void {
  t.is(reply.status, 200, `${what}: HTTP 200 (${reply.text.slice(0, 300)})`);
  t.is(reply.body.errors, undefined, `${what}: no errors (${reply.text.slice(0, 300)})`);
  t.truthy(reply.body.data, `${what}: data`);
}

/** After an abusive request: the server still answers an ordinary query for the same token. */
async function assertStillServes(t: ExecutionContext, app: TestAppliance, token: string, role: string, after: string): Promise<void> {
  const reply = await query(app, token, '{ viewer { role } }');
  t.deepEqual(reply.body, { data: { viewer: { role } } }, `the server still answers after ${after}`);
}

/** Tokens as graphql-js's lexer counts them (EOF excluded): an independent check of the documents built below. */
function tokenCount(document: string): number {
  const lexer = new Lexer(new Source(document));
  let count = 0;
  while (lexer.advance().kind !== TokenKind.EOF) count++;
  return count;
}

/** `{ workflow(id) { latestVersion { workflow { ... id } } } }`, `depth` fields deep counting the leaf `id`. */
function deepWorkflowQuery(workflowId: string, depth: number): string {
  let selection = 'id';
  for (let level = depth - 1; level >= 2; level--) selection = `${level % 2 === 0 ? 'latestVersion' : 'workflow'} { ${selection} }`;
  return `{ workflow(id: "${workflowId}") { ${selection} } }`;
}

const aliasQuery = (count: number) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: viewer { role }`).join(' ')} }`;
const directiveQuery = (count: number) => `{ viewer { ${'role @include(if: true) '.repeat(count)}} }`;

/**
 * graphql-armor's cost estimate: scalar 1, object 2 plus 1.5 times its children, times N
 * for a `first: N` literal. events: (2 + 1.5 + 1.5) * N; nodes: 2 + 1.5 * events;
 * runs: (2 + 1.5 * nodes) * 40. With N = 44 that is exactly 20,000; with 45 it is 20,450.
 */
const costQuery = (eventsFirst: number) => `{ runs(first: 40) { nodes { events(first: ${eventsFirst}) { __typename t: __typename } } } }`;

/** A startRun whose run input is a list of `count` zeros: `count` + 20 tokens, all of them needed. */
const tokensMutation = (workflowId: string, count: number) =>
  `mutation { startRun(input: { workflowId: "${workflowId}", input: [${'0 '.repeat(count)}] }) { id } }`;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

async function createWorkflow(app: TestAppliance, token: string): Promise<string> {
  const reply = await app.gql<{ createWorkflow: { id: string } }>(
    token,
    'mutation($i: CreateWorkflowInput!) { createWorkflow(input: $i) { id } }',
    {
      i: { name: unique('wf'), definition: { steps: [{ id: 'only', uses: 'core/noop@1', with: { x: 1 } }] } },
    },
  );
  if (!reply.data) throw new Error(JSON.stringify(reply.errors));
  return reply.data.createWorkflow.id;
}

test('the documented defaults are in force', (t) => {
  const config = production.appliance.config;
  t.is(config.environment, 'production');
  t.deepEqual(
    [
      config.graphqlMaxDepth,
      config.graphqlMaxCost,
      config.graphqlMaxAliases,
      config.graphqlMaxDirectives,
      config.graphqlMaxTokens,
      config.graphqlMaxBatch,
      config.maxBodyBytes,
    ],
    [MAX_DEPTH, MAX_COST, MAX_ALIASES, MAX_DIRECTIVES, MAX_TOKENS, MAX_BATCH, MAX_BODY],
  );
  t.is(config.persistedOperationsFile, undefined);
  t.deepEqual([config.apiRateLimitPerSecond, config.apiRateLimitBurst], [50, 100]);
});

test('depth: exactly the limit is served, one more and a depth of 100 are refused', async (t) => {
  const { tokens } = await production.tenant(unique('depth'), ['EDITOR']);
  const token = tokens['EDITOR']!;
  const workflowId = await createWorkflow(production, token);

  const atLimit = await query(production, token, deepWorkflowQuery(workflowId, MAX_DEPTH));
  assertServed(t, atLimit, `depth ${MAX_DEPTH}`);
  t.truthy(atLimit.body.data.workflow.latestVersion.workflow, 'the deep query executed');

  const overLimit = await query(production, token, deepWorkflowQuery(workflowId, MAX_DEPTH + 1));
  assertRefused(
    t,
    overLimit,
    'BAD_USER_INPUT',
    new RegExp(`^Query depth limit of ${MAX_DEPTH} exceeded, found ${MAX_DEPTH + 1}\\.$`),
    `depth ${MAX_DEPTH + 1}`,
  );
  t.is(overLimit.status, 400);

  const hundred = await query(production, token, deepWorkflowQuery(workflowId, 100));
  assertRefused(t, hundred, 'BAD_USER_INPUT', new RegExp(`^Query depth limit of ${MAX_DEPTH} exceeded, found 100\\.$`), 'depth 100');
  await assertStillServes(t, production, token, 'EDITOR', 'a depth-100 query');
});

test('cost: an estimate exactly at the limit is served, one page more is refused', async (t) => {
  const { tokens } = await production.tenant(unique('cost'), ['VIEWER']);
  const token = tokens['VIEWER']!;
  const atLimit = await query(production, token, costQuery(44));
  assertServed(t, atLimit, 'cost 20000');
  t.deepEqual(atLimit.body.data, { runs: { nodes: [] } });

  const overLimit = await query(production, token, costQuery(45));
  assertRefused(t, overLimit, 'BAD_USER_INPUT', new RegExp(`^Query Cost limit of ${MAX_COST} exceeded, found 20450\\.$`), 'cost 20450');
  // Nested pages multiply: 100 runs with 100 events each is far over.
  const nested = await query(production, token, '{ runs(first: 100) { nodes { id events(first: 100) { nodes { seq type at data } } } } }');
  assertRefused(t, nested, 'BAD_USER_INPUT', new RegExp(`^Query Cost limit of ${MAX_COST} exceeded, found \\d+`), 'nested pages');
  await assertStillServes(t, production, token, 'VIEWER', 'an over-cost query');
});

test('aliases: exactly the limit is served, one more and 10,000 are refused', async (t) => {
  const { tokens } = await production.tenant(unique('aliases'), ['VIEWER']);
  const token = tokens['VIEWER']!;
  const atLimit = await query(production, token, aliasQuery(MAX_ALIASES));
  assertServed(t, atLimit, `${MAX_ALIASES} aliases`);
  t.is(Object.keys(atLimit.body.data).length, MAX_ALIASES);

  const overLimit = await query(production, token, aliasQuery(MAX_ALIASES + 1));
  assertRefused(
    t,
    overLimit,
    'BAD_USER_INPUT',
    new RegExp(`^Aliases limit of ${MAX_ALIASES} exceeded, found ${MAX_ALIASES + 1}\\.$`),
    `${MAX_ALIASES + 1} aliases`,
  );

  // 10,000 aliases take 60,000 tokens: the parser stops at the token limit before the aliases are even counted.
  const tenThousand = aliasQuery(10_000);
  t.true(tokenCount(tenThousand) > MAX_TOKENS);
  const refused = await query(production, token, tenThousand);
  assertRefused(t, refused, 'BAD_USER_INPUT', new RegExp(`^Token limit of ${MAX_TOKENS} exceeded\\.$`), '10,000 aliases');
  await assertStillServes(t, production, token, 'VIEWER', '10,000 aliases');
});

test('directives: exactly the limit is served, one more is refused', async (t) => {
  const { tokens } = await production.tenant(unique('directives'), ['VIEWER']);
  const token = tokens['VIEWER']!;
  assertServed(t, await query(production, token, directiveQuery(MAX_DIRECTIVES)), `${MAX_DIRECTIVES} directives`);
  const overLimit = await query(production, token, directiveQuery(MAX_DIRECTIVES + 1));
  assertRefused(
    t,
    overLimit,
    'BAD_USER_INPUT',
    new RegExp(`^Directives limit of ${MAX_DIRECTIVES} exceeded, found ${MAX_DIRECTIVES + 1}\\.$`),
    `${MAX_DIRECTIVES + 1} directives`,
  );
  await assertStillServes(t, production, token, 'VIEWER', 'too many directives');
});

test('tokens: a document of exactly the limit is served, one token more and a huge document are refused', async (t) => {
  const { tokens } = await production.tenant(unique('tokens'));
  const token = tokens['ADMIN']!;
  const workflowId = await createWorkflow(production, token);

  const atLimit = tokensMutation(workflowId, MAX_TOKENS - 20);
  t.is(tokenCount(atLimit), MAX_TOKENS);
  const served = await query(production, token, atLimit);
  assertServed(t, served, `${MAX_TOKENS} tokens`);
  t.truthy(served.body.data.startRun.id, 'the run was started');

  const overLimit = tokensMutation(workflowId, MAX_TOKENS - 19);
  t.is(tokenCount(overLimit), MAX_TOKENS + 1);
  assertRefused(
    t,
    await query(production, token, overLimit),
    'BAD_USER_INPUT',
    new RegExp(`^Token limit of ${MAX_TOKENS} exceeded\\.$`),
    `${MAX_TOKENS + 1} tokens`,
  );

  // 400,000 tokens in 800 kB, under the body limit: the parser stops at token 5,001.
  const huge = `{ ${'a '.repeat(400_000)}}`;
  const started = Date.now();
  const refused = await query(production, token, huge);
  assertRefused(t, refused, 'BAD_USER_INPUT', new RegExp(`^Token limit of ${MAX_TOKENS} exceeded\\.$`), '400,000 tokens');
  t.true(Date.now() - started < 5000, `refused in ${Date.now() - started} ms`);
  await assertStillServes(t, production, token, 'ADMIN', 'a document over the token limit');
});

test('batching: exactly the limit runs every operation, one more or 1,000 are refused whole with one error and nothing runs', async (t) => {
  const { tokens } = await production.tenant(unique('batch'));
  const token = tokens['ADMIN']!;
  const atLimit = await post(
    production,
    token,
    JSON.stringify(Array.from({ length: MAX_BATCH }, () => ({ query: '{ viewer { role } }' }))),
  );
  t.is(atLimit.status, 200, atLimit.text.slice(0, 300));
  t.deepEqual(
    atLimit.body,
    Array.from({ length: MAX_BATCH }, () => ({ data: { viewer: { role: 'ADMIN' } } })),
  );

  const create = { query: 'mutation($i: CreateWorkflowInput!) { createWorkflow(input: $i) { id } }' };
  const definition = { steps: [{ id: 'only', uses: 'core/noop@1' }] };
  for (const size of [MAX_BATCH + 1, 1000]) {
    const batch = Array.from({ length: size }, (_, i) => ({ ...create, variables: { i: { name: `batched-${size}-${i}`, definition } } }));
    const refused = await post(production, token, JSON.stringify(batch));
    t.false(Array.isArray(refused.body), `${size} operations: one answer, not one per operation`);
    assertRefused(
      t,
      refused,
      'BAD_USER_INPUT',
      new RegExp(`^Batching is limited to ${MAX_BATCH} operations per request\\.$`),
      `a batch of ${size}`,
    );
    t.is(refused.status, 413);
  }
  const workflows = await query(production, token, '{ workflows { nodes { id } } }');
  t.deepEqual(workflows.body, { data: { workflows: { nodes: [] } } }, 'no batched mutation ran');
  await assertStillServes(t, production, token, 'ADMIN', 'a batch of 1,000');
});

test('body size: exactly the limit reaches GraphQL, a 10 MB body is refused with 413 naming the limit', async (t) => {
  const { tokens } = await production.tenant(unique('body'), ['VIEWER']);
  const token = tokens['VIEWER']!;
  const frame = JSON.stringify({ query: '{ viewer { role } }', variables: { pad: '' } });
  const atLimit = JSON.stringify({ query: '{ viewer { role } }', variables: { pad: 'x'.repeat(MAX_BODY - frame.length) } });
  t.is(Buffer.byteLength(atLimit), MAX_BODY);
  t.deepEqual((await post(production, token, atLimit)).body, { data: { viewer: { role: 'VIEWER' } } });

  const tenMegabytes = JSON.stringify({ query: '{ viewer { role } }', variables: { pad: 'x'.repeat(10 * 1024 * 1024) } });
  const refused = await post(production, token, tenMegabytes);
  t.is(refused.status, 413);
  assertRefused(t, refused, 'BAD_USER_INPUT', new RegExp(`^request body is larger than the limit of ${MAX_BODY} bytes$`), 'a 10 MB body');
  await assertStillServes(t, production, token, 'VIEWER', 'a 10 MB body');
});

test('suggestions: "Did you mean" is hidden in production (fields, enum values, input fields of variables) and shown in development', async (t) => {
  const prodToken = (await production.tenant(unique('suggest'), ['VIEWER'])).tokens['VIEWER']!;
  const devToken = (await development.tenant(unique('suggest'), ['VIEWER'])).tokens['VIEWER']!;
  const typos: [string, string, Record<string, unknown> | undefined, string, string][] = [
    ['a field', '{ viewer { rol } }', undefined, 'Cannot query field "rol" on type "Viewer".', ' Did you mean "role"?'],
    [
      'an enum value in the document',
      '{ runs(filter: { status: FAILD }) { nodes { id } } }',
      undefined,
      'Value "FAILD" does not exist in "RunStatus" enum.',
      ' Did you mean the enum value "FAILED"?',
    ],
    [
      'an enum value in variables',
      'query($s: RunStatus) { runs(filter: { status: $s }) { nodes { id } } }',
      { s: 'FAILD' },
      'Value "FAILD" does not exist in "RunStatus" enum.',
      ' Did you mean the enum value "FAILED"?',
    ],
    [
      'an input field in variables',
      'query($f: RunFilter) { runs(filter: $f) { nodes { id } } }',
      { f: { stats: 'FAILED' } },
      'Field "stats" is not defined by type "RunFilter".',
      ' Did you mean "status"?',
    ],
  ];
  for (const [what, document, variables, message, suggestion] of typos) {
    const prod = await query(production, prodToken, document, variables);
    assertRefused(t, prod, 'BAD_USER_INPUT', new RegExp(`^${escapeRegExp(message)}$`), `${what} in production`);
    t.false(prod.text.includes('Did you mean'), `${what}: no suggestion in production`);
    const dev = await query(development, devToken, document, variables);
    assertRefused(t, dev, 'BAD_USER_INPUT', new RegExp(`^${escapeRegExp(message + suggestion)}$`), `${what} in development`);
  }
  await assertStillServes(t, production, prodToken, 'VIEWER', 'typos');
});

test('introspection: answered for any authenticated token in production, refused without one, and refused to all when switched off', async (t) => {
  const prodToken = (await production.tenant(unique('introspect'), ['VIEWER'])).tokens['VIEWER']!;
  const offToken = (await noIntrospection.tenant(unique('introspect'), ['VIEWER'])).tokens['VIEWER']!;
  const schemaQuery = '{ __schema { queryType { name } types { name } } }';
  const typeQuery = '{ __type(name: "Run") { name fields { name } } }';

  // Internal tools read the schema in production with their own token, whatever its role.
  const schema = await query(production, prodToken, schemaQuery);
  assertServed(t, schema, '__schema in production with a token');
  t.is(schema.body.data.__schema.queryType.name, 'Query');
  t.true(schema.body.data.__schema.types.some((type: { name: string }) => type.name === 'Run'));
  const type = await query(production, prodToken, typeQuery);
  assertServed(t, type, '__type in production with a token');
  t.true(type.body.data.__type.fields.some((field: { name: string }) => field.name === 'workflowVersion'));

  for (const [document, field] of [
    [schemaQuery, '__schema'],
    [typeQuery, '__type'],
  ] as const) {
    // Without a token nothing executes, introspection included.
    const anonymous = await post(production, null, JSON.stringify({ query: document }));
    t.is(anonymous.status, 401, `${field} without a token`);
    t.is(anonymous.body.errors[0].extensions.code, 'UNAUTHENTICATED');
    t.is(anonymous.body.data ?? null, null, `${field} without a token: nothing executed`);

    const refused = await query(noIntrospection, offToken, document);
    // graphql-js reports each introspection field of the document, the root one first.
    const errors = refused.body.errors as { message: string; extensions: { code: string } }[];
    t.true(errors.length >= 1, `${field} switched off: refused (${refused.text.slice(0, 300)})`);
    t.is(errors[0]?.message, `GraphQL introspection has been disabled, but the requested query contained the field "${field}".`);
    for (const error of errors) {
      t.is(error.extensions.code, 'BAD_USER_INPUT');
      t.regex(error.message, /^GraphQL introspection has been disabled/);
    }
    t.is(refused.body.data, undefined, `${field} switched off: nothing executed`);
  }
  await assertStillServes(t, noIntrospection, offToken, 'VIEWER', 'introspection');
  // __typename is not introspection of the schema: clients need it for unions and caching.
  t.deepEqual((await query(noIntrospection, offToken, '{ viewer { __typename } }')).body, { data: { viewer: { __typename: 'Viewer' } } });
});

test('persisted operations: a listed hash is served; an unknown hash, a missing hash and any document are refused', async (t) => {
  const byHash = (sha256Hash: string) =>
    post(persisted, ADMIN_TOKEN, JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash } } }));
  t.deepEqual((await byHash(PERSISTED_HASH)).body, { data: { viewer: { role: 'SYSTEM_ADMIN' } } });

  const unknownHash = createHash('sha256').update('{ viewer { role tenant { id } } }').digest('hex');
  assertRefused(
    t,
    await byHash(unknownHash),
    'BAD_USER_INPUT',
    new RegExp(`^unknown persisted operation "${unknownHash}"$`),
    'an unknown hash',
  );

  const arbitrary = await query(persisted, ADMIN_TOKEN, 'mutation { createTenant(input: { name: "never" }) { id } }');
  assertRefused(t, arbitrary, 'BAD_USER_INPUT', /persisted operations only/, 'an arbitrary document');
  // Even the listed document is refused when sent as text: only its hash names it.
  assertRefused(
    t,
    await query(persisted, ADMIN_TOKEN, PERSISTED_QUERY),
    'BAD_USER_INPUT',
    /persisted operations only/,
    'the listed document as text',
  );
  assertRefused(
    t,
    await post(persisted, ADMIN_TOKEN, JSON.stringify({ extensions: {} })),
    'BAD_USER_INPUT',
    /persisted operations only/,
    'no hash',
  );

  const sql = new pg.Client({ connectionString: persisted.databaseUrl });
  await sql.connect();
  try {
    const { rows } = await sql.query<{ n: number }>(`select count(*)::int as n from tenants where name = 'never'`);
    t.is(rows[0]?.n, 0, 'the arbitrary mutation did not run');
  } finally {
    await sql.end();
  }
  t.deepEqual((await byHash(PERSISTED_HASH)).body, { data: { viewer: { role: 'SYSTEM_ADMIN' } } }, 'still served afterwards');
});

test('rate limit: burst requests pass, the next is RATE_LIMITED with 429 and Retry-After, another token is unaffected, and the bucket refills', async (t) => {
  // The system-admin token has its own bucket: setting up takes 3 of its 5.
  const { tokens } = await limited.tenant(unique('rate'), ['VIEWER', 'OPERATOR']);
  const [first, second] = [tokens['VIEWER']!, tokens['OPERATOR']!];
  const burst = limited.appliance.config.apiRateLimitBurst;
  t.is(burst, 5);

  for (let i = 1; i <= burst; i++) {
    t.deepEqual(
      (await query(limited, first, '{ viewer { role } }')).body,
      { data: { viewer: { role: 'VIEWER' } } },
      `request ${i} of the burst`,
    );
  }
  const limitedReply = await query(limited, first, '{ viewer { role } }');
  t.is(limitedReply.status, 429);
  assertRefused(
    t,
    limitedReply,
    'RATE_LIMITED',
    /rate limit of 0\.2 requests per second \(burst 5\) is reached; retry after \d s$/,
    'request burst + 1',
  );
  const retryAfterSeconds = limitedReply.body.errors[0].extensions.retryAfterSeconds;
  // The next token is at most 5 s away, less the part that refilled while the burst was sent.
  t.true(Number.isInteger(retryAfterSeconds) && retryAfterSeconds >= 1 && retryAfterSeconds <= 5, `retryAfterSeconds ${retryAfterSeconds}`);
  t.is(limitedReply.headers.get('retry-after'), String(retryAfterSeconds));

  t.deepEqual(
    (await query(limited, second, '{ viewer { role } }')).body,
    { data: { viewer: { role: 'OPERATOR' } } },
    'another token of the same tenant has its own bucket',
  );

  // Honour Retry-After: the server promised a token by then.
  await new Promise((resolve) => setTimeout(resolve, retryAfterSeconds * 1000));
  t.deepEqual((await query(limited, first, '{ viewer { role } }')).body, { data: { viewer: { role: 'VIEWER' } } }, 'the bucket refilled');
  t.is((await query(limited, first, '{ viewer { role } }')).status, 429, 'by one token only');
});
