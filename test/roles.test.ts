/**
 * The role matrix: every operation of the schema, called by every role, is allowed or
 * FORBIDDEN exactly as this table says. The table is the specification, written out
 * here rather than derived from the code's grants; a schema field missing from it fails
 * the test, so new operations must declare who may call them.
 */
import test from 'ava';
import { buildSchema } from 'graphql';
import { schemaTypeDefs } from '../core/graphql/schema.js';
import { ROLES, type Role } from '../core/auth/roles.js';
import { startTestAppliance, waitFor, ADMIN_TOKEN, type TestAppliance } from './support/appliance.js';

const APPROVAL = { steps: [{ id: 'gate', uses: 'core/approval@1' }] };

interface Case {
  /** Roles that may call it; every other role gets FORBIDDEN. */
  allowed: Role[];
  document: string;
  /** Fresh variables for one call (as the tenant's ADMIN or the system admin). */
  variables?: () => Promise<Record<string, unknown>>;
  /** What an allowed call answers when it is not plain success (authorization passed, the input is then refused). */
  allowedCode?: string;
}

const TENANT_READERS: Role[] = ['ADMIN', 'EDITOR', 'OPERATOR', 'VIEWER'];

let app: TestAppliance;
let tenantId: string;
let tokens: Record<string, string>;
let workflowId: string;
let counter = 0;

const adminToken = () => tokens['ADMIN']!;
const tokenOf = (role: Role) => (role === 'SYSTEM_ADMIN' ? ADMIN_TOKEN : tokens[role]!);

async function waitingRun(): Promise<string> {
  const started = await app.gql(adminToken(), 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', { w: workflowId });
  const id = started.data.startRun.id as string;
  await waitFor(
    async () => (await app.gql(adminToken(), 'query($r: ID!) { run(id: $r) { status } }', { r: id })).data.run.status === 'WAITING',
    'a waiting run',
  );
  return id;
}

async function webhookTrigger(): Promise<string> {
  const made = await app.gql(
    adminToken(),
    'mutation($w: ID!, $n: String!) { createWebhookTrigger(input: { workflowId: $w, name: $n }) { trigger { id } } }',
    { w: workflowId, n: `hook-${++counter}` },
  );
  return made.data.createWebhookTrigger.trigger.id as string;
}

async function schedule(): Promise<string> {
  const made = await app.gql(
    adminToken(),
    'mutation($w: ID!, $n: String!) { createSchedule(input: { workflowId: $w, name: $n, cron: "0 3 * * *", timeZone: "UTC", paused: true }) { id } }',
    { w: workflowId, n: `cron-${++counter}` },
  );
  return made.data.createSchedule.id as string;
}

const CASES: Record<string, Case> = {
  'Query.schedules': { allowed: TENANT_READERS, document: '{ schedules { id } }' },
  'Query.schedule': {
    allowed: TENANT_READERS,
    document: 'query($id: ID!) { schedule(id: $id) { id } }',
    variables: async () => ({ id: await schedule() }),
  },
  'Mutation.createSchedule': {
    allowed: ['ADMIN', 'EDITOR'],
    document:
      'mutation($w: ID!, $n: String!) { createSchedule(input: { workflowId: $w, name: $n, cron: "0 3 * * *", timeZone: "UTC", paused: true }) { id } }',
    variables: async () => ({ w: workflowId, n: `cron-${++counter}` }),
  },
  'Mutation.updateSchedule': {
    allowed: ['ADMIN', 'EDITOR'],
    document: 'mutation($id: ID!) { updateSchedule(input: { id: $id, cron: "0 4 * * *" }) { id } }',
    variables: async () => ({ id: await schedule() }),
  },
  'Mutation.pauseSchedule': {
    allowed: ['ADMIN', 'EDITOR', 'OPERATOR'],
    document: 'mutation($id: ID!) { pauseSchedule(id: $id) { id } }',
    variables: async () => ({ id: await schedule() }),
  },
  'Mutation.resumeSchedule': {
    allowed: ['ADMIN', 'EDITOR', 'OPERATOR'],
    document: 'mutation($id: ID!) { resumeSchedule(id: $id) { id } }',
    variables: async () => ({ id: await schedule() }),
  },
  'Mutation.deleteSchedule': {
    allowed: ['ADMIN', 'EDITOR'],
    document: 'mutation($id: ID!) { deleteSchedule(id: $id) { id } }',
    variables: async () => ({ id: await schedule() }),
  },
  'Query.webhookTriggers': { allowed: TENANT_READERS, document: '{ webhookTriggers { id } }' },
  'Query.webhookTrigger': {
    allowed: TENANT_READERS,
    document: 'query($id: ID!) { webhookTrigger(id: $id) { id } }',
    variables: async () => ({ id: await webhookTrigger() }),
  },
  'Mutation.createWebhookTrigger': {
    allowed: ['ADMIN', 'EDITOR'],
    document: 'mutation($w: ID!, $n: String!) { createWebhookTrigger(input: { workflowId: $w, name: $n }) { secret } }',
    variables: async () => ({ w: workflowId, n: `hook-${++counter}` }),
  },
  'Mutation.updateWebhookTrigger': {
    allowed: ['ADMIN', 'EDITOR'],
    document: 'mutation($id: ID!) { updateWebhookTrigger(input: { id: $id, enabled: false }) { id } }',
    variables: async () => ({ id: await webhookTrigger() }),
  },
  'Mutation.rotateWebhookTriggerSecret': {
    allowed: ['ADMIN', 'EDITOR'],
    document: 'mutation($id: ID!) { rotateWebhookTriggerSecret(input: { id: $id }) { secret } }',
    variables: async () => ({ id: await webhookTrigger() }),
  },
  'Mutation.deleteWebhookTrigger': {
    allowed: ['ADMIN', 'EDITOR'],
    document: 'mutation($id: ID!) { deleteWebhookTrigger(id: $id) { id } }',
    variables: async () => ({ id: await webhookTrigger() }),
  },
  'Query.viewer': { allowed: [...ROLES], document: '{ viewer { role } }' },
  'Query.llmUsage': { allowed: TENANT_READERS, document: '{ llmUsage { day } }' },
  'Query.credentials': { allowed: ['ADMIN', 'EDITOR', 'VIEWER'], document: '{ credentials { name } }' },
  'Query.plugins': { allowed: ['SYSTEM_ADMIN', ...TENANT_READERS], document: '{ plugins { name } }' },
  'Query.tenants': { allowed: ['SYSTEM_ADMIN'], document: '{ tenants { nodes { id } } }' },
  'Query.apiTokens': { allowed: ['SYSTEM_ADMIN', 'ADMIN'], document: '{ apiTokens { nodes { id } } }' },
  'Query.workflow': {
    allowed: TENANT_READERS,
    document: 'query($w: ID!) { workflow(id: $w) { id } }',
    variables: async () => ({ w: workflowId }),
  },
  'Query.workflows': { allowed: TENANT_READERS, document: '{ workflows { nodes { id } } }' },
  'Query.run': {
    allowed: TENANT_READERS,
    document: 'query($r: ID!) { run(id: $r) { id } }',
    variables: async () => ({ r: await waitingRun() }),
  },
  'Query.runs': { allowed: TENANT_READERS, document: '{ runs { nodes { id } } }' },
  'Query.runOverview': { allowed: TENANT_READERS, document: '{ runOverview { queued waitingApprovals } }' },
  'Query.pendingApprovals': { allowed: TENANT_READERS, document: '{ pendingApprovals { stepId } }' },
  // A package that is not one is answered (ok: false), not refused: only authorization can refuse.
  'Query.verifyPluginPackage': {
    allowed: ['SYSTEM_ADMIN'],
    document: '{ verifyPluginPackage(bundle: "bm90IGEgcGFja2FnZQ==") { ok refusal } }',
  },
  'Query.auditEvents': { allowed: ['SYSTEM_ADMIN', 'ADMIN', 'AUDITOR'], document: '{ auditEvents { nodes { seq } } }' },
  'Query.auditSigningCertificate': {
    allowed: ['SYSTEM_ADMIN', 'ADMIN', 'AUDITOR'],
    document: '{ auditSigningCertificate { fingerprint } }',
  },
  'Mutation.exportAuditReport': {
    allowed: ['SYSTEM_ADMIN', 'ADMIN', 'AUDITOR'],
    document: 'mutation { exportAuditReport(input: {}) { id sha256 verified } }',
  },
  'Mutation.createTenant': {
    allowed: ['SYSTEM_ADMIN'],
    document: 'mutation($n: String!) { createTenant(input: { name: $n }) { id } }',
    variables: async () => ({ n: `t-${++counter}` }),
  },
  'Mutation.setAuditRetention': {
    allowed: ['SYSTEM_ADMIN'],
    document: 'mutation($t: ID!) { setAuditRetention(input: { tenantId: $t, retentionDays: 3650 }) { id auditRetentionDays } }',
    variables: async () => ({ t: tenantId }),
  },
  'Mutation.setTenantQuota': {
    allowed: ['SYSTEM_ADMIN'],
    document: 'mutation($t: ID!) { setTenantQuota(input: { tenantId: $t, maxRunsPerDay: 100000 }) { id } }',
    variables: async () => ({ t: tenantId }),
  },
  'Mutation.createApiToken': {
    allowed: ['SYSTEM_ADMIN', 'ADMIN'],
    document: 'mutation($t: ID!) { createApiToken(input: { tenantId: $t, role: VIEWER, name: "matrix" }) { token } }',
    variables: async () => ({ t: tenantId }),
  },
  'Mutation.revokeApiToken': {
    allowed: ['SYSTEM_ADMIN', 'ADMIN'],
    document: 'mutation($id: ID!) { revokeApiToken(id: $id) { id } }',
    variables: async () => {
      const made = await app.gql(
        adminToken(),
        'mutation($t: ID!) { createApiToken(input: { tenantId: $t, role: VIEWER, name: "to revoke" }) { apiToken { id } } }',
        { t: tenantId },
      );
      return { id: made.data.createApiToken.apiToken.id };
    },
  },
  'Mutation.createWorkflow': {
    allowed: ['ADMIN', 'EDITOR'],
    document: 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }',
    variables: async () => ({ n: `wf-${++counter}`, d: APPROVAL }),
  },
  'Mutation.publishWorkflowVersion': {
    allowed: ['ADMIN', 'EDITOR'],
    document: 'mutation($w: ID!, $d: JSON!) { publishWorkflowVersion(input: { workflowId: $w, definition: $d }) { version } }',
    variables: async () => ({ w: workflowId, d: APPROVAL }),
  },
  'Mutation.startRun': {
    allowed: ['ADMIN', 'OPERATOR'],
    document: 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }',
    variables: async () => ({ w: workflowId }),
  },
  'Mutation.cancelRun': {
    allowed: ['ADMIN', 'OPERATOR'],
    document: 'mutation($r: ID!) { cancelRun(id: $r) { id } }',
    variables: async () => ({ r: await waitingRun() }),
  },
  'Mutation.retryRun': {
    allowed: ['ADMIN', 'OPERATOR'],
    document: 'mutation($r: ID!) { retryRun(id: $r) { id } }',
    variables: async () => {
      const r = await waitingRun();
      await app.gql(adminToken(), 'mutation($r: ID!) { cancelRun(id: $r) { id } }', { r });
      return { r };
    },
  },
  'Mutation.approveStep': {
    allowed: ['ADMIN', 'OPERATOR'],
    document: 'mutation($r: ID!) { approveStep(input: { runId: $r, stepId: "gate", approved: true }) { id } }',
    variables: async () => ({ r: await waitingRun() }),
  },
  'Mutation.setCredential': {
    allowed: ['ADMIN', 'EDITOR'],
    document:
      'mutation($n: String!) { setCredential(input: { name: $n, type: "bearer", secret: { token: "s3cret-value" }, allowedHosts: ["api.example.com"] }) { id } }',
    variables: async () => ({ n: `cred-${++counter}` }),
  },
  'Mutation.deleteCredential': {
    allowed: ['ADMIN', 'EDITOR'],
    document: 'mutation($n: String!) { deleteCredential(name: $n) { id } }',
    variables: async () => {
      const n = `cred-${++counter}`;
      await app.gql(
        adminToken(),
        'mutation($n: String!) { setCredential(input: { name: $n, type: "bearer", secret: { token: "s3cret-value" }, allowedHosts: ["api.example.com"] }) { id } }',
        { n },
      );
      return { n };
    },
  },
  'Query.integrationGuards': { allowed: TENANT_READERS, document: '{ integrationGuards { host } }' },
  'Mutation.setIntegrationGuard': {
    allowed: ['ADMIN'],
    document: 'mutation($h: String!) { setIntegrationGuard(input: { host: $h, ratePerSecond: 5 }) { host } }',
    variables: async () => ({ h: `api-${++counter}.example.com` }),
  },
  'Mutation.deleteIntegrationGuard': {
    allowed: ['ADMIN'],
    document: 'mutation($h: String!) { deleteIntegrationGuard(host: $h) { host } }',
    variables: async () => {
      const h = `api-${++counter}.example.com`;
      await app.gql(adminToken(), 'mutation($h: String!) { setIntegrationGuard(input: { host: $h }) { host } }', { h });
      return { h };
    },
  },
  // Authorization is checked before the package: a system admin's garbage package is refused as bad input.
  'Mutation.installPlugin': {
    allowed: ['SYSTEM_ADMIN'],
    document: 'mutation { installPlugin(input: { bundle: "bm90IGEgcGFja2FnZQ==" }) { id } }',
    allowedCode: 'BAD_USER_INPUT',
  },
  'Mutation.removePlugin': {
    allowed: ['SYSTEM_ADMIN'],
    document: 'mutation { removePlugin(input: { name: "no-such-plugin", version: "1.0.0" }) { id } }',
    allowedCode: 'NOT_FOUND',
  },
  'Mutation.setPluginPolicy': {
    allowed: ['SYSTEM_ADMIN'],
    document: 'mutation { setPluginPolicy(input: { name: "http", allowedHosts: ["*"] }) { allowedHosts } }',
  },
};

test.before(async () => {
  app = await startTestAppliance();
  const tenant = await app.tenant('matrix', ['ADMIN', 'EDITOR', 'OPERATOR', 'VIEWER', 'AUDITOR']);
  tenantId = tenant.id;
  tokens = tenant.tokens;
  const wf = await app.gql(adminToken(), 'mutation($d: JSON!) { createWorkflow(input: { name: "gate", definition: $d }) { id } }', {
    d: APPROVAL,
  });
  workflowId = wf.data.createWorkflow.id;
});

test.after.always(async () => {
  await app?.stop();
});

test('the matrix names every query and mutation of the schema', (t) => {
  const schema = buildSchema(schemaTypeDefs());
  const fields = [schema.getQueryType()!, schema.getMutationType()!].flatMap((root) =>
    Object.keys(root.getFields()).map((f) => `${root.name}.${f}`),
  );
  t.deepEqual(
    fields.filter((f) => !(f in CASES)),
    [],
    'operations without a row in the matrix',
  );
  t.deepEqual(
    Object.keys(CASES).filter((c) => !fields.includes(c)),
    [],
    'rows for operations that no longer exist',
  );
});

for (const [operation, spec] of Object.entries(CASES)) {
  test(`role matrix: ${operation}`, async (t) => {
    for (const role of ROLES) {
      const variables = spec.variables ? await spec.variables() : {};
      const response = await app.gql(tokenOf(role), spec.document, variables);
      const code = response.errors?.[0]?.extensions.code;
      if (spec.allowed.includes(role)) {
        if (spec.allowedCode) t.is(code, spec.allowedCode, `${role} passes authorization (${response.errors?.[0]?.message})`);
        else t.is(response.errors, undefined, `${role} may ${operation}`);
      } else {
        t.is(code, 'FORBIDDEN', `${role} may not ${operation} (${JSON.stringify(response.errors ?? response.data)})`);
        t.falsy(
          Object.values(response.data ?? {}).find((v) => v !== null),
          `${role}: no data`,
        );
      }
    }
  });
}

test("a subscription to run events is for the tenant's readers only", async (t) => {
  const runId = await waitingRun();
  for (const role of ROLES) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 5_000);
    const response = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${tokenOf(role)}` },
      body: JSON.stringify({ query: 'subscription($r: ID!) { runEvents(runId: $r, afterSeq: 1) { seq } }', variables: { r: runId } }),
      signal: abort.signal,
    });
    const reader = response.body!.getReader();
    let text = '';
    while (!/data: /.test(text)) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    clearTimeout(timer);
    abort.abort();
    t.regex(text, /data: /, `${role}: an event (${text})`);
    const event = JSON.parse(/data: (\{.*\})/.exec(text)![1]!);
    if (TENANT_READERS.includes(role)) t.is(typeof event.data?.runEvents?.seq, 'number', `${role} receives the run's events`);
    else t.is(event.errors?.[0]?.extensions?.code, 'FORBIDDEN', `${role} is refused`);
  }
});

test('tokens are listed by prefix only and record when they were last used', async (t) => {
  const made = await app.gql(
    adminToken(),
    'mutation($t: ID!) { createApiToken(input: { tenantId: $t, role: VIEWER, name: "used" }) { token apiToken { id prefix lastUsedAt } } }',
    { t: tenantId },
  );
  const { token, apiToken } = made.data.createApiToken;
  t.is(apiToken.lastUsedAt, null);
  t.true(token.startsWith(`${apiToken.prefix}_`));
  t.true(token.length > apiToken.prefix.length + 20, 'the prefix is a small part of the token');
  await app.gql(token, '{ viewer { role } }');
  const listed = await app.gql(adminToken(), '{ apiTokens(first: 100) { nodes { id prefix lastUsedAt } } }');
  const row = listed.data.apiTokens.nodes.find((n: { id: string }) => n.id === apiToken.id);
  t.truthy(row.lastUsedAt, 'last use recorded');
  t.false(JSON.stringify(listed).includes(token), 'the token itself is never listed');
});
