import type { Queryable } from '../db/database.js';
import type { RequestContext } from '../auth/roles.js';
import { newId } from '../ids.js';
import { contentDigest, type AuditContent } from './chain.js';

export type AuditOutcome = 'SUCCESS' | 'FAILURE' | 'DENIED';

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId?: string | null;
  outcome?: AuditOutcome;
  reason?: string;
  /** Never a secret: callers pass ids, names and counts only. */
  details?: Record<string, unknown>;
  /** Tenant the event belongs to; defaults to the actor's. */
  tenantId?: string | null;
  /** The request's origin when there is no actor (a refused sign-in). */
  client?: { requestId: string; sourceAddress?: string; userAgent?: string };
}

/** The event's content as it is stored and hashed. */
export function auditContent(ctx: RequestContext | null, entry: AuditEntry, at: Date): AuditContent {
  return {
    id: newId(),
    tenantId: entry.tenantId !== undefined ? entry.tenantId : (ctx?.actor.tenantId ?? null),
    at: at.toISOString(),
    actor: { tokenId: ctx?.actor.tokenId ?? null, name: ctx?.actor.tokenName ?? 'system', role: ctx?.actor.role ?? 'SYSTEM' },
    action: entry.action,
    target: { type: entry.targetType, id: entry.targetId ?? null },
    outcome: entry.outcome ?? 'SUCCESS',
    reason: entry.reason ?? null,
    requestId: ctx?.requestId ?? entry.client?.requestId ?? null,
    sourceAddress: ctx?.sourceAddress ?? entry.client?.sourceAddress ?? null,
    userAgent: ctx?.userAgent ?? entry.client?.userAgent ?? null,
    // Through JSON once, so what is hashed is exactly what jsonb gives back (no undefined, no Date objects).
    details: JSON.parse(JSON.stringify(entry.details ?? {})) as Record<string, unknown>,
  };
}

/**
 * The audit interface every mutation calls inside its own transaction, so an action
 * and its record commit together or not at all (if the record cannot be written, the
 * action does not happen). The database links each event into its tenant's hash chain
 * (migration 0011); this computes the digest of what the event says.
 */
export async function recordAudit(q: Queryable, ctx: RequestContext | null, entry: AuditEntry | readonly AuditEntry[]): Promise<void> {
  const entries = Array.isArray(entry) ? entry : [entry as AuditEntry];
  if (entries.length === 0) return;
  const at = new Date();
  const rows = entries.map((e) => {
    const c = auditContent(ctx, e, at);
    return {
      id: c.id,
      tenant_id: c.tenantId,
      at: c.at,
      actor_token_id: c.actor.tokenId,
      actor_name: c.actor.name,
      actor_role: c.actor.role,
      action: c.action,
      target_type: c.target.type,
      target_id: c.target.id,
      outcome: c.outcome,
      reason: c.reason,
      request_id: c.requestId,
      source_address: c.sourceAddress,
      user_agent: c.userAgent,
      details: c.details,
      content_digest: contentDigest(c).toString('hex'),
    };
  });
  await q.query({
    name: 'sy_record_audit',
    // One statement for one event or a batch; the chain trigger links them in this order.
    text: `insert into audit_events (id, tenant_id, at, actor_token_id, actor_name, actor_role, action, target_type, target_id,
              outcome, reason, request_id, source_address, user_agent, details, content_digest)
           select id, tenant_id, at, actor_token_id, actor_name, actor_role, action, target_type, target_id,
              outcome, reason, request_id, source_address, user_agent, details, decode(content_digest, 'hex')
             from rows from (jsonb_to_recordset($1::jsonb) as (id uuid, tenant_id uuid, at timestamptz, actor_token_id uuid,
              actor_name text, actor_role text, action text, target_type text, target_id text, outcome text, reason text,
              request_id text, source_address text, user_agent text, details jsonb, content_digest text)) with ordinality as x
            order by x.ordinality`,
    values: [JSON.stringify(rows)],
  });
}
