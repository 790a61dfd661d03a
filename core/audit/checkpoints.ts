/**
 * Signed checkpoints of the audit chains. A checkpoint is the appliance's signature over
 * a chain's head (its sequence number and hash) at a moment: an event removed, altered or
 * inserted before it can no longer go unnoticed, even by someone who rewrites the whole
 * chain, because they cannot sign. The maintenance loop signs every chain that has grown
 * by `everyEvents` events, or has unsigned events and was last signed `everyMs` ago; exports sign the
 * head they end at.
 */
import forge from 'node-forge';
import { canonicalJson } from '../canonicalJson.js';
import { verifyPss } from '../signatures.js';
import { isUniqueViolation, scopeOf, type Database, type Queryable } from '../db/database.js';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import { chainKey } from './chain.js';
import type { AuditSigningKey } from './signingKey.js';

export interface AuditCheckpoint {
  chain: string;
  seq: number;
  /** Hex SHA-256 of the chain's link `seq`. */
  hash: string;
  /** ISO 8601 UTC. */
  signedAt: string;
  keyFingerprint: string;
  /** Base64 RSASSA-PSS (SHA-256) over `checkpointStatement(...)`. */
  signature: string;
}

/** The bytes a checkpoint's signature covers. */
export function checkpointStatement(c: Omit<AuditCheckpoint, 'signature'>): string {
  return canonicalJson({
    type: 'switchyard.audit.checkpoint',
    version: 1,
    chain: c.chain,
    seq: c.seq,
    hash: c.hash,
    signedAt: c.signedAt,
    keyFingerprint: c.keyFingerprint,
  });
}

const COLUMNS = `seq, encode(head_hash, 'hex') as hash, signed_at as "signedAt", key_fingerprint as "keyFingerprint", encode(signature, 'base64') as signature`;

function toCheckpoint(
  tenantId: string | null,
  row: { seq: number; hash: string; signedAt: Date; keyFingerprint: string; signature: string },
): AuditCheckpoint {
  return {
    chain: chainKey(tenantId),
    seq: row.seq,
    hash: row.hash,
    signedAt: row.signedAt.toISOString(),
    keyFingerprint: row.keyFingerprint,
    signature: row.signature.replace(/\s/g, ''),
  };
}

/** The chain's checkpoints with seq in [fromSeq, toSeq], in order (run in the chain's scope). */
export async function readCheckpoints(q: Queryable, tenantId: string | null, fromSeq: number, toSeq: number): Promise<AuditCheckpoint[]> {
  const { rows } = await q.query(
    `select ${COLUMNS} from audit_checkpoints where tenant_id is not distinct from $1 and seq between $2 and $3 order by seq`,
    [tenantId, fromSeq, toSeq],
  );
  return rows.map((r) => toCheckpoint(tenantId, r as never));
}

/** The chain's newest checkpoint, if any. */
export async function latestCheckpoint(q: Queryable, tenantId: string | null): Promise<AuditCheckpoint | null> {
  const { rows } = await q.query(
    `select ${COLUMNS} from audit_checkpoints where tenant_id is not distinct from $1 order by seq desc limit 1`,
    [tenantId],
  );
  return rows[0] ? toCheckpoint(tenantId, rows[0] as never) : null;
}

/**
 * Signs link `seq` of the chain (in the chain's scope), or its head when `seq` is omitted;
 * returns the existing checkpoint when that link is signed already.
 */
export async function signCheckpoint(
  q: Queryable,
  key: AuditSigningKey,
  tenantId: string | null,
  seq?: number,
): Promise<AuditCheckpoint | null> {
  const { rows } =
    seq === undefined
      ? await q.query<{ seq: number; hash: string }>(
          `select seq, encode(head_hash, 'hex') as hash from audit_chains where chain_key = $1`,
          [chainKey(tenantId)],
        )
      : await q.query<{ seq: number; hash: string }>(
          `select chain_seq as seq, encode(hash, 'hex') as hash from audit_events where chain_key = $1 and chain_seq = $2`,
          [chainKey(tenantId), seq],
        );
  const link = rows[0];
  if (!link) return null;
  const existing = await readCheckpoints(q, tenantId, link.seq, link.seq);
  if (existing[0]) return existing[0];
  const unsigned = {
    chain: chainKey(tenantId),
    seq: link.seq,
    hash: link.hash,
    signedAt: new Date().toISOString(),
    keyFingerprint: key.fingerprint,
  };
  const checkpoint: AuditCheckpoint = { ...unsigned, signature: key.sign(checkpointStatement(unsigned)) };
  await q.query(
    `insert into audit_checkpoints (id, tenant_id, seq, head_hash, signed_at, key_fingerprint, signature)
     values ($1, $2, $3, decode($4, 'hex'), $5, $6, decode($7, 'base64'))`,
    [newId(), tenantId, checkpoint.seq, checkpoint.hash, checkpoint.signedAt, checkpoint.keyFingerprint, checkpoint.signature],
  );
  return checkpoint;
}

/** Checkpoints one round signs per chain at most; a backlog is signed over the following rounds. */
const MAX_PER_ROUND = 100;

export interface CheckpointPolicy {
  /** Sign a chain once it has this many unsigned events. */
  everyEvents: number;
  /** Sign a chain whose oldest unsigned event is this old. */
  everyMs: number;
}

/** Publishes the signing certificate and signs every chain that is due. */
export class AuditCheckpointer {
  constructor(
    private readonly db: Database,
    private readonly key: AuditSigningKey,
    private readonly policy: CheckpointPolicy,
    private readonly logger: Logger,
  ) {}

  /** Records the signing certificate, so exports can carry it after the key is replaced. */
  async registerKey(): Promise<void> {
    await this.db.query('system', 'insert into audit_signing_keys (fingerprint, certificate_pem) values ($1, $2) on conflict do nothing', [
      this.key.fingerprint,
      this.key.certificatePem,
    ]);
  }

  /** Signs every chain due: each multiple of `everyEvents` since its last checkpoint, or its head when only time is up. */
  async signDueChains(): Promise<number> {
    const { rows } = await this.db.query<{ tenant_id: string | null; seq: number }>(
      'system',
      'select tenant_id, seq from audit_chains_due($1, make_interval(secs => $2))',
      [this.policy.everyEvents, this.policy.everyMs / 1000],
    );
    let made = 0;
    for (const { tenant_id: tenantId, seq: head } of rows) {
      try {
        made += await this.db.tx(scopeOf(tenantId), async (q) => {
          const last = (await latestCheckpoint(q, tenantId))?.seq ?? 0;
          const targets: (number | undefined)[] = [];
          for (let seq = last + this.policy.everyEvents; seq <= head && targets.length < MAX_PER_ROUND; seq += this.policy.everyEvents)
            targets.push(seq);
          if (targets.length === 0) targets.push(undefined);
          for (const seq of targets) await signCheckpoint(q, this.key, tenantId, seq);
          return targets.length;
        });
      } catch (error) {
        // Another process signed the same link at the same moment.
        if (!isUniqueViolation(error)) this.logger.error({ err: error, chain: chainKey(tenantId) }, 'could not sign an audit checkpoint');
      }
    }
    return made;
  }
}

/** Whether a checkpoint carries a valid signature by the certificate its fingerprint names. */
export function checkpointSignatureValid(c: AuditCheckpoint, certificates: ReadonlyMap<string, forge.pki.Certificate>): boolean {
  const cert = certificates.get(c.keyFingerprint);
  return cert !== undefined && verifyPss(cert, checkpointStatement(c), c.signature);
}

/** The appliance's signing certificates by fingerprint (run in any scope). */
export async function readSigningCertificates(q: Queryable): Promise<Map<string, forge.pki.Certificate>> {
  const { rows } = await q.query<{ fingerprint: string; certificate_pem: string }>(
    'select fingerprint, certificate_pem from audit_signing_keys',
  );
  return new Map(rows.map((r) => [r.fingerprint, forge.pki.certificateFromPem(r.certificate_pem)]));
}
