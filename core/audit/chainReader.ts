/** Reads one audit chain from the database in order, a batch at a time (keyset on chain_seq). */
import type { Queryable } from '../db/database.js';
import type { AuditContent, ChainLink } from './chain.js';

export interface StoredEvent {
  link: ChainLink;
  content: AuditContent;
}

const BATCH = 5000;

/** Events with chain_seq in [fromSeq, toSeq] of the chain in the transaction's scope. */
export async function* readChain(
  q: Queryable,
  tenantId: string | null,
  fromSeq: number,
  toSeq: number,
  batch = BATCH,
): AsyncGenerator<StoredEvent[]> {
  const fetch = (after: number) => {
    const next = query(after);
    // A caller that stops early never awaits the last prefetch; its failure is not theirs.
    next.catch(() => undefined);
    return next;
  };
  const query = (after: number) =>
    q.query({
      name: 'sy_read_audit_chain',
      // `at` as the text toISOString() would give (events are stored with milliseconds), not a Date to format again.
      text: `select chain_seq, id, tenant_id, to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at, actor_token_id, actor_name, actor_role, action, target_type, target_id, outcome, reason,
                  request_id, source_address, user_agent, details,
                  encode(content_digest, 'hex') as digest, encode(prev_hash, 'hex') as prev, encode(hash, 'hex') as hash
             from audit_events
            where chain_key = coalesce($1::text, 'appliance') and chain_seq > $2 and chain_seq <= $3
            order by chain_seq limit $4`,
      values: [tenantId, after, toSeq, batch],
    });
  let pending = fromSeq - 1 < toSeq ? fetch(fromSeq - 1) : null;
  while (pending) {
    const { rows } = await pending;
    if (rows.length === 0) return;
    const last = rows[rows.length - 1].chain_seq as number;
    // The next batch is asked for before this one is handed out, so the database works while the caller does.
    pending = rows.length === batch && last < toSeq ? fetch(last) : null;
    yield rows.map((r) => ({
      link: { seq: r.chain_seq, contentDigest: r.digest, prevHash: r.prev, hash: r.hash },
      content: {
        id: r.id,
        tenantId: r.tenant_id,
        at: r.at,
        actor: { tokenId: r.actor_token_id, name: r.actor_name, role: r.actor_role },
        action: r.action,
        target: { type: r.target_type, id: r.target_id },
        outcome: r.outcome,
        reason: r.reason,
        requestId: r.request_id,
        sourceAddress: r.source_address,
        userAgent: r.user_agent,
        details: r.details,
      },
    }));
  }
}

/** The chain's stored extent: first and last chain_seq present, the head's seq, and the first event's previous hash. */
export async function chainExtent(
  q: Queryable,
  tenantId: string | null,
): Promise<{ firstSeq: number | null; lastSeq: number | null; headSeq: number | null; firstPrevHash: string | null }> {
  const { rows } = await q.query(
    `select (select min(chain_seq) from audit_events where chain_key = $1) as first_seq,
            (select max(chain_seq) from audit_events where chain_key = $1) as last_seq,
            (select seq from audit_chains where chain_key = $1) as head_seq`,
    [tenantId ?? 'appliance'],
  );
  const r = rows[0];
  let firstPrevHash: string | null = null;
  if (r.first_seq !== null) {
    const first = await q.query(`select encode(prev_hash, 'hex') as prev from audit_events where chain_key = $1 and chain_seq = $2`, [
      tenantId ?? 'appliance',
      r.first_seq,
    ]);
    firstPrevHash = first.rows[0]?.prev ?? null;
  }
  return { firstSeq: r.first_seq, lastSeq: r.last_seq, headSeq: r.head_seq, firstPrevHash };
}
