import { scopeOf, type Database } from '../db/database.js';
import { isId } from '../ids.js';
import { authorize, type RequestContext } from '../auth/roles.js';
import { badInput, notFound } from '../errors.js';
import { recordAudit } from './audit.js';

export interface AuditEvent {
  /** Position in the tenant's hash chain (the appliance's, for its own events). */
  seq: number;
  at: Date;
  tenantId: string | null;
  actorTokenId: string | null;
  actorName: string;
  actorRole: string;
  requestId: string | null;
  sourceAddress: string | null;
  userAgent: string | null;
  hash: string;
  action: string;
  targetType: string;
  targetId: string | null;
  outcome: string;
  reason: string | null;
  details: Record<string, unknown>;
}

export interface AuditPage {
  nodes: AuditEvent[];
  hasNextPage: boolean;
}

/** Reading the audit log is itself audited, in the same transaction as the read. */
export async function queryAuditEvents(
  db: Database,
  ctx: RequestContext,
  filter: { tenantId?: string | null; action?: string | null; from?: Date | string | null; to?: Date | string | null },
  limit: number,
  afterSeq: number,
): Promise<AuditPage> {
  authorize(ctx.actor, 'audit:read');
  // A tenant's auditors read their tenant's log; a system admin reads the appliance's own
  // events, or one tenant's log by naming it (and that tenant's log records the reading).
  let tenantId = ctx.actor.tenantId;
  if (ctx.actor.role === 'SYSTEM_ADMIN' && filter.tenantId != null) {
    if (!isId(filter.tenantId)) throw badInput('filter.tenantId', 'not a valid ID');
    tenantId = filter.tenantId;
  } else if (filter.tenantId != null && filter.tenantId !== tenantId) {
    throw notFound('tenant', filter.tenantId);
  }
  const from = filter.from ? new Date(filter.from) : null;
  const to = filter.to ? new Date(filter.to) : null;
  if (from && Number.isNaN(from.getTime())) throw badInput('filter.from', 'not a valid date-time');
  if (to && Number.isNaN(to.getTime())) throw badInput('filter.to', 'not a valid date-time');
  return db.tx(scopeOf(tenantId), async (q) => {
    const { rows } = await q.query<AuditEvent>(
      `select chain_seq as seq, at, tenant_id as "tenantId", actor_token_id as "actorTokenId", actor_name as "actorName", actor_role as "actorRole",
              action, target_type as "targetType", target_id as "targetId", outcome, reason, request_id as "requestId",
              source_address as "sourceAddress", user_agent as "userAgent", encode(hash, 'hex') as hash, details
         from audit_events
        where chain_key = coalesce($1::text, 'appliance') and ($2::text is null or action = $2)
          and ($3::timestamptz is null or at >= $3) and ($4::timestamptz is null or at < $4) and chain_seq > $5
        order by chain_seq limit $6`,
      [tenantId, filter.action ?? null, from, to, afterSeq, limit + 1],
    );
    await recordAudit(q, ctx, {
      action: 'audit.queried',
      targetType: 'audit_log',
      tenantId,
      details: { filter, returned: Math.min(rows.length, limit) },
    });
    return { nodes: rows.slice(0, limit), hasNextPage: rows.length > limit };
  });
}
