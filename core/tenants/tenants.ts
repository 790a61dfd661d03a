import type { Database } from '../db/database.js';
import { badInput, notFound, AppError } from '../errors.js';
import { isUniqueViolation } from '../db/database.js';
import { isId, newId } from '../ids.js';
import { recordAudit } from '../audit/audit.js';
import { authorize, type RequestContext } from '../auth/roles.js';
import { parsePage, toConnection, type Connection } from '../pagination.js';

/** Per-tenant limits set by a system admin; an absent key means the appliance default. */
export interface TenantQuotas {
  maxConcurrentRuns?: number;
  maxRunsPerDay?: number;
  maxStepsPerWorkflow?: number;
  maxRunDurationSeconds?: number;
  maxInputBytes?: number;
  sandboxCpuMsPerDay?: number;
}

export const QUOTA_NAMES: readonly (keyof TenantQuotas)[] = [
  'maxConcurrentRuns',
  'maxRunsPerDay',
  'maxStepsPerWorkflow',
  'maxRunDurationSeconds',
  'maxInputBytes',
  'sandboxCpuMsPerDay',
];

export interface Tenant {
  id: string;
  name: string;
  quotas: TenantQuotas;
  /** Audit events older than this many days are removed by the retention job. */
  auditRetentionDays: number;
  /** While set, the retention job removes nothing of this tenant's audit log. */
  auditLegalHold: boolean;
  createdAt: Date;
}

const COLUMNS = `id, name, quotas, audit_retention_days as "auditRetentionDays", audit_legal_hold as "auditLegalHold", created_at as "createdAt"`;

export class TenantService {
  constructor(private readonly db: Database) {}

  /** A tenant visible to the caller: any for a system admin, else only its own. */
  async get(ctx: RequestContext, id: string): Promise<Tenant> {
    if (!isId(id) || (ctx.actor.role !== 'SYSTEM_ADMIN' && ctx.actor.tenantId !== id)) throw notFound('tenant', id);
    const row = (await this.db.query<Tenant>('system', `select ${COLUMNS} from tenants where id = $1`, [id])).rows[0];
    if (!row) throw notFound('tenant', id);
    return row;
  }

  async list(ctx: RequestContext, first?: number | null, after?: string | null): Promise<Connection<Tenant>> {
    authorize(ctx.actor, 'tenant:manage');
    const page = parsePage(first, after);
    const { rows } = await this.db.query<Tenant>(
      'system',
      `select ${COLUMNS} from tenants where ($1::uuid is null or id > $1) order by id limit $2`,
      [page.afterId, page.limit + 1],
    );
    return toConnection(rows, page);
  }

  async create(ctx: RequestContext, input: { name: string }): Promise<Tenant> {
    authorize(ctx.actor, 'tenant:manage');
    const name = typeof input.name === 'string' ? input.name.trim() : '';
    if (name.length < 1 || name.length > 200) throw badInput('input.name', 'must be 1 to 200 characters');
    try {
      const id = newId();
      // In the new tenant's context: its audit record is its own.
      return await this.db.tx({ tenantId: id }, async (q) => {
        const { rows } = await q.query<Tenant>(`insert into tenants (id, name) values ($1, $2) returning ${COLUMNS}`, [id, name]);
        await recordAudit(q, ctx, { action: 'tenant.created', targetType: 'tenant', targetId: id, tenantId: id, details: { name } });
        return rows[0]!;
      });
    } catch (error) {
      if (isUniqueViolation(error))
        throw new AppError('CONFLICT', `a tenant named ${JSON.stringify(name)} already exists`, { path: 'input.name' });
      throw error;
    }
  }

  async setQuota(ctx: RequestContext, input: { tenantId: string } & { [K in keyof TenantQuotas]?: number | null }): Promise<Tenant> {
    authorize(ctx.actor, 'tenant:manage');
    const tenant = await this.get(ctx, input.tenantId);
    const changes: TenantQuotas = {};
    for (const key of QUOTA_NAMES) {
      const value = input[key];
      if (value === undefined || value === null) continue;
      if (!Number.isInteger(value) || value < 0 || value > 2_000_000_000)
        throw badInput(`input.${key}`, 'must be a whole number between 0 and 2000000000');
      changes[key] = value;
    }
    return this.db.tx({ tenantId: tenant.id }, async (q) => {
      const { rows } = await q.query<Tenant>(`update tenants set quotas = quotas || $2::jsonb where id = $1 returning ${COLUMNS}`, [
        tenant.id,
        JSON.stringify(changes),
      ]);
      await recordAudit(q, ctx, {
        action: 'tenant.quota_changed',
        targetType: 'tenant',
        targetId: tenant.id,
        tenantId: tenant.id,
        details: { before: tenant.quotas, changes },
      });
      return rows[0]!;
    });
  }

  /** A system admin sets a tenant's audit retention and legal hold; audited in the tenant's chain with the values before. */
  async setAuditRetention(
    ctx: RequestContext,
    input: { tenantId: string; retentionDays?: number | null; legalHold?: boolean | null },
  ): Promise<Tenant> {
    authorize(ctx.actor, 'tenant:manage');
    const tenant = await this.get(ctx, input.tenantId);
    const days = input.retentionDays ?? tenant.auditRetentionDays;
    if (!Number.isInteger(days) || days < 1 || days > 36_500)
      throw badInput('input.retentionDays', 'must be a whole number of days from 1 to 36500');
    if (input.legalHold != null && typeof input.legalHold !== 'boolean') throw badInput('input.legalHold', 'must be true or false');
    const hold = input.legalHold ?? tenant.auditLegalHold;
    return this.db.tx({ tenantId: tenant.id }, async (q) => {
      const { rows } = await q.query<Tenant>(
        `update tenants set audit_retention_days = $2, audit_legal_hold = $3 where id = $1 returning ${COLUMNS}`,
        [tenant.id, days, hold],
      );
      await recordAudit(q, ctx, {
        action: 'tenant.audit_retention_changed',
        targetType: 'tenant',
        targetId: tenant.id,
        tenantId: tenant.id,
        details: {
          before: { retentionDays: tenant.auditRetentionDays, legalHold: tenant.auditLegalHold },
          after: { retentionDays: days, legalHold: hold },
        },
      });
      return rows[0]!;
    });
  }
}
