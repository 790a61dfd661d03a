import type { Database, Queryable } from '../db/database.js';
import { isUniqueViolation } from '../db/database.js';
import { AppError, badInput, notFound } from '../errors.js';
import { isId, newId } from '../ids.js';
import { recordAudit } from '../audit/audit.js';
import { tenantOf, type RequestContext } from '../auth/roles.js';
import { quotaExceeded, readTenantQuotas } from '../quotas/quotas.js';
import type { TenantQuotas } from '../tenants/tenants.js';
import { parsePage, toConnection, type Connection } from '../pagination.js';
import type { ActionCatalog, ActionDirectory, DefinitionLimits, WorkflowDefinition } from './definition.js';
import { validateDefinition } from './validate.js';

export interface Workflow {
  id: string;
  tenantId: string;
  name: string;
  latestVersion: number;
  createdAt: Date;
}

export interface WorkflowVersion {
  id: string;
  tenantId: string;
  workflowId: string;
  version: number;
  definition: WorkflowDefinition;
  /** `uses` → the plugin version it runs on, fixed at publication. */
  resolvedActions: Record<string, string>;
  createdAt: Date;
}

const WF = `id, tenant_id as "tenantId", name, latest_version as "latestVersion", created_at as "createdAt"`;
const WV = `id, tenant_id as "tenantId", workflow_id as "workflowId", version, definition, resolved_actions as "resolvedActions", created_at as "createdAt"`;

export class WorkflowService {
  // Versions are immutable, so a process-wide cache can never serve stale definitions.
  private readonly versionCache = new Map<string, WorkflowVersion>();

  constructor(
    private readonly db: Database,
    private readonly limits: DefinitionLimits,
    private readonly actions: ActionDirectory,
  ) {}

  async get(ctx: RequestContext, id: string): Promise<Workflow> {
    const tenantId = tenantOf(ctx.actor, 'workflow:read');
    const row = isId(id)
      ? (await this.db.query<Workflow>({ tenantId }, `select ${WF} from workflows where id = $1 and tenant_id = $2`, [id, tenantId]))
          .rows[0]
      : undefined;
    if (!row) throw notFound('workflow', id);
    return row;
  }

  async list(ctx: RequestContext, first?: number | null, after?: string | null): Promise<Connection<Workflow>> {
    const tenantId = tenantOf(ctx.actor, 'workflow:read');
    const page = parsePage(first, after);
    const { rows } = await this.db.query<Workflow>(
      { tenantId },
      `select ${WF} from workflows where tenant_id = $1 and ($2::uuid is null or id < $2) order by id desc limit $3`,
      [tenantId, page.afterId, page.limit + 1],
    );
    return toConnection(rows, page);
  }

  async versions(ctx: RequestContext, workflowId: string): Promise<WorkflowVersion[]> {
    const tenantId = tenantOf(ctx.actor, 'workflow:read');
    const { rows } = await this.db.query<WorkflowVersion>(
      { tenantId },
      `select ${WV} from workflow_versions where workflow_id = $1 and tenant_id = $2 order by version desc`,
      [workflowId, tenantId],
    );
    return rows;
  }

  /** A version by number, or the latest when `version` is null. */
  async version(ctx: RequestContext, workflowId: string, version: number | null): Promise<WorkflowVersion> {
    const tenantId = tenantOf(ctx.actor, 'workflow:read');
    return this.db.tx({ tenantId }, (q) => this.findVersion(q, tenantId, workflowId, version));
  }

  async findVersion(q: Queryable, tenantId: string, workflowId: string, version: number | null): Promise<WorkflowVersion> {
    if (!isId(workflowId)) throw notFound('workflow', workflowId);
    // Named: startRun runs this on every start, so each connection keeps its plan.
    const { rows } = await q.query<WorkflowVersion>(
      version === null
        ? {
            name: 'sy_latest_version',
            text: `select v.id, v.tenant_id as "tenantId", v.workflow_id as "workflowId", v.version, v.definition, v.resolved_actions as "resolvedActions", v.created_at as "createdAt"
                   from workflow_versions v join workflows w on w.id = v.workflow_id and w.latest_version = v.version
                  where v.workflow_id = $1 and v.tenant_id = $2`,
            values: [workflowId, tenantId],
          }
        : {
            name: 'sy_numbered_version',
            text: `select ${WV} from workflow_versions where workflow_id = $1 and tenant_id = $2 and version = $3`,
            values: [workflowId, tenantId, version],
          },
    );
    const row = rows[0];
    if (!row) {
      if (version === null) throw notFound('workflow', workflowId);
      const exists = await q.query('select 1 from workflows where id = $1 and tenant_id = $2', [workflowId, tenantId]);
      if (exists.rowCount === 0) throw notFound('workflow', workflowId);
      throw new AppError('NOT_FOUND', `workflow ${workflowId} has no version ${version}`, { path: 'input.version' });
    }
    this.versionCache.set(row.id, row);
    return row;
  }

  /** The definition a run executes, by version id; cached because versions never change. */
  async versionById(q: Queryable, versionId: string): Promise<WorkflowVersion> {
    const cached = this.versionCache.get(versionId);
    if (cached) return cached;
    const { rows } = await q.query<WorkflowVersion>(`select ${WV} from workflow_versions where id = $1`, [versionId]);
    const row = rows[0];
    if (!row) throw new Error(`workflow version ${versionId} is missing`);
    if (this.versionCache.size > 10_000) this.versionCache.clear();
    this.versionCache.set(versionId, row);
    return row;
  }

  async create(ctx: RequestContext, input: { name: string; definition: unknown }): Promise<Workflow> {
    const tenantId = tenantOf(ctx.actor, 'workflow:write');
    const name = typeof input.name === 'string' ? input.name.trim() : '';
    if (name.length < 1 || name.length > 200) throw badInput('input.name', 'must be 1 to 200 characters');
    try {
      return await this.db.tx({ tenantId }, async (q) => {
        const catalog = await this.actions.catalog(q);
        const definition = validateDefinition(input.definition, this.limits, catalog);
        enforceDefinitionQuotas(definition, await readTenantQuotas(q, tenantId));
        const id = newId();
        const { rows } = await q.query<Workflow>(
          `insert into workflows (id, tenant_id, name, created_by) values ($1, $2, $3, $4) returning ${WF}`,
          [id, tenantId, name, ctx.actor.tokenId],
        );
        const versionId = newId();
        await q.query(
          'insert into workflow_versions (id, tenant_id, workflow_id, version, definition, resolved_actions, created_by) values ($1, $2, $3, 1, $4, $5, $6)',
          [versionId, tenantId, id, JSON.stringify(definition), JSON.stringify(resolveActions(definition, catalog)), ctx.actor.tokenId],
        );
        await recordAudit(q, ctx, {
          action: 'workflow.created',
          targetType: 'workflow',
          targetId: id,
          details: { name, versionId, steps: definition.steps.length },
        });
        return rows[0]!;
      });
    } catch (error) {
      if (isUniqueViolation(error))
        throw new AppError('CONFLICT', `a workflow named ${JSON.stringify(name)} already exists`, { path: 'input.name' });
      throw error;
    }
  }

  async publish(ctx: RequestContext, input: { workflowId: string; definition: unknown }): Promise<WorkflowVersion> {
    const tenantId = tenantOf(ctx.actor, 'workflow:write');
    if (!isId(input.workflowId)) throw notFound('workflow', input.workflowId);
    return this.db.tx({ tenantId }, async (q) => {
      const catalog = await this.actions.catalog(q);
      const definition = validateDefinition(input.definition, this.limits, catalog);
      enforceDefinitionQuotas(definition, await readTenantQuotas(q, tenantId));
      // Row lock: two concurrent publishes get consecutive version numbers.
      const locked = await q.query<{ latest_version: number }>(
        'select latest_version from workflows where id = $1 and tenant_id = $2 for update',
        [input.workflowId, tenantId],
      );
      const current = locked.rows[0];
      if (!current) throw notFound('workflow', input.workflowId);
      const version = current.latest_version + 1;
      const { rows } = await q.query<WorkflowVersion>(
        `insert into workflow_versions (id, tenant_id, workflow_id, version, definition, resolved_actions, created_by) values ($1, $2, $3, $4, $5, $6, $7) returning ${WV}`,
        [
          newId(),
          tenantId,
          input.workflowId,
          version,
          JSON.stringify(definition),
          JSON.stringify(resolveActions(definition, catalog)),
          ctx.actor.tokenId,
        ],
      );
      await q.query('update workflows set latest_version = $2 where id = $1', [input.workflowId, version]);
      await recordAudit(q, ctx, {
        action: 'workflow.version_published',
        targetType: 'workflow',
        targetId: input.workflowId,
        details: { version, versionId: rows[0]!.id },
      });
      return rows[0]!;
    });
  }
}

/** A tenant's workflow may not have more steps, or ask for a longer run, than its quotas allow. */
function enforceDefinitionQuotas(definition: WorkflowDefinition, quotas: TenantQuotas): void {
  if (quotas.maxStepsPerWorkflow !== undefined && definition.steps.length > quotas.maxStepsPerWorkflow) {
    throw quotaExceeded('maxStepsPerWorkflow', quotas.maxStepsPerWorkflow, definition.steps.length, 'steps in this definition');
  }
  const seconds = definition.timeoutMs === undefined ? undefined : Math.ceil(definition.timeoutMs / 1000);
  if (quotas.maxRunDurationSeconds !== undefined && seconds !== undefined && seconds > quotas.maxRunDurationSeconds) {
    throw quotaExceeded('maxRunDurationSeconds', quotas.maxRunDurationSeconds, seconds, 'timeoutMs of this definition, in seconds');
  }
}

/** The exact plugin version of every plugin action the definition uses, as installed now. */
function resolveActions(definition: WorkflowDefinition, catalog: ActionCatalog): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const uses of definition.steps.flatMap((s) => (s.compensate ? [s.uses, s.compensate.uses] : [s.uses]))) {
    const id = catalog.resolve(uses);
    if (id) resolved[uses] = id;
  }
  return resolved;
}
