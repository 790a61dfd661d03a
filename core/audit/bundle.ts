/** The export bundle's layout and manifest, shared by the exporter and the offline verifier. */
import type { AuditContent } from './chain.js';
import type { TamperFinding } from './verifyChain.js';

export const BUNDLE_FILES = {
  events: 'events.jsonl',
  csv: 'events.csv',
  report: 'report.html',
  checkpoints: 'checkpoints.jsonl',
  certificates: 'certificates.pem',
} as const;
export const MANIFEST_FILE = 'manifest.json';
/** Raw RSASSA-PSS (SHA-256, 32-byte salt) signature over manifest.json's bytes, for `openssl dgst -verify`. */
export const MANIFEST_SIGNATURE_FILE = 'manifest.json.sig';
/** `sha256sum -c` input for the files the manifest lists. */
export const CHECKSUMS_FILE = 'SHA256SUMS';

export interface ExportQuery {
  tenantId: string | null;
  from: string | null;
  to: string | null;
  actions: string[] | null;
}

export interface ExportManifest {
  type: 'switchyard.audit.export';
  version: 1;
  id: string;
  exportedAt: string;
  exportedBy: { tokenId: string | null; name: string; role: string };
  query: ExportQuery;
  /** The chain: a tenant's id, or `appliance`. */
  chain: string;
  /** Events whose content is in the bundle (the query's matches). */
  eventCount: number;
  /** Links in events.jsonl, content or not: every event from `range.firstSeq` to `range.lastSeq`. */
  linkCount: number;
  range: { firstSeq: number | null; lastSeq: number | null };
  /** The link before `range.firstSeq` (null: the chain's start). */
  anchor: { seq: number; hash: string } | null;
  /** The signed checkpoint the links must reach; it authenticates every link before it. */
  coveringCheckpointSeq: number | null;
  /** The chain head's number when the export was made. */
  chainHeadSeq: number | null;
  checkpointCount: number;
  signingKeyFingerprint: string;
  /** SHA-256 (hex) of every file of the bundle but the manifest, its signature and SHA256SUMS. */
  files: Record<string, string>;
  /** What the appliance found walking the chain as it exported it. */
  verification: { ok: boolean; finding: TamperFinding | null };
}

/** One line of events.jsonl: an event with its link, or only the link of an event the query left out. */
export type EventLine =
  | ({ seq: number; omitted?: undefined; contentDigest: string; prevHash: string; hash: string } & AuditContent)
  | { seq: number; omitted: true; contentDigest: string; prevHash: string; hash: string };
