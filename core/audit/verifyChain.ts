/**
 * Walks one audit chain in order and names the first link that is wrong, for the live
 * database and for exported bundles alike. Events whose content is present are hashed
 * again; events an export left out are checked by their links only.
 */
import { contentDigest, GENESIS_HASH, linkHash, type AuditContent, type ChainLink } from './chain.js';

export type TamperKind =
  | 'MODIFIED' // an event's content does not match its digest
  | 'LINK_BROKEN' // an event's previous hash is not the hash of the event before it
  | 'HASH_MISMATCH' // an event's hash is not SHA-256 of its previous hash, number and digest
  | 'MISSING' // a sequence number is absent
  | 'OUT_OF_ORDER' // sequence numbers go backwards or repeat
  | 'CHECKPOINT_MISMATCH' // the chain differs from what a signed checkpoint says it was
  | 'CHECKPOINT_SIGNATURE' // a checkpoint's signature is not valid
  | 'TRUNCATED' // events a checkpoint covers are absent at the end
  | 'FILE_MODIFIED' // a bundle file's digest differs from the signed manifest
  | 'MANIFEST_SIGNATURE' // the manifest's signature is not valid (or not by the trusted key)
  | 'MALFORMED'; // a bundle file cannot be read

export interface TamperFinding {
  kind: TamperKind;
  /** The first sequence number that cannot be trusted; null when no event is to blame (a file, the manifest). */
  seq: number | null;
  message: string;
}

/** A checkpoint whose signature was already checked. */
export interface TrustedCheckpoint {
  seq: number;
  hash: string;
}

export class ChainVerifier {
  private prev: { seq: number; hash: Buffer; hex: string } | null;
  private lastGoodCheckpoint: number;
  private readonly checkpoints: Map<number, string>;
  finding: TamperFinding | null = null;
  count = 0;

  /**
   * `anchor`: the link before the first one to come (null: the chain's start, seq 1).
   * `checkpoints`: signed heads the walk must pass through.
   */
  constructor(anchor: { seq: number; hash: string } | null, checkpoints: readonly TrustedCheckpoint[] = []) {
    this.prev = anchor
      ? { seq: anchor.seq, hash: Buffer.from(anchor.hash, 'hex'), hex: anchor.hash.toLowerCase() }
      : { seq: 0, hash: GENESIS_HASH, hex: GENESIS_HASH.toString('hex') };
    this.lastGoodCheckpoint = anchor?.seq ?? 0;
    this.checkpoints = new Map(checkpoints.map((c) => [c.seq, c.hash]));
  }

  get lastSeq(): number | null {
    return this.prev?.seq ?? null;
  }

  /**
   * Checks the next link, and its content when given (or the digest of its content that
   * the caller computed); false once something is wrong.
   */
  add(link: ChainLink, content?: AuditContent | { digest: string }): boolean {
    if (this.finding) return false;
    const prev = this.prev!;
    if (link.seq <= prev.seq) return this.fail('OUT_OF_ORDER', link.seq, `event ${link.seq} comes after event ${prev.seq}`);
    if (link.seq !== prev.seq + 1)
      return this.fail('MISSING', prev.seq + 1, `event ${prev.seq + 1} is missing (the next present is ${link.seq})`);
    const digest = content === undefined ? undefined : 'digest' in content ? content.digest : contentDigest(content).toString('hex');
    if (digest !== undefined && digest !== link.contentDigest) {
      return this.fail('MODIFIED', link.seq, `event ${link.seq} was modified: its content does not match its digest`);
    }
    if (link.prevHash !== prev.hex) {
      return this.fail('LINK_BROKEN', link.seq, `event ${link.seq} does not follow event ${prev.seq}: its previous hash differs`);
    }
    const hash = linkHash(prev.hash, link.seq, Buffer.from(link.contentDigest, 'hex'));
    if (hash.toString('hex') !== link.hash)
      return this.fail('HASH_MISMATCH', link.seq, `event ${link.seq}'s hash is not the hash of its link`);
    const signed = this.checkpoints.get(link.seq);
    if (signed !== undefined) {
      if (signed !== link.hash) {
        return this.fail(
          'CHECKPOINT_MISMATCH',
          this.lastGoodCheckpoint + 1,
          `the chain differs from the checkpoint signed at event ${link.seq}: an event after ${this.lastGoodCheckpoint} and up to ${link.seq} was inserted, removed or changed after it was signed`,
        );
      }
      this.lastGoodCheckpoint = link.seq;
    }
    this.prev = { seq: link.seq, hash, hex: link.hash };
    this.count++;
    return true;
  }

  /** After the last link: every checkpoint up to `mustReach` must have been passed. */
  finish(mustReach: number | null): TamperFinding | null {
    if (this.finding) return this.finding;
    const last = this.prev!.seq;
    if (mustReach !== null && last < mustReach) {
      this.fail(
        'TRUNCATED',
        last + 1,
        `events ${last + 1} to ${mustReach} are missing: a signed checkpoint covers event ${mustReach}, the chain ends at ${last}`,
      );
    }
    return this.finding;
  }

  private fail(kind: TamperKind, seq: number | null, message: string): false {
    this.finding = { kind, seq, message };
    return false;
  }
}
