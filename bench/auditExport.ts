/**
 * Audit export benchmark: `events` audit events are written into one tenant's chain (as
 * the appliance writes them, linked by the database), then exported in a separate process
 * (bench/auditExportChild.ts) measuring events/s, peak resident memory, and the ratio to
 * a plain keyset read of the same rows in the same run.
 */
import { execFile } from 'node:child_process';
import pg from 'pg';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Database } from '../core/db/database.js';
import { derivedRuntimeRole, runtimeUrlFor } from '../core/db/roles.js';
import { recordAudit } from '../core/audit/audit.js';
import { newId } from '../core/ids.js';
import type { BenchServer } from './db.js';

export interface AuditExportResult {
  events: number;
  writeSeconds: number;
  rowsRead: number;
  baselineSeconds: number;
  exportSeconds: number;
  bytes: number;
  rssBeforeMb: number;
  peakRssMb: number;
  verifySeconds: number;
  verifiedAtExport: boolean;
  verifiedOffline: boolean;
}

const BATCH = 5000;

export async function auditExport(server: BenchServer, events: number): Promise<AuditExportResult> {
  const url = await server.freshDatabase('audit');
  const db = new Database(runtimeUrlFor(url, derivedRuntimeRole(url)), 4, 'switchyard-bench-audit');
  const tenantId = newId();
  let writeSeconds: number;
  try {
    await db.tx({ tenantId }, (q) => q.query(`insert into tenants (id, name) values ($1, 'bench audit')`, [tenantId]));
    const ctx = {
      actor: { tokenId: newId(), tokenName: 'bench operator', role: 'OPERATOR' as const, tenantId },
      requestId: 'bench',
      sourceAddress: '10.1.2.3',
      userAgent: 'bench/1.0',
    };
    const t0 = performance.now();
    for (let written = 0; written < events; written += BATCH) {
      const n = Math.min(BATCH, events - written);
      await db.tx({ tenantId }, (q) =>
        recordAudit(
          q,
          ctx,
          Array.from({ length: n }, (_, i) => ({
            action: 'run.started',
            targetType: 'run',
            targetId: newId(),
            details: { workflowId: tenantId, version: 1 + ((written + i) % 7) },
          })),
        ),
      );
    }
    writeSeconds = (performance.now() - t0) / 1000;
  } finally {
    await db.close();
  }
  // A compliance export reads events that have been in the table a while, which autovacuum
  // has visited. Right after a bulk write, the first reader instead sets every row's
  // commit hint bits, and that write work (several times the read on this machine) would
  // be counted against the export alone, the baseline read coming after it.
  const owner = new pg.Client({ connectionString: url });
  await owner.connect();
  try {
    await owner.query('vacuum (analyze) audit_events');
  } finally {
    await owner.end();
  }
  const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'auditExportChild.js');
  const { stdout } = await promisify(execFile)(process.execPath, [child], {
    env: { ...process.env, BENCH_AUDIT_DB: url, BENCH_AUDIT_TENANT: tenantId },
    maxBuffer: 1 << 20,
    timeout: 1_800_000,
  });
  return { events, writeSeconds, ...(JSON.parse(stdout.trim().split('\n').at(-1)!) as Omit<AuditExportResult, 'events' | 'writeSeconds'>) };
}
