import type { Queryable } from '../db/database.js';
import type { RequestContext } from '../auth/roles.js';
import { newId } from '../ids.js';

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
}

/**
 * The audit interface every mutation calls inside its own transaction, so an action
 * and its record commit together or not at all (if the record cannot be written, the
 * action does not happen). Tamper evidence (hash chain, signed checkpoints) is layered
 * onto this table without changing callers.
 */
export async function recordAudit(q: Queryable, ctx: RequestContext | null, entry: AuditEntry): Promise<void> {
  await q.query({
    name: 'sy_record_audit',
    text: `insert into audit_events (id, tenant_id, actor_token_id, actor_name, actor_role, action, target_type, target_id,
       outcome, reason, request_id, source_address, user_agent, details)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
    values: [
      newId(),
      entry.tenantId !== undefined ? entry.tenantId : ctx?.actor.tenantId ?? null,
      ctx?.actor.tokenId ?? null,
      ctx?.actor.tokenName ?? 'system',
      ctx?.actor.role ?? 'SYSTEM',
      entry.action,
      entry.targetType,
      entry.targetId ?? null,
      entry.outcome ?? 'SUCCESS',
      entry.reason ?? null,
      ctx?.requestId ?? null,
      ctx?.sourceAddress ?? null,
      ctx?.userAgent ?? null,
      entry.details ?? {},
    ],
  });
}
