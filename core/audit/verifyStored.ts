/** Verifies a chain as the database holds it: every link, and every checkpoint's signature and hash. */
import type { Queryable } from '../db/database.js';
import { checkpointSignatureValid, readCheckpoints, readSigningCertificates } from './checkpoints.js';
import { chainExtent, readChain } from './chainReader.js';
import { ChainVerifier, type TamperFinding } from './verifyChain.js';

export interface ChainVerification {
  ok: boolean;
  events: number;
  firstSeq: number | null;
  lastSeq: number | null;
  checkpoints: number;
  finding: TamperFinding | null;
}

export async function verifyStoredChain(q: Queryable, tenantId: string | null): Promise<ChainVerification> {
  const extent = await chainExtent(q, tenantId);
  const certificates = await readSigningCertificates(q);
  const checkpoints = await readCheckpoints(q, tenantId, extent.firstSeq ?? 1, Number.MAX_SAFE_INTEGER);
  const result = (finding: TamperFinding | null, events: number): ChainVerification => ({
    ok: finding === null,
    events,
    firstSeq: extent.firstSeq,
    lastSeq: extent.lastSeq,
    checkpoints: checkpoints.length,
    finding,
  });
  const forged = checkpoints.find((c) => !checkpointSignatureValid(c, certificates));
  if (forged)
    return result(
      { kind: 'CHECKPOINT_SIGNATURE', seq: forged.seq, message: `the checkpoint at event ${forged.seq} is not validly signed` },
      0,
    );
  if (extent.firstSeq === null) {
    const last = checkpoints.at(-1);
    return result(
      last ? { kind: 'TRUNCATED', seq: 1, message: `the chain is empty but a signed checkpoint covers event ${last.seq}` } : null,
      0,
    );
  }
  // After retention removed the oldest events, the first one left names the last removed hash.
  const anchor = extent.firstSeq > 1 ? { seq: extent.firstSeq - 1, hash: extent.firstPrevHash ?? '' } : null;
  const verifier = new ChainVerifier(anchor, checkpoints);
  for await (const batch of readChain(q, tenantId, extent.firstSeq, Math.max(extent.lastSeq ?? 0, extent.headSeq ?? 0))) {
    for (const event of batch) if (!verifier.add(event.link, event.content)) return result(verifier.finding, verifier.count);
  }
  const mustReach = Math.max(checkpoints.at(-1)?.seq ?? 0, extent.headSeq ?? 0);
  return result(verifier.finish(mustReach || null), verifier.count);
}
