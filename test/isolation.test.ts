/**
 * Tenant isolation enforced by PostgreSQL: row-level security on every tenant table, a
 * runtime role it confines, no leak across pooled connections, and every operation of
 * the schema answering NOT_FOUND for another tenant's ids.
 */
import test from 'ava';
import pg from 'pg';
import {
  buildSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
} from 'graphql';
import { schemaTypeDefs } from '../core/graphql/schema.js';
import { derivedRuntimeRole, runtimeUrlFor } from '../core/db/roles.js';
import { TENANT_ROLES } from '../core/auth/roles.js';
import { startTestAppliance, waitFor, ADMIN_TOKEN, type TestAppliance } from './support/appliance.js';

const WAITING_WORKFLOW = {
  steps: [
    { id: 'first', uses: 'core/noop@1' },
    { id: 'review', uses: 'core/approval@1', needs: ['first'] },
  ],
};

interface Seeded {
  tenantId: string;
  tokens: Record<string, string>;
  tokenId: string;
  workflowId: string;
  runId: string;
  credentialName: string;
  guardHost: string;
  webhookTriggerId: string;
  scheduleId: string;
}

async function seedTenant(app: TestAppliance, name: string): Promise<Seeded> {
  const tenant = await app.tenant(name, [...TENANT_ROLES]);
  const admin = tenant.tokens['ADMIN']!;
  const wf = await app.gql(admin, 'mutation($d: JSON!) { createWorkflow(input: { name: "approve", definition: $d }) { id } }', {
    d: WAITING_WORKFLOW,
  });
  const workflowId = wf.data.createWorkflow.id as string;
  const run = await app.gql(admin, 'mutation($w: ID!) { startRun(input: { workflowId: $w, input: { secret: "x" } }) { id } }', {
    w: workflowId,
  });
  const runId = run.data.startRun.id as string;
  await waitFor(
    async () => (await app.gql(admin, 'query($r: ID!) { run(id: $r) { status } }', { r: runId })).data?.run?.status === 'WAITING',
    `${name}'s run waiting`,
  );
  // Names are per tenant; distinct names make "deleting A's by name" distinguishable from deleting one's own.
  const credentialName = `api-${name}`;
  const cred = await app.gql(
    admin,
    'mutation($n: String!) { setCredential(input: { name: $n, type: "bearer", secret: { token: "t0ken-value" }, allowedHosts: ["api.example.com"] }) { id } }',
    { n: credentialName },
  );
  if (!cred.data) throw new Error(JSON.stringify(cred.errors));
  const guardHost = `api-${name}.example.com`;
  const guard = await app.gql(admin, 'mutation($h: String!) { setIntegrationGuard(input: { host: $h, ratePerSecond: 5 }) { host } }', {
    h: guardHost,
  });
  if (!guard.data) throw new Error(JSON.stringify(guard.errors));
  const tokens = await app.gql(admin, '{ apiTokens { nodes { id role } } }');
  const tokenId = (tokens.data.apiTokens.nodes as { id: string; role: string }[]).find((t) => t.role === 'VIEWER')!.id;
  const hook = await app.gql(
    admin,
    'mutation($w: ID!) { createWebhookTrigger(input: { workflowId: $w, name: "hook" }) { trigger { id } } }',
    { w: workflowId },
  );
  if (!hook.data) throw new Error(JSON.stringify(hook.errors));
  const webhookTriggerId = hook.data.createWebhookTrigger.trigger.id as string;
  const cron = await app.gql(
    admin,
    'mutation($w: ID!) { createSchedule(input: { workflowId: $w, name: "nightly", cron: "0 3 * * *", timeZone: "UTC" }) { id } }',
    { w: workflowId },
  );
  if (!cron.data) throw new Error(JSON.stringify(cron.errors));
  const scheduleId = cron.data.createSchedule.id as string;
  return {
    tenantId: tenant.id,
    tokens: tenant.tokens,
    tokenId,
    workflowId,
    runId,
    credentialName,
    guardHost,
    webhookTriggerId,
    scheduleId,
  };
}

let app: TestAppliance;
let a: Seeded;
let b: Seeded;

test.before(async () => {
  // A small pool, so that the interleaving test reuses every connection many times.
  // Many requests per token: the per-token rate limit is not what this test is about.
  app = await startTestAppliance({ config: { dbPoolSize: 4, apiRateLimitPerSecond: 100_000, apiRateLimitBurst: 100_000 } });
  a = await seedTenant(app, 'tenant-a');
  b = await seedTenant(app, 'tenant-b');
});

test.after.always(async () => {
  await app?.stop();
});

const ownerClient = async (): Promise<pg.Client> => {
  const client = new pg.Client({ connectionString: app.databaseUrl });
  await client.connect();
  return client;
};
const runtimeClient = async (): Promise<pg.Client> => {
  const client = new pg.Client({ connectionString: runtimeUrlFor(app.databaseUrl, derivedRuntimeRole(app.databaseUrl)) });
  await client.connect();
  return client;
};

test('every table holding tenant_id has row-level security, forced, and the runtime role cannot bypass it', async (t) => {
  const owner = await ownerClient();
  try {
    const { rows } = await owner.query<{ table: string; rls: boolean; forced: boolean; policies: number }>(
      `select c.relname as table, c.relrowsecurity as rls, c.relforcerowsecurity as forced,
              (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind = 'r'
          and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
        order by 1`,
    );
    t.true(rows.length >= 12, `found ${rows.length} tenant tables`);
    for (const row of rows) t.like(row, { rls: true, forced: true }, `${row.table} has FORCE ROW LEVEL SECURITY`);
    for (const row of rows) t.true(row.policies >= 1, `${row.table} has a policy`);
    const {
      rows: [role],
    } = await owner.query<{ rolsuper: boolean; rolbypassrls: boolean; owns: number }>(
      `select r.rolsuper, r.rolbypassrls, (select count(*)::int from pg_class c where c.relowner = r.oid) as owns
         from pg_roles r where r.rolname = 'switchyard_runtime'`,
    );
    t.deepEqual(role, { rolsuper: false, rolbypassrls: false, owns: 0 });
  } finally {
    await owner.end();
  }
});

test("without a tenant context the runtime role sees no tenant row; with one it sees only that tenant's and cannot write another's", async (t) => {
  const tables = [
    'workflows',
    'workflow_versions',
    'runs',
    'step_executions',
    'run_events',
    'credentials',
    'tenant_data_keys',
    'credential_leases',
    'llm_usage',
    'llm_response_cache',
    'integration_guards',
    'step_backlog',
  ];
  const owner = await ownerClient();
  const runtime = await runtimeClient();
  try {
    for (const table of ['workflows', 'runs', 'step_executions', 'run_events', 'credentials', 'api_tokens', 'audit_events']) {
      const {
        rows: [all],
      } = await owner.query<{ n: number }>(`select count(*)::int as n from ${table} where tenant_id is not null`);
      t.true(all!.n >= 2, `the owner sees ${table} rows of both tenants`);
    }
    for (const table of [...tables, 'api_tokens', 'audit_events']) {
      const {
        rows: [none],
      } = await runtime.query<{ n: number }>(`select count(*)::int as n from ${table} where tenant_id is not null`);
      t.is(none!.n, 0, `no tenant context: zero rows of ${table}`);
    }
    await runtime.query('begin');
    await runtime.query(`select set_config('app.tenant_id', $1, true)`, [a.tenantId]);
    for (const table of [...tables, 'api_tokens', 'audit_events']) {
      const { rows } = await runtime.query<{ tenant: string }>(`select distinct tenant_id::text as tenant from ${table}`);
      t.true(
        rows.every((r) => r.tenant === a.tenantId),
        `${table}: only tenant A's rows in A's context`,
      );
    }
    const { rows: foreign } = await runtime.query('select id from runs where id = $1', [b.runId]);
    t.is(foreign.length, 0, "B's run is invisible by id");
    const updated = await runtime.query(`update runs set status = 'CANCELLED' where id = $1`, [b.runId]);
    t.is(updated.rowCount, 0, "B's run cannot be updated");
    const error = await t.throwsAsync(
      runtime.query(`insert into workflows (id, tenant_id, name) values (gen_random_uuid(), $1, 'smuggled')`, [b.tenantId]),
    );
    t.regex(error!.message, /row-level security/);
    await runtime.query('rollback');
    // set_config(..., true) lasts for the transaction only: the connection carries nothing on.
    const {
      rows: [after],
    } = await runtime.query<{ n: number; setting: string | null }>(
      `select (select count(*)::int from runs) as n, nullif(current_setting('app.tenant_id', true), '') as setting`,
    );
    t.deepEqual(after, { n: 0, setting: null });
    // The owner-run lookups answer only their narrow question.
    const { rows: overdue } = await runtime.query('select * from overdue_runs(10)');
    t.deepEqual(overdue, []);
    await t.throwsAsync(runtime.query('alter table runs no force row level security'), { message: /must be owner/ });
    await t.throwsAsync(runtime.query('create table smuggled (x int)'), { message: /permission denied/ });
    await t.throwsAsync(runtime.query('delete from run_events'), { message: /permission denied/ });
    await t.throwsAsync(runtime.query('delete from audit_events'), { message: /permission denied/ });
  } finally {
    await runtime.end();
    await owner.end();
  }
});

test("1,000 interleaved requests of two tenants over a pool of 4 connections never show one tenant the other's rows", async (t) => {
  const query = `{ runs(first: 50) { nodes { id workflowVersion { workflow { id } } steps { stepId } events(first: 5) { nodes { seq } } } }
                   workflows { nodes { id } } viewer { tenant { id } } }`;
  const expected = (s: Seeded) => ({ runs: [s.runId], workflows: [s.workflowId], tenant: s.tenantId });
  const leaks: string[] = [];
  let answered = 0;
  const one = async (i: number) => {
    const who = i % 2 === 0 ? a : b;
    const role = ['ADMIN', 'VIEWER', 'EDITOR', 'OPERATOR'][i % 4]!;
    const response = await app.gql(who.tokens[role]!, query);
    if (response.errors) throw new Error(JSON.stringify(response.errors));
    const d = response.data;
    const got = {
      runs: d.runs.nodes.map((r: { id: string }) => r.id),
      workflows: d.workflows.nodes.map((w: { id: string }) => w.id),
      tenant: d.viewer.tenant.id,
    };
    const linked = d.runs.nodes.every(
      (r: { workflowVersion: { workflow: { id: string } } }) => r.workflowVersion.workflow.id === who.workflowId,
    );
    if (JSON.stringify(got) !== JSON.stringify(expected(who)) || !linked) leaks.push(`request ${i}: ${JSON.stringify(got)}`);
    answered++;
  };
  for (let start = 0; start < 1000; start += 40) {
    await Promise.all(Array.from({ length: 40 }, (_, k) => one(start + k)));
  }
  t.is(answered, 1000);
  t.deepEqual(leaks, []);
});

// ---- every operation, called with another tenant's ids ----

type Kind = 'run' | 'workflow' | 'tenant' | 'token' | 'step' | 'credentialName' | 'guardHost' | 'webhookTrigger' | 'schedule';

/** Which kind of object an ID argument names. An argument missing here fails the test, so new fields cannot slip past. */
const ARGUMENT_KINDS: Record<string, Kind> = {
  'Query.workflow.id': 'workflow',
  'Query.run.id': 'run',
  'Query.runs.filter.workflowId': 'workflow',
  'Query.apiTokens.tenantId': 'tenant',
  'Query.auditEvents.filter.tenantId': 'tenant',
  'Mutation.exportAuditReport.input.tenantId': 'tenant',
  'Mutation.createApiToken.input.tenantId': 'tenant',
  'Mutation.revokeApiToken.id': 'token',
  'Mutation.setTenantQuota.input.tenantId': 'tenant',
  'Mutation.setAuditRetention.input.tenantId': 'tenant',
  'Mutation.publishWorkflowVersion.input.workflowId': 'workflow',
  'Mutation.startRun.input.workflowId': 'workflow',
  'Mutation.cancelRun.id': 'run',
  'Mutation.retryRun.id': 'run',
  'Mutation.approveStep.input.runId': 'run',
  'Mutation.approveStep.input.stepId': 'step',
  'Subscription.runEvents.runId': 'run',
  'Query.webhookTriggers.workflowId': 'workflow',
  'Query.webhookTrigger.id': 'webhookTrigger',
  'Mutation.createWebhookTrigger.input.workflowId': 'workflow',
  'Mutation.updateWebhookTrigger.input.id': 'webhookTrigger',
  'Mutation.rotateWebhookTriggerSecret.input.id': 'webhookTrigger',
  'Mutation.deleteWebhookTrigger.id': 'webhookTrigger',
  'Query.schedules.workflowId': 'workflow',
  'Query.schedule.id': 'schedule',
  'Mutation.createSchedule.input.workflowId': 'workflow',
  'Mutation.updateSchedule.input.id': 'schedule',
  'Mutation.pauseSchedule.id': 'schedule',
  'Mutation.resumeSchedule.id': 'schedule',
  'Mutation.deleteSchedule.id': 'schedule',
  // Not IDs, but names that identify another tenant's object.
  'Mutation.deleteCredential.name': 'credentialName',
  'Mutation.deleteIntegrationGuard.host': 'guardHost',
};

/** Arguments that must hold a valid value for the call to reach the ids. */
const VALID_VALUES: Record<string, unknown> = {
  'Mutation.createApiToken.input.role': 'VIEWER',
};

const idOf = (s: Seeded, kind: Kind): string =>
  ({
    run: s.runId,
    workflow: s.workflowId,
    tenant: s.tenantId,
    token: s.tokenId,
    step: 'review',
    credentialName: s.credentialName,
    guardHost: s.guardHost,
    webhookTrigger: s.webhookTriggerId,
    schedule: s.scheduleId,
  })[kind];

/** A valid-looking value for a required argument that names nothing. */
function sample(type: GraphQLInputType, path: string, typeName: string, fieldName: string, foreign: Seeded, found: string[]): unknown {
  if (isNonNullType(type)) return sample(type.ofType as GraphQLInputType, path, typeName, fieldName, foreign, found);
  if (isListType(type)) return [sample(type.ofType as GraphQLInputType, `${path}`, typeName, fieldName, foreign, found)];
  const key = `${typeName}.${fieldName}.${path}`;
  if (key in VALID_VALUES) return VALID_VALUES[key];
  const kind = ARGUMENT_KINDS[key];
  if (kind) {
    found.push(key);
    return idOf(foreign, kind);
  }
  const named = getNamedType(type);
  if (isInputObjectType(named)) {
    const out: Record<string, unknown> = {};
    for (const field of Object.values(named.getFields())) {
      const nested = `${path}.${field.name}`;
      if (isNonNullType(field.type) || ARGUMENT_KINDS[`${typeName}.${fieldName}.${nested}`] || getNamedType(field.type).name === 'ID') {
        out[field.name] = sample(field.type, nested, typeName, fieldName, foreign, found);
      }
    }
    return out;
  }
  if (isEnumType(named)) return named.getValues()[0]!.value;
  if (isScalarType(named)) {
    switch (named.name) {
      case 'ID':
        throw new Error(`${key} is an ID argument with no kind in ARGUMENT_KINDS: say which object it names`);
      case 'Int':
        return 1;
      case 'Float':
        return 1;
      case 'Boolean':
        return true;
      case 'DateTime':
        return new Date().toISOString();
      case 'JSON':
        return { steps: [{ id: 'a', uses: 'core/noop@1' }] };
      default:
        return 'x';
    }
  }
  throw new Error(`cannot sample ${named}`);
}

function selection(field: GraphQLField<unknown, unknown>): string {
  const named = getNamedType(field.type);
  if (isScalarType(named) || isEnumType(named)) return '';
  const fields = (named as GraphQLObjectType).getFields();
  const scalar = Object.values(fields).find(
    (f) => f.args.length === 0 && (isScalarType(getNamedType(f.type)) || isEnumType(getNamedType(f.type))),
  );
  if (scalar) return `{ ${scalar.name} }`;
  return `{ __typename }`;
}

test("every query, mutation and subscription answers NOT_FOUND for another tenant's ids, and changes nothing", async (t) => {
  const schema = buildSchema(schemaTypeDefs());
  const roots = [schema.getQueryType()!, schema.getMutationType()!, schema.getSubscriptionType()!];
  const covered: string[] = [];
  for (const root of roots) {
    for (const field of Object.values(root.getFields())) {
      const found: string[] = [];
      const args: Record<string, unknown> = {};
      const declare = (arg: GraphQLArgument) => `$${arg.name}: ${arg.type.toString()}`;
      for (const arg of field.args) {
        const relevant =
          isNonNullType(arg.type) || ARGUMENT_KINDS[`${root.name}.${field.name}.${arg.name}`] || isInputObjectType(getNamedType(arg.type));
        if (relevant) args[arg.name] = sample(arg.type, arg.name, root.name, field.name, a, found);
      }
      for (const key of Object.keys(ARGUMENT_KINDS).filter((k) => k.startsWith(`${root.name}.${field.name}.`))) {
        t.true(found.includes(key), `${key} was exercised`);
      }
      if (found.length === 0) continue;
      covered.push(`${root.name}.${field.name}`);
      const used = field.args.filter((arg) => arg.name in args);
      const operation = root.name === 'Query' ? 'query' : root.name === 'Mutation' ? 'mutation' : 'subscription';
      const document = `${operation} Probe${used.length ? `(${used.map(declare).join(', ')})` : ''} { ${field.name}${used.length ? `(${used.map((arg) => `${arg.name}: $${arg.name}`).join(', ')})` : ''} ${selection(field)} }`;
      const codes = new Set<string>();
      for (const role of TENANT_ROLES) {
        const response =
          operation === 'subscription'
            ? await subscribeOnce(app.url, b.tokens[role]!, document, args)
            : await app.gql(b.tokens[role]!, document, args);
        t.falsy(response.data?.[field.name], `${field.name} as B's ${role} returns no data for A's ids`);
        const code = response.errors?.[0]?.extensions.code;
        t.truthy(code, `${field.name} as B's ${role} answers with an error`);
        t.true(code === 'NOT_FOUND' || code === 'FORBIDDEN', `${field.name} as B's ${role}: ${code} (${response.errors?.[0]?.message})`);
        codes.add(String(code));
      }
      const systemOnly = ['setTenantQuota', 'setAuditRetention'].includes(field.name);
      if (systemOnly) t.deepEqual([...codes], ['FORBIDDEN'], `${field.name} is for system admins only`);
      else t.true(codes.has('NOT_FOUND'), `${field.name}: the roles allowed to call it get NOT_FOUND (got ${[...codes].join(', ')})`);
    }
  }
  t.true(covered.length >= 14, `covered ${covered.join(', ')}`);

  // Nothing of A's changed.
  const admin = a.tokens['ADMIN']!;
  const state = await app.gql(
    admin,
    `query($r: ID!, $w: ID!) { run(id: $r) { status steps { stepId status } } workflow(id: $w) { latestVersion { version } }
    credentials { name } apiTokens { nodes { id revokedAt } } integrationGuards { host } webhookTriggers { id enabled secretRotatedAt } schedules { id paused cron } }`,
    { r: a.runId, w: a.workflowId },
  );
  t.deepEqual(state.data.webhookTriggers, [{ id: a.webhookTriggerId, enabled: true, secretRotatedAt: null }]);
  t.deepEqual(state.data.schedules, [{ id: a.scheduleId, paused: false, cron: '0 3 * * *' }]);
  t.is(state.data.run.status, 'WAITING');
  t.is(state.data.workflow.latestVersion.version, 1);
  t.deepEqual(
    state.data.credentials.map((c: { name: string }) => c.name),
    [a.credentialName],
  );
  t.deepEqual(state.data.integrationGuards, [{ host: a.guardHost }]);
  t.is(state.data.apiTokens.nodes.find((n: { id: string }) => n.id === a.tokenId).revokedAt, null);
});

async function subscribeOnce(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<{ data?: any; errors?: { message: string; extensions: { code: string } }[] }> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(10_000),
  });
  const reader = response.body!.getReader();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
    const match = /data: (\{.*\})\n/.exec(text);
    if (match) {
      await reader.cancel();
      return JSON.parse(match[1]!);
    }
  }
  throw new Error(`no event in ${JSON.stringify(text)}`);
}

test("a system admin names tenants explicitly and reads a tenant's audit log only by naming it", async (t) => {
  const own = await app.gql(ADMIN_TOKEN, '{ auditEvents(first: 100) { nodes { tenantId action } } }');
  t.true(
    own.data.auditEvents.nodes.every((e: { tenantId: string | null }) => e.tenantId === null),
    "without a tenant: the appliance's own events only",
  );
  const ofA = await app.gql(
    ADMIN_TOKEN,
    'query($t: ID!) { auditEvents(filter: { tenantId: $t }, first: 100) { nodes { tenantId action } } }',
    { t: a.tenantId },
  );
  t.true(ofA.data.auditEvents.nodes.length > 0);
  t.true(ofA.data.auditEvents.nodes.every((e: { tenantId: string }) => e.tenantId === a.tenantId));
  // A's auditors see that the system admin read their log.
  const seen = await app.gql(
    a.tokens['AUDITOR']!,
    '{ auditEvents(filter: { action: "audit.queried" }, first: 100) { nodes { actorRole } } }',
  );
  t.true(seen.data.auditEvents.nodes.some((e: { actorRole: string }) => e.actorRole === 'SYSTEM_ADMIN'));
});
