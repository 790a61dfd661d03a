/** The audit export part of docs/PERFORMANCE.md (bench/auditExport.ts). */
import type { AuditExportResult } from './auditExport.js';
import type { Outcome } from './outcome.js';
import { fmt } from './stats.js';

type Row = [measure: string, measured: string, target: string, met: string];

export function auditExportRows(o: Outcome<AuditExportResult>): Row[] {
  if (!o.ok) return [['Audit export: events/s', `failed: ${o.error}`, '≥ 50,000', '**not met**']];
  const r = o.value;
  const rate = r.events / r.exportSeconds;
  const plain = r.rowsRead / r.baselineSeconds;
  return [
    [
      `Audit export: events/s (${fmt(r.events)} events of one tenant's chain into a signed bundle, in a process of its own)`,
      `**${fmt(rate)}/s** (${fmt(r.exportSeconds, 1)} s; a plain keyset read of the same rows: ${fmt(plain)}/s)`,
      '≥ 50,000',
      r.verifiedAtExport && rate >= 50_000 ? 'met' : '**not met**',
    ],
    ['Audit export: events/s ÷ plain read of the same rows', fmt(rate / plain, 2), '—', '—'],
    [
      'Audit export: peak resident memory of the exporting process',
      `${fmt(r.peakRssMb)} MB (${fmt(r.rssBeforeMb)} MB before the export)`,
      '< 200 MB',
      r.peakRssMb < 200 ? 'met' : '**not met**',
    ],
    [
      "Audit bundle offline verification (`switchyard audit verify`'s code): events/s",
      `${fmt(r.events / r.verifySeconds)}/s (${r.verifiedOffline ? 'verified' : 'FAILED'})`,
      '—',
      '—',
    ],
  ];
}

export function auditExportSection(o: Outcome<AuditExportResult>): string[] {
  if (!o.ok) return [];
  const r = o.value;
  return [
    '### Audit export',
    '',
    `${fmt(r.events)} \`run.started\` events were written into one tenant's chain in batches of 5,000 through \`recordAudit\` (the database links each under the chain head's lock): ` +
      `${fmt(r.events / r.writeSeconds)} events/s. The table was then vacuumed, as autovacuum would have by the time anyone exports events (right after a bulk write the first reader sets every row's commit hint bits, several times the cost of the read here). The export then ran in a separate Node process (\`bench/auditExportChild.ts\`) so that its resident memory is its own: ` +
      `it recorded \`audit.exported\`, signed the head, streamed the chain (keyset reads of 1,000, the next one prefetched) into events.jsonl, events.csv and the report while verifying each link, ` +
      `gzipping events.jsonl and events.csv in 1 MiB blocks on the thread pool as their lines arrived, and then put the ${fmt(r.bytes / 2 ** 20, 1)} MB .tar.gz together from tar headers and those blocks. The baseline is the same process reading the same rows with the same keyset query and doing nothing with them.`,
    '',
  ];
}
