import { Kind, type GraphQLScalarTypeConfig, type ValueNode } from 'graphql';
import { can, permissionsOf } from '../auth/roles.js';
import type { Workflow, WorkflowVersion } from '../workflows/workflows.js';
import { listLlmUsage } from '../llm/llmUsage.js';
import { pendingApprovals, runOverview } from '../runs/overview.js';
import type { InstalledPlugin } from '../plugins/types.js';
import type { Run } from '../runs/runs.js';
import { compensationIdempotencyKey, stepIdempotencyKey, type StepState, type RunEvent } from '../runs/model.js';
import { describeFailure } from '../runs/stepFailures.js';
import { queryAuditEvents } from '../audit/auditQueries.js';
import { parseSeqPage, toSeqConnection } from '../pagination.js';
import { AppError, badInput } from '../errors.js';
import { API_MODULES } from './apiModules.js';
import type { GraphQLContext } from './context.js';
import type { MutationResolvers, QueryResolvers, Resolvers } from './generated/resolverTypes.js';
import { renderTemplate } from '../workflows/templates.js';
import type { TemplateScope } from '../workflows/definition.js';

/** Everything a resolver may use; built per request by the transport. */

function parseLiteralJson(ast: ValueNode, variables?: Record<string, unknown> | null): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((v) => parseLiteralJson(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, parseLiteralJson(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
    default:
      throw new AppError('BAD_USER_INPUT', 'unsupported JSON literal');
  }
}

/**
 * A scalar's behaviour only: its name and description come from the SDL
 * (schema/schema.graphql), the one source of the published schema. (A GraphQLScalarType
 * here would replace the SDL's description with its own.)
 */
type ScalarBehaviour = Pick<GraphQLScalarTypeConfig<unknown, unknown>, 'serialize' | 'parseValue' | 'parseLiteral'>;

const JSONScalar: ScalarBehaviour = {
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: parseLiteralJson,
};

const DateTimeScalar: ScalarBehaviour = {
  serialize: (value) => (value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString()),
  parseValue: (value) => {
    const date = new Date(String(value));
    if (typeof value !== 'string' || Number.isNaN(date.getTime()))
      throw new AppError('BAD_USER_INPUT', `not a valid DateTime: ${JSON.stringify(value)}`);
    return date;
  },
  parseLiteral: (ast) => {
    const date = ast.kind === Kind.STRING ? new Date(ast.value) : new Date(NaN);
    if (Number.isNaN(date.getTime())) throw new AppError('BAD_USER_INPUT', 'not a valid DateTime');
    return date;
  },
};

/** Nullable single-object queries answer null for unknown and foreign ids alike. */
async function orNull<T>(load: () => Promise<T>): Promise<T | null> {
  try {
    return await load();
  } catch (error) {
    if (error instanceof AppError && error.code === 'NOT_FOUND') return null;
    throw error;
  }
}

const query: QueryResolvers = {
  viewer: async (_p, _a, { request, services }) => ({
    role: request.actor.role,
    permissions: [...permissionsOf(request.actor.role)],
    tenant: request.actor.tenantId ? await services.tenants.get(request, request.actor.tenantId) : null,
    token: await services.tokens.own(request),
  }),
  tenants: (_p, a, { request, services }) => services.tenants.list(request, a.first, a.after),
  apiTokens: (_p, a, { request, services }) => services.tokens.list(request, a.tenantId ?? null, a.first, a.after),
  // Another tenant's id is NOT_FOUND (an error, with the field null), as for every operation.
  workflow: (_p, a, { request, services }) => services.workflows.get(request, a.id),
  workflows: (_p, a, { request, services }) => services.workflows.list(request, a.first, a.after),
  run: (_p, a, { request, services }) => services.runs.getRun(request, a.id),
  runOverview: (_p, _a, { request, services }) => runOverview(services.db, request),
  pendingApprovals: async (_p, a, { request, services }) => {
    const first = a.first ?? 100;
    if (!Number.isInteger(first) || first < 1 || first > 500) throw badInput('first', 'must be between 1 and 500');
    const approvals = await pendingApprovals(services.db, request, first);
    return Promise.all(approvals.map(async (approval) => ({ ...approval, run: await services.runs.getRun(request, approval.runId) })));
  },
  runs: (_p, a, { request, services }) => services.runs.listRuns(request, a.filter, a.first, a.after),
  plugins: (_p, _a, { request, services }) => services.plugins.list(request),
  verifyPluginPackage: async (_p, a, { request, services }) => {
    const check = await services.plugins.verifyPackage(request, a.bundle);
    const pkg = check.package;
    const m = pkg?.manifest;
    return {
      ok: check.ok,
      refusal: check.refusal,
      reason: check.reason,
      installed: check.installed,
      ...(pkg && m
        ? {
            name: m.name,
            version: m.version,
            publisher: m.publisher,
            trust: pkg.signed ? 'SIGNED' : 'UNSIGNED',
            publisherFingerprint: pkg.publisherFingerprint,
            certificateNotAfter: pkg.certificateNotAfter,
            minApplianceVersion: m.minApplianceVersion,
            packageSha256: pkg.packageSha256,
            scriptSha256: pkg.scriptSha256,
            permissions: m.permissions,
            resources: m.resources,
            actions: m.actions.map((action) => ({ ...action, uses: `${m.name}/${action.name}@${m.version.split('.')[0]}` })),
          }
        : {}),
    };
  },
  credentials: (_p, _a, { request, services }) => services.credentials.list(request),
  integrationGuards: (_p, _a, { request, services }) => services.integrationGuards.list(request),
  llmUsage: (_p, a, { request, services }) => listLlmUsage(services.db, request, a.from ?? null, a.to ?? null),
  auditSigningCertificate: (_p, _a, { request, services }) => services.auditExports.signingCertificate(request),
  auditEvents: async (_p, a, { request, services }) => {
    const page = parseSeqPage(a.first, a.after);
    const result = await queryAuditEvents(services.db, request, a.filter ?? {}, page.limit, page.afterSeq);
    return toSeqConnection(result.nodes, result.hasNextPage, page.afterSeq);
  },
};

const mutation: MutationResolvers = {
  createTenant: (_p, a, { request, services }) => services.tenants.create(request, a.input),
  createApiToken: (_p, a, { request, services }) => services.tokens.create(request, a.input),
  revokeApiToken: (_p, a, { request, services }) => services.tokens.revoke(request, a.id),
  setTenantQuota: (_p, a, { request, services }) => services.tenants.setQuota(request, a.input),
  setAuditRetention: (_p, a, { request, services }) => services.tenants.setAuditRetention(request, a.input),
  createWorkflow: (_p, a, { request, services }) => services.workflows.create(request, a.input),
  publishWorkflowVersion: (_p, a, { request, services }) => services.workflows.publish(request, a.input),
  startRun: (_p, a, { request, services }) => services.runs.startRun(request, a.input),
  cancelRun: (_p, a, { request, services }) => services.runs.cancelRun(request, a.id),
  retryRun: (_p, a, { request, services }) => services.runs.retryRun(request, a.id),
  approveStep: (_p, a, { request, services }) => services.runs.approveStep(request, a.input),
  setCredential: (_p, a, { request, services }) => services.credentials.set(request, a.input),
  deleteCredential: (_p, a, { request, services }) => services.credentials.delete(request, a.name),
  setIntegrationGuard: (_p, a, { request, services }) => services.integrationGuards.set(request, a.input),
  deleteIntegrationGuard: (_p, a, { request, services }) => services.integrationGuards.delete(request, a.host),
  exportAuditReport: (_p, a, { request, services }) => services.auditExports.export(request, a.input),
  installPlugin: (_p, a, { request, services }) => services.plugins.install(request, a.input.bundle),
  removePlugin: (_p, a, { request, services }) => services.plugins.remove(request, a.input.name, a.input.version, a.input.force === true),
  setPluginPolicy: (_p, a, { request, services }) => {
    const { name, ...policy } = a.input as {
      name: string;
      allowedHosts?: string[] | null;
      allowedPrivate?: string[] | null;
      rawSecretAccessApproved?: boolean | null;
    };
    return services.plugins.setPolicy(request, name, {
      ...(policy.allowedHosts != null ? { allowedHosts: policy.allowedHosts } : {}),
      ...(policy.allowedPrivate != null ? { allowedPrivate: policy.allowedPrivate } : {}),
      ...(policy.rawSecretAccessApproved != null ? { rawSecretAccessApproved: policy.rawSecretAccessApproved } : {}),
    });
  },
};

const baseResolvers: Resolvers = {
  Query: query,
  Mutation: mutation,
  Subscription: {
    runEvents: {
      subscribe: async (_p, a, { request, services, signal }) => {
        const run = await services.runs.getRun(request, a.runId);
        return services.runEvents.subscribe(request, run, a.afterSeq ?? 0, signal);
      },
      resolve: (event: RunEvent) => event,
    },
  },
  Tenant: {
    quota: (t) => t.quotas,
  },
  Workflow: {
    latestVersion: (w: Workflow, _a, { request, services }) => services.workflows.version(request, w.id, null),
    versions: (w: Workflow, _a, { request, services }) => services.workflows.versions(request, w.id),
    version: (w: Workflow, a, { request, services }) => orNull(() => services.workflows.version(request, w.id, a.version)),
  },
  WorkflowVersion: {
    workflow: (v: WorkflowVersion, _a, { request, services }) => services.workflows.get(request, v.workflowId),
  },
  Run: {
    workflowVersion: (r: Run, _a, { services }) =>
      services.db.tx({ tenantId: r.tenantId }, (q) => services.workflows.versionById(q, r.workflowVersionId)),
    steps: (r: Run, _a, { request, services }) => services.runs.steps(request, r.id),
    events: async (r: Run, a, { request, services }) => {
      const page = parseSeqPage(a.first, a.after);
      const rows = await services.runs.events(request, r.id, page.afterSeq, page.limit + 1);
      return toSeqConnection(rows.slice(0, page.limit), rows.length > page.limit, page.afterSeq);
    },
    origin: (r: Run) => {
      const o = r.origin;
      if (o?.kind === 'WEBHOOK') return { kind: o.kind, webhookTriggerId: o.triggerId, deliveryId: o.deliveryId };
      if (o?.kind === 'SCHEDULE') return { kind: o.kind, scheduleId: o.scheduleId, slot: o.slot };
      return { kind: 'API', tokenId: r.createdBy };
    },
  },
  Plugin: {
    actions: (p: InstalledPlugin) => p.manifest.actions.map((action) => ({ ...action, uses: `${p.name}/${action.name}@${p.major}` })),
    permissions: (p: InstalledPlugin) => p.manifest.permissions,
    resources: (p: InstalledPlugin) => p.manifest.resources,
    minApplianceVersion: (p: InstalledPlugin) => p.manifest.minApplianceVersion,
    policy: (p: InstalledPlugin, _a, { request, services }) =>
      can(request.actor, 'plugin:manage') ? services.plugins.pluginPolicy(p.name) : null,
  },
  // The stored retryable is what the engine acted on (a plugin's own say included); a run's error stores none.
  StepFailure: {
    retryable: (f) => f.retryable ?? describeFailure(f.code).retryable,
    source: (f) => describeFailure(f.code).source,
    meaning: (f) => describeFailure(f.code).meaning,
  },
  StepExecution: {
    idempotencyKey: (s: StepState & { runId: string }) => stepIdempotencyKey(s.runId, s.stepId),
    input: (s: StepState & { runId: string }, _a, context) => renderedStepInput(s, context),
    compensation: (s: StepState & { runId: string }) =>
      s.compensation ? { ...s.compensation, idempotencyKey: compensationIdempotencyKey(s.runId, s.stepId) } : null,
  },
};

/** The scalars' behaviour, the base resolvers, and every API module's merged in, type by type. */
export const resolvers: Record<string, unknown> = { JSON: JSONScalar, DateTime: DateTimeScalar, ...baseResolvers };
for (const module of API_MODULES) {
  for (const [type, fields] of Object.entries(module.resolvers)) {
    resolvers[type] = { ...(resolvers[type] as object | undefined), ...fields };
  }
}

/** What rendering a run's step inputs needs, loaded once per request and run. */
interface RunTemplateData {
  runId: string;
  input: unknown;
  definition: WorkflowVersion['definition'];
  steps: TemplateScope['steps'];
}
const runTemplateData = new WeakMap<GraphQLContext, Map<string, Promise<RunTemplateData>>>();

/**
 * A step's `with` rendered as the engine rendered it when its latest attempt started (see
 * claimStep in core/engine/stepTasks.ts). Templates may read only the run's input and the
 * outputs of upstream steps (validation refuses anything else), and those are settled
 * before the step starts and stored, so rendering them again from the stored run gives the
 * same value. Read with the caller's tenant scope, like the step itself.
 */
async function renderedStepInput(s: StepState & { runId: string }, context: GraphQLContext): Promise<unknown> {
  if (s.attempts < 1) return null;
  const { request, services } = context;
  let byRun = runTemplateData.get(context);
  if (!byRun) runTemplateData.set(context, (byRun = new Map()));
  let loading = byRun.get(s.runId);
  if (!loading) {
    loading = (async () => {
      const run = await services.runs.getRun(request, s.runId);
      const version = await services.db.tx({ tenantId: run.tenantId }, (q) => services.workflows.versionById(q, run.workflowVersionId));
      const steps = await services.runs.steps(request, s.runId);
      return {
        runId: run.id,
        input: run.input,
        definition: version.definition,
        steps: Object.fromEntries(steps.map((step) => [step.stepId, { output: step.output, status: step.status, error: step.error }])),
      };
    })();
    byRun.set(s.runId, loading);
  }
  const data = await loading;
  const def = data.definition.steps.find((step) => step.id === s.stepId);
  if (!def) return null;
  try {
    return renderTemplate(def.with ?? {}, { input: data.input, steps: data.steps, run: { id: data.runId, attempt: s.attempts } });
  } catch {
    // The attempt failed with TEMPLATE_ERROR: there was no input.
    return null;
  }
}
