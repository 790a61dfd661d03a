/**
 * Offline verification of an export bundle, trusting nothing but the signing certificate
 * (pinned with `trustedFingerprints`, or else the one in the bundle, which the result
 * says). Checks the manifest's signature, every file's digest, every checkpoint's
 * signature, and every link of the chain up to the covering checkpoint; names the first
 * event that cannot be trusted and the kind of tampering.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import forge from 'node-forge';
import * as tar from 'tar';
import { certificateFingerprint, sha256OfFile, verifyPss } from '../signatures.js';
import { canonicalJson } from '../canonicalJson.js';
import { digestHexOfJson } from './chain.js';
import { checkpointSignatureValid, type AuditCheckpoint } from './checkpoints.js';
import { BUNDLE_FILES, MANIFEST_FILE, MANIFEST_SIGNATURE_FILE, type EventLine, type ExportManifest } from './bundle.js';
import { ChainVerifier, type TamperFinding } from './verifyChain.js';

export interface BundleVerification {
  ok: boolean;
  /** The first problem found, by precedence: signature, then the chain, then files. */
  finding: TamperFinding | null;
  findings: TamperFinding[];
  manifest: ExportManifest | null;
  signerFingerprint: string | null;
  /** Whether the signer was one of the pinned certificates (false when none were given). */
  signerPinned: boolean;
  eventsChecked: number;
  linksChecked: number;
}

/** Verifies a `.tar.gz` bundle (extracted to a temporary directory) or an extracted one. */
export async function verifyAuditBundle(bundlePath: string, trustedFingerprints: readonly string[] = []): Promise<BundleVerification> {
  if (fs.statSync(bundlePath).isDirectory()) return verifyDirectory(bundlePath, trustedFingerprints);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-audit-verify-'));
  try {
    await tar.extract({ file: bundlePath, cwd: dir, strip: 1 });
    return await verifyDirectory(dir, trustedFingerprints);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function verifyDirectory(dir: string, trusted: readonly string[]): Promise<BundleVerification> {
  const findings: TamperFinding[] = [];
  const result = (manifest: ExportManifest | null, signer: string | null, events = 0, links = 0): BundleVerification => {
    // The manifest's own trust first, then what names an event, then whole files.
    const rank = (f: TamperFinding) => (f.kind === 'MANIFEST_SIGNATURE' || f.kind === 'MALFORMED' ? 0 : f.seq !== null ? 1 : 2);
    const sorted = [...findings].sort((x, y) => rank(x) - rank(y));
    return {
      ok: findings.length === 0,
      finding: sorted[0] ?? null,
      findings: sorted,
      manifest,
      signerFingerprint: signer,
      signerPinned: signer !== null && trusted.includes(signer),
      eventsChecked: events,
      linksChecked: links,
    };
  };
  const read = (name: string): Buffer | null => {
    const file = path.join(dir, name);
    return fs.existsSync(file) ? fs.readFileSync(file) : null;
  };
  const manifestBytes = read(MANIFEST_FILE);
  const signature = read(MANIFEST_SIGNATURE_FILE);
  const certPem = read(BUNDLE_FILES.certificates)?.toString('utf8') ?? '';
  if (!manifestBytes || !signature) {
    findings.push({
      kind: 'MALFORMED',
      seq: null,
      message: `the bundle has no ${manifestBytes ? MANIFEST_SIGNATURE_FILE : MANIFEST_FILE}`,
    });
    return result(null, null);
  }
  let manifest: ExportManifest;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8')) as ExportManifest;
  } catch (error) {
    findings.push({ kind: 'MALFORMED', seq: null, message: `${MANIFEST_FILE} is not JSON: ${(error as Error).message}` });
    return result(null, null);
  }
  const certificates = new Map<string, forge.pki.Certificate>();
  for (const pem of certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []) {
    try {
      const cert = forge.pki.certificateFromPem(pem);
      certificates.set(certificateFingerprint(cert), cert);
    } catch {
      findings.push({ kind: 'MALFORMED', seq: null, message: `${BUNDLE_FILES.certificates} holds a certificate that cannot be read` });
    }
  }
  // Pinned certificates only, when the verifier was given any: a bundle re-signed with another key fails.
  const usable = trusted.length > 0 ? new Map([...certificates].filter(([fp]) => trusted.includes(fp))) : certificates;
  const signer = usable.get(manifest.signingKeyFingerprint);
  if (!signer || !verifyPss(signer, manifestBytes, signature.toString('base64'))) {
    findings.push({
      kind: 'MANIFEST_SIGNATURE',
      seq: null,
      message: !signer
        ? `${MANIFEST_FILE} is signed by ${manifest.signingKeyFingerprint}, ${trusted.length > 0 ? 'which is not a trusted certificate' : 'whose certificate is not in the bundle'}`
        : `the signature of ${MANIFEST_FILE} is not valid: the manifest was changed after it was signed`,
    });
  }
  for (const [name, digest] of Object.entries(manifest.files ?? {})) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) findings.push({ kind: 'FILE_MODIFIED', seq: null, message: `${name} is missing from the bundle` });
    else if ((await sha256OfFile(file)) !== digest)
      findings.push({
        kind: 'FILE_MODIFIED',
        seq: null,
        message: `${name} was changed after export: its SHA-256 differs from the signed manifest`,
      });
  }

  const checkpoints: AuditCheckpoint[] = [];
  for (const line of (read(BUNDLE_FILES.checkpoints)?.toString('utf8') ?? '').split('\n').filter(Boolean)) {
    try {
      checkpoints.push(JSON.parse(line) as AuditCheckpoint);
    } catch {
      findings.push({ kind: 'MALFORMED', seq: null, message: `${BUNDLE_FILES.checkpoints} has a line that is not JSON` });
    }
  }
  const forged = checkpoints.find((c) => c.chain !== manifest.chain || !checkpointSignatureValid(c, usable));
  if (forged)
    findings.push({
      kind: 'CHECKPOINT_SIGNATURE',
      seq: forged.seq,
      message: `the checkpoint at event ${forged.seq} is not validly signed for chain ${manifest.chain}`,
    });

  const covering = manifest.coveringCheckpointSeq;
  if (covering !== null && !checkpoints.some((c) => c.seq === covering)) {
    findings.push({
      kind: 'TRUNCATED',
      seq: covering,
      message: `the checkpoint at event ${covering} that the manifest names is not in the bundle`,
    });
  }
  const verifier = new ChainVerifier(
    manifest.anchor,
    checkpoints.filter((c) => c !== forged && (covering === null || c.seq <= covering)),
  );
  let events = 0;
  let links = 0;
  const eventsFile = path.join(dir, BUNDLE_FILES.events);
  if (fs.existsSync(eventsFile)) {
    const lines = readline.createInterface({ input: fs.createReadStream(eventsFile), crlfDelay: Infinity });
    for await (const text of lines) {
      if (text === '') continue;
      let line: EventLine;
      try {
        line = JSON.parse(text) as EventLine;
      } catch {
        verifier.finding ??= {
          kind: 'MALFORMED',
          seq: (verifier.lastSeq ?? 0) + 1,
          message: `${BUNDLE_FILES.events} line ${links + 1} is not JSON`,
        };
        break;
      }
      links++;
      const { seq, omitted, contentDigest, prevHash, hash, ...content } = line as EventLine & { omitted?: boolean };
      if (!omitted) events++;
      // The generic canonical form, not auditContentJson: a field added to a line must change its digest.
      if (!verifier.add({ seq, contentDigest, prevHash, hash }, omitted ? undefined : { digest: digestHexOfJson(canonicalJson(content)) }))
        break;
    }
  }
  const chainFinding = verifier.finish(covering);
  if (chainFinding) findings.unshift(chainFinding);
  else if (links !== manifest.linkCount || events !== manifest.eventCount) {
    findings.push({
      kind: 'TRUNCATED',
      seq: (verifier.lastSeq ?? 0) + 1,
      message: `the manifest lists ${manifest.linkCount} links and ${manifest.eventCount} events; the bundle holds ${links} and ${events}`,
    });
  }
  return result(manifest, signer ? manifest.signingKeyFingerprint : null, events, links);
}
