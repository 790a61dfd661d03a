/**
 * The audit chain's arithmetic, shared by the appliance (which writes events), the
 * exporter and the offline verifier. The database makes the links (migration 0011); this
 * module says what a link is, so anyone can recompute it:
 *
 *   content_digest_n = SHA-256(canonical JSON of event n's content)
 *   hash_n           = SHA-256(hash_(n-1) || n as 8 bytes big-endian || content_digest_n)
 *   hash_0           = 32 zero bytes
 *
 * Hashing the digest rather than the content lets an export prove the links of events it
 * leaves out (another action, say) without showing them.
 */
import { hash } from 'node:crypto';
import { canonicalJson } from '../canonicalJson.js';

export const GENESIS_HASH = Buffer.alloc(32);
/** The chain of events that belong to no tenant (the appliance's own). */
export const APPLIANCE_CHAIN = 'appliance';

/** What an event says: everything the content digest covers. */
export interface AuditContent {
  id: string;
  tenantId: string | null;
  /** ISO 8601 UTC, milliseconds. */
  at: string;
  actor: { tokenId: string | null; name: string; role: string };
  action: string;
  target: { type: string; id: string | null };
  outcome: 'SUCCESS' | 'FAILURE' | 'DENIED';
  reason: string | null;
  requestId: string | null;
  sourceAddress: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
}

/** One link of a chain; `hash` covers `prevHash`, `seq` and `contentDigest`. */
export interface ChainLink {
  seq: number;
  contentDigest: string;
  prevHash: string;
  hash: string;
}

export const chainKey = (tenantId: string | null): string => tenantId ?? APPLIANCE_CHAIN;

/**
 * The canonical JSON of an event's content: the same bytes as `canonicalJson(content)`
 * (keys sorted), written field by field because exports hash a million of them.
 * `detailsJson`: canonicalJson(c.details), when the caller has it already.
 */
export function auditContentJson(c: AuditContent, detailsJson = canonicalJson(c.details)): string {
  const s = JSON.stringify;
  return (
    `{"action":${s(c.action)},"actor":{"name":${s(c.actor.name)},"role":${s(c.actor.role)},"tokenId":${s(c.actor.tokenId)}},"at":${s(c.at)},` +
    `"details":${detailsJson},"id":${s(c.id)},"outcome":${s(c.outcome)},"reason":${s(c.reason)},"requestId":${s(c.requestId)},` +
    `"sourceAddress":${s(c.sourceAddress)},"target":{"id":${s(c.target.id)},"type":${s(c.target.type)}},"tenantId":${s(c.tenantId)},"userAgent":${s(c.userAgent)}}`
  );
}

// One-shot hashing (crypto.hash): exports and verification hash a million small inputs, where a Hash object per input costs more than the hashing.
export const digestOfJson = (json: string): Buffer => hash('sha256', json, 'buffer');
export const digestHexOfJson = (json: string): string => hash('sha256', json, 'hex');

export function contentDigest(content: AuditContent): Buffer {
  return digestOfJson(auditContentJson(content));
}

export function linkHash(prevHash: Buffer, seq: number, digest: Buffer): Buffer {
  const input = Buffer.allocUnsafe(prevHash.length + 8 + digest.length);
  prevHash.copy(input, 0);
  input.writeBigInt64BE(BigInt(seq), prevHash.length);
  digest.copy(input, prevHash.length + 8);
  return hash('sha256', input, 'buffer');
}
