/**
 * One audit export in a process of its own, so its resident memory is the export's alone:
 * a baseline read of the same rows, the export, and the offline verification of the bundle.
 * Prints one JSON line. Started by bench/auditExport.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Database } from '../core/db/database.js';
import { derivedRuntimeRole, runtimeUrlFor } from '../core/db/roles.js';
import { AuditSigningKey } from '../core/audit/signingKey.js';
import { AuditExportService } from '../core/audit/export.js';
import { readChain } from '../core/audit/chainReader.js';
import { verifyAuditBundle } from '../core/audit/verifyBundle.js';
import { newId } from '../core/ids.js';

const [url, tenantId] = [process.env['BENCH_AUDIT_DB']!, process.env['BENCH_AUDIT_TENANT']!];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-audit-'));
const db = new Database(runtimeUrlFor(url, derivedRuntimeRole(url)), 4, 'switchyard-bench-audit');
try {
  const { key } = AuditSigningKey.open(path.join(dir, 'audit-signing.pem'), { create: true });
  await db.query('system', 'insert into audit_signing_keys (fingerprint, certificate_pem) values ($1, $2) on conflict do nothing', [
    key.fingerprint,
    key.certificatePem,
  ]);
  const ctx = { actor: { tokenId: newId(), tokenName: 'bench auditor', role: 'AUDITOR' as const, tenantId }, requestId: 'bench' };

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  const rssBefore = process.memoryUsage().rss;
  let t0 = performance.now();
  const made = await new AuditExportService(db, key, path.join(dir, 'exports')).export(ctx, {});
  const exportSeconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);

  // The baseline after the export, so the export's memory figure is its own.
  t0 = performance.now();
  const read = await db.tx({ tenantId }, async (q) => {
    let n = 0;
    for await (const batch of readChain(q, tenantId, 1, Number.MAX_SAFE_INTEGER)) n += batch.length;
    return n;
  });
  const baselineSeconds = (performance.now() - t0) / 1000;

  t0 = performance.now();
  const verified = await verifyAuditBundle(path.join(dir, 'exports', `${made.id}.tar.gz`));
  const verifySeconds = (performance.now() - t0) / 1000;
  process.stdout.write(
    `${JSON.stringify({
      rowsRead: read,
      baselineSeconds,
      events: made.eventCount,
      exportSeconds,
      bytes: made.bytes,
      verifiedAtExport: made.verified,
      rssBeforeMb: rssBefore / 2 ** 20,
      peakRssMb: peakRss / 2 ** 20,
      verifySeconds,
      verifiedOffline: verified.ok,
    })}\n`,
  );
} finally {
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
