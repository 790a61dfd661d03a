/**
 * One contiguous part of a chain, as the export writes it: every link checked, included
 * events written to events.jsonl and events.csv parts, the report's tables counted. An
 * export of a long chain runs several segments at once, each in a worker thread with its
 * own connection (exportSegmentWorker.ts), and joins them (export.ts); a short one runs
 * one segment in the calling thread. Rows up to the covering checkpoint are immutable, so
 * segments read in separate transactions still read one chain.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { stringify } from 'csv-stringify/sync';
import type { Queryable } from '../db/database.js';
import { auditContentJson, digestHexOfJson, type AuditContent } from './chain.js';
import { readChain } from './chainReader.js';
import { ChainVerifier, type TamperFinding, type TrustedCheckpoint } from './verifyChain.js';
import { AuditReportBuilder, type AuditReportState } from './report.js';
import type { ExportQuery } from './bundle.js';

export interface SegmentTask {
  query: ExportQuery;
  /** Links [fromSeq, toSeq] of the chain. */
  fromSeq: number;
  toSeq: number;
  /** The export's last event; links after it (up to the covering checkpoint) are written as omitted. */
  lastSeq: number;
  /** The link before fromSeq (the export's anchor), for the first segment; later segments start from their first row's previous hash. */
  anchor: { seq: number; hash: string } | null;
  /** The last checkpoint before fromSeq that the walk has passed (for naming where a mismatch starts). */
  lastGoodCheckpoint: number;
  checkpoints: TrustedCheckpoint[];
  /** For the last segment: the covering checkpoint, which the walk must reach (else TRUNCATED). */
  mustReach: number | null;
  /** Part files to write. */
  eventsFile: string;
  csvFile: string;
}

export interface SegmentResult {
  eventCount: number;
  linkCount: number;
  firstLink: { seq: number; prevHash: string } | null;
  lastLink: { seq: number; hash: string } | null;
  finding: TamperFinding | null;
  report: AuditReportState;
}

// Events per read: small enough that the garbage of one batch stays in V8's young generation.
const EXPORT_BATCH = 1000;

/** A file written a chunk at a time. */
class PartFile {
  private readonly out: fs.WriteStream;

  constructor(file: string) {
    this.out = fs.createWriteStream(file, { mode: 0o600 });
  }

  async write(text: string): Promise<void> {
    if (!this.out.write(text)) await once(this.out, 'drain');
  }

  async close(): Promise<void> {
    this.out.end();
    await once(this.out, 'finish');
  }
}

export async function exportSegment(q: Queryable, task: SegmentTask): Promise<SegmentResult> {
  const { query, lastSeq } = task;
  const events = new PartFile(task.eventsFile);
  const csv = new PartFile(task.csvFile);
  const report = new AuditReportBuilder();
  const actions = query.actions ? new Set(query.actions) : null;
  const included = (c: AuditContent) => (query.from === null || c.at >= query.from) && (query.to === null || c.at < query.to) && (actions === null || actions.has(c.action));
  let verifier: ChainVerifier | null = null;
  let eventCount = 0;
  let linkCount = 0;
  let firstLink: SegmentResult['firstLink'] = null;
  let lastLink: SegmentResult['lastLink'] = null;
  try {
    for await (const batch of readChain(q, query.tenantId, task.fromSeq, task.toSeq, EXPORT_BATCH)) {
      let lines = '';
      const csvRows: unknown[][] = [];
      for (const { link, content } of batch) {
        if (verifier === null) {
          firstLink = { seq: link.seq, prevHash: link.prevHash };
          // A later segment hangs from its first row's previous hash; the join to the segment before is checked by the caller.
          const anchor = task.anchor ?? { seq: task.fromSeq - 1, hash: link.prevHash };
          verifier = new ChainVerifier(anchor, task.checkpoints, task.lastGoodCheckpoint);
        }
        linkCount++;
        lastLink = { seq: link.seq, hash: link.hash };
        const canonical = auditContentJson(content);
        verifier.add(link, { digest: digestHexOfJson(canonical) });
        const tail = `"contentDigest":"${link.contentDigest}","prevHash":"${link.prevHash}","hash":"${link.hash}"}\n`;
        if (link.seq > lastSeq || !included(content)) {
          lines += `{"seq":${link.seq},"omitted":true,${tail}`;
          continue;
        }
        // The event's canonical JSON with its number and link: the line the verifier hashes again.
        lines += `{"seq":${link.seq},${canonical.slice(1, -1)},${tail}`;
        eventCount++;
        report.add(link.seq, content);
        csvRows.push([link.seq, content.at, content.tenantId, content.actor.tokenId, content.actor.name, content.actor.role, content.action,
          content.target.type, content.target.id, content.outcome, content.reason, content.requestId, content.sourceAddress, content.userAgent,
          JSON.stringify(content.details), link.hash]);
      }
      await events.write(lines);
      if (csvRows.length > 0) await csv.write(stringify(csvRows));
    }
  } finally {
    await Promise.all([events.close(), csv.close()]);
  }
  // No row at all: the walk's end is its start.
  let finding = (verifier ?? new ChainVerifier({ seq: task.fromSeq - 1, hash: '' })).finish(task.mustReach);
  if (finding === null && (firstLink === null || firstLink.seq !== task.fromSeq)) {
    finding = { kind: 'MISSING', seq: task.fromSeq, message: `event ${task.fromSeq} is missing${firstLink ? ` (the next present is ${firstLink.seq})` : ''}` };
  }
  return { eventCount, linkCount, firstLink, lastLink, finding, report: report.state() };
}

/** Appends part files to `out` in order, hashing what is written; removes the parts. */
export async function joinParts(out: string, header: string, parts: readonly string[]): Promise<string> {
  const digest = createHash('sha256');
  const stream = fs.createWriteStream(out, { mode: 0o600 });
  const write = async (chunk: string | Buffer) => {
    digest.update(chunk);
    if (!stream.write(chunk)) await once(stream, 'drain');
  };
  try {
    if (header) await write(header);
    for (const part of parts) {
      for await (const chunk of fs.createReadStream(part, { highWaterMark: 1 << 20 })) await write(chunk as Buffer);
      fs.rmSync(part, { force: true });
    }
  } finally {
    stream.end();
    await once(stream, 'finish');
  }
  return digest.digest('hex');
}

/** Runs one segment in a worker thread of its own (exportSegmentWorker.ts). */
export function runSegmentInWorker(connectionString: string, task: SegmentTask, workers: Set<Worker>): Promise<SegmentResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./exportSegmentWorker.js', import.meta.url), {
      workerData: { connectionString, task },
      // A segment's batches are small and short-lived; a cap keeps two or three of them within the export's memory budget.
      resourceLimits: { maxOldGenerationSizeMb: 96 },
    });
    workers.add(worker);
    let settled = false;
    worker.once('message', (message: { ok: true; result: SegmentResult } | { ok: false; error: string }) => {
      settled = true;
      if (message.ok) resolve(message.result);
      else reject(new Error(`exporting events ${task.fromSeq} to ${task.toSeq} failed: ${message.error}`));
    });
    worker.once('error', (error) => { settled = true; reject(error); });
    worker.once('exit', (code) => {
      workers.delete(worker);
      if (!settled) reject(new Error(`the export thread for events ${task.fromSeq} to ${task.toSeq} stopped (exit code ${code})`));
    });
  });
}
