/**
 * Compliance export: one tenant's chain (or the appliance's) for a period, as a signed
 * bundle an outside party verifies offline (`switchyard audit verify`). The export is
 * recorded in the chain first and the head then signed, so the bundle covers its own
 * record and ends at a signed checkpoint. Events stream from the database to files a batch
 * at a time; memory stays flat whatever the size.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { scopeOf, type Database, type Queryable } from '../db/database.js';
import { authorize, type RequestContext } from '../auth/roles.js';
import { badInput, notFound } from '../errors.js';
import { isId, newId } from '../ids.js';
import { recordAudit } from './audit.js';
import { canonicalJson } from '../canonicalJson.js';
import { auditContentJson, chainKey, digestHexOfJson, type AuditContent } from './chain.js';
import { latestCheckpoint, readCheckpoints, signCheckpoint, type AuditCheckpoint } from './checkpoints.js';
import { readChain } from './chainReader.js';
import { ChainVerifier } from './verifyChain.js';
import { AuditReportBuilder } from './report.js';
import { csvRecord } from './csv.js';
import { CompressedBundleFile, writeBundleArchive, type ArchiveEntry } from './bundleArchive.js';
import type { AuditSigningKey } from './signingKey.js';
import { BUNDLE_FILES, CHECKSUMS_FILE, MANIFEST_FILE, MANIFEST_SIGNATURE_FILE, type ExportManifest, type ExportQuery } from './bundle.js';

export interface AuditExportInput {
  tenantId?: string | null;
  from?: string | Date | null;
  to?: string | Date | null;
  actions?: string[] | null;
}

export interface AuditExport {
  id: string;
  downloadUrl: string;
  /** SHA-256 (hex) of the bundle file. */
  sha256: string;
  bytes: number;
  eventCount: number;
  firstSeq: number | null;
  lastSeq: number | null;
  verified: boolean;
  verificationProblem: string | null;
  createdAt: Date;
  expiresAt: Date;
}

const CSV_COLUMNS = [
  'seq',
  'at',
  'tenant_id',
  'actor_token_id',
  'actor_name',
  'actor_role',
  'action',
  'target_type',
  'target_id',
  'outcome',
  'reason',
  'request_id',
  'source_address',
  'user_agent',
  'details',
  'hash',
];
const KEEP_MS = 24 * 3600 * 1000;
// Events per read: small enough that the garbage of one batch stays in V8's young generation.
const EXPORT_BATCH = 1000;

export class AuditExportService {
  constructor(
    private readonly db: Database,
    private readonly key: AuditSigningKey,
    private readonly directory: string,
  ) {}

  async export(ctx: RequestContext, input: AuditExportInput): Promise<AuditExport> {
    authorize(ctx.actor, 'audit:read');
    const query = this.parse(ctx, input);
    const tenantId = query.tenantId;
    const id = newId();
    const scope = scopeOf(tenantId);
    // Recorded before anything is read, and signed with the head: the bundle covers its own record.
    const head = await this.db.tx(scope, async (q) => {
      await recordAudit(q, ctx, { action: 'audit.exported', targetType: 'audit_export', targetId: id, tenantId, details: { query } });
      return signCheckpoint(q, this.key, tenantId);
    });
    fs.mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    const work = fs.mkdtempSync(path.join(this.directory, `.${id}-`));
    try {
      const { manifest, entries } = await this.db.tx(scope, (q) => this.writeBundle(q, ctx, id, query, head!, work));
      const file = path.join(this.directory, `${id}.tar.gz`);
      const { sha256, bytes } = await writeBundleArchive(file, `audit-export-${id}`, entries);
      const createdAt = new Date();
      const expiresAt = new Date(createdAt.getTime() + KEEP_MS);
      await this.db.tx(scope, (q) =>
        q.query(
          `insert into audit_exports (id, tenant_id, created_by, query, sha256, bytes, event_count, created_at, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [id, tenantId, ctx.actor.tokenId, query, sha256, bytes, manifest.eventCount, createdAt, expiresAt],
        ),
      );
      return {
        id,
        downloadUrl: `/audit-exports/${id}`,
        sha256,
        bytes,
        eventCount: manifest.eventCount,
        firstSeq: manifest.range.firstSeq,
        lastSeq: manifest.range.lastSeq,
        verified: manifest.verification.ok,
        verificationProblem: manifest.verification.finding?.message ?? null,
        createdAt,
        expiresAt,
      };
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }

  /** Deletes bundle files past their download window (and work folders a crash left behind); returns how many. */
  removeExpired(now = Date.now()): number {
    if (!fs.existsSync(this.directory)) return 0;
    let removed = 0;
    for (const name of fs.readdirSync(this.directory)) {
      const file = path.join(this.directory, name);
      if (now - fs.statSync(file).mtimeMs > KEEP_MS) {
        fs.rmSync(file, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }

  signingCertificate(ctx: RequestContext): { fingerprint: string; pem: string } {
    authorize(ctx.actor, 'audit:read');
    return { fingerprint: this.key.fingerprint, pem: this.key.certificatePem };
  }

  /** The bundle file of an export the caller may read, or NOT_FOUND. */
  async bundleFile(ctx: RequestContext, id: string): Promise<{ file: string; sha256: string }> {
    authorize(ctx.actor, 'audit:read');
    if (!isId(id)) throw notFound('audit export', id);
    // A tenant's auditors see their tenant's exports; a system admin the ones it made.
    const tenantId = ctx.actor.tenantId;
    const row =
      (await this.db.tx(scopeOf(tenantId), async (q) => {
        const { rows } = await q.query<{ tenant_id: string | null; sha256: string; expires_at: Date; created_by: string }>(
          'select tenant_id, sha256, expires_at, created_by from audit_exports where id = $1',
          [id],
        );
        return rows[0];
      })) ?? (ctx.actor.role === 'SYSTEM_ADMIN' ? await this.findSystemExport(ctx, id) : undefined);
    const file = path.join(this.directory, `${id}.tar.gz`);
    if (!row || row.expires_at.getTime() < Date.now() || !fs.existsSync(file)) throw notFound('audit export', id);
    await this.db.tx(scopeOf(row.tenant_id), (q) =>
      recordAudit(q, ctx, { action: 'audit.export_downloaded', targetType: 'audit_export', targetId: id, tenantId: row.tenant_id }),
    );
    return { file, sha256: row.sha256 };
  }

  private async findSystemExport(ctx: RequestContext, id: string) {
    const { rows } = await this.db.query<{ tenant_id: string | null; sha256: string; expires_at: Date; created_by: string }>(
      'system',
      'select tenant_id, sha256, expires_at, created_by from audit_export_made_by($1, $2)',
      [id, ctx.actor.tokenId],
    );
    return rows[0];
  }

  private parse(ctx: RequestContext, input: AuditExportInput): ExportQuery {
    let tenantId = ctx.actor.tenantId;
    if (input.tenantId != null) {
      if (ctx.actor.role === 'SYSTEM_ADMIN') {
        if (!isId(input.tenantId)) throw badInput('input.tenantId', 'not a valid ID');
        tenantId = input.tenantId;
      } else if (input.tenantId !== tenantId) {
        throw notFound('tenant', input.tenantId);
      }
    }
    const date = (value: string | Date | null | undefined, name: string): string | null => {
      if (value == null) return null;
      const d = new Date(value);
      if (Number.isNaN(d.getTime())) throw badInput(`input.${name}`, 'not a valid date-time');
      return d.toISOString();
    };
    const from = date(input.from, 'from');
    const to = date(input.to, 'to');
    if (from && to && from >= to) throw badInput('input.to', 'must be after input.from');
    const actions = input.actions ?? null;
    if (actions !== null) {
      if (!Array.isArray(actions) || actions.length > 100) throw badInput('input.actions', 'must be a list of at most 100 actions');
      for (const [i, a] of actions.entries())
        if (typeof a !== 'string' || !/^[a-z_]+(\.[a-z_]+)+$/.test(a))
          throw badInput(`input.actions[${i}]`, 'not an audit action name (like "run.started")');
    }
    return { tenantId, from, to, actions: actions && actions.length > 0 ? [...new Set(actions)].sort() : null };
  }

  /** Streams the chain into the bundle's files: the big ones compressed into `work` as they are written, the rest in memory. */
  private async writeBundle(
    q: Queryable,
    ctx: RequestContext,
    id: string,
    query: ExportQuery,
    head: AuditCheckpoint,
    work: string,
  ): Promise<{ manifest: ExportManifest; entries: ArchiveEntry[] }> {
    const tenantId = query.tenantId;
    const chain = chainKey(tenantId);
    const {
      rows: [bounds],
    } = await q.query<{ first: number | null; last: number | null }>(
      `select (select min(chain_seq) from audit_events where chain_key = $1 and ($2::timestamptz is null or at >= $2)) as first,
              (select max(chain_seq) from audit_events where chain_key = $1 and ($3::timestamptz is null or at < $3)) as last`,
      [chain, query.from, query.to],
    );
    const firstSeq = bounds!.first;
    const lastSeq = bounds!.last !== null && firstSeq !== null && bounds!.last >= firstSeq ? bounds!.last : null;
    // The first checkpoint at or after the range's end authenticates every link up to it.
    const covering =
      lastSeq === null
        ? null
        : ((
            await q.query<{ seq: number }>(
              `select min(seq) as seq from audit_checkpoints where tenant_id is not distinct from $1 and seq >= $2`,
              [tenantId, lastSeq],
            )
          ).rows[0]?.seq ?? head.seq);
    const checkpoints = firstSeq === null ? [] : await readCheckpoints(q, tenantId, firstSeq, covering ?? head.seq);
    const latest = await latestCheckpoint(q, tenantId);
    if (latest && !checkpoints.some((c) => c.seq === latest.seq)) checkpoints.push(latest);

    let anchor: ExportManifest['anchor'] = null;
    if (firstSeq !== null && firstSeq > 1) {
      const { rows } = await q.query<{ prev: string }>(
        `select encode(prev_hash, 'hex') as prev from audit_events where chain_key = $1 and chain_seq = $2`,
        [chain, firstSeq],
      );
      anchor = { seq: firstSeq - 1, hash: rows[0]!.prev };
    }
    const report = new AuditReportBuilder();
    const verifier = new ChainVerifier(
      anchor,
      checkpoints.filter((c) => covering === null || c.seq <= covering),
    );
    const actions = query.actions ? new Set(query.actions) : null;
    const included = (c: AuditContent) =>
      (query.from === null || c.at >= query.from) && (query.to === null || c.at < query.to) && (actions === null || actions.has(c.action));
    let eventCount = 0;
    let linkCount = 0;
    let lastLink: number | null = null;
    const events = new CompressedBundleFile(BUNDLE_FILES.events, path.join(work, `${BUNDLE_FILES.events}.gz`));
    const csv = new CompressedBundleFile(BUNDLE_FILES.csv, path.join(work, `${BUNDLE_FILES.csv}.gz`));
    try {
      csv.append(csvRecord(CSV_COLUMNS));
      if (firstSeq !== null && covering !== null) {
        for await (const batch of readChain(q, tenantId, firstSeq, covering, EXPORT_BATCH)) {
          for (const { link, content } of batch) {
            linkCount++;
            lastLink = link.seq;
            const details = canonicalJson(content.details);
            const canonical = auditContentJson(content, details);
            verifier.add(link, { digest: digestHexOfJson(canonical) });
            const tail = `"contentDigest":"${link.contentDigest}","prevHash":"${link.prevHash}","hash":"${link.hash}"}\n`;
            if (link.seq > lastSeq! || !included(content)) {
              events.append(`{"seq":${link.seq},"omitted":true,${tail}`);
              continue;
            }
            // The event's canonical JSON with its number and link: the line the verifier hashes again.
            events.append(`{"seq":${link.seq},${canonical.slice(1, -1)},${tail}`);
            eventCount++;
            report.add(link.seq, content);
            csv.append(
              csvRecord([
                link.seq,
                content.at,
                content.tenantId,
                content.actor.tokenId,
                content.actor.name,
                content.actor.role,
                content.action,
                content.target.type,
                content.target.id,
                content.outcome,
                content.reason,
                content.requestId,
                content.sourceAddress,
                content.userAgent,
                details,
                link.hash,
              ]),
            );
          }
          await events.drain();
          await csv.drain();
        }
      }
    } catch (error) {
      events.abort();
      csv.abort();
      throw error;
    }
    const finding = verifier.finish(covering);
    const files: Record<string, string> = {};
    const entries: ArchiveEntry[] = [];
    for (const file of [events, csv]) {
      const { sha256, size } = await file.close();
      files[file.name] = sha256;
      entries.push({ name: file.name, compressed: file, size });
    }
    const exportedAt = new Date().toISOString();
    const verification = finding
      ? `FAILED: ${finding.kind} at event ${finding.seq ?? '-'}: ${finding.message}`
      : `every link verified${covering !== null ? ` up to the checkpoint signed at event ${covering}` : ''}`;
    const html = report.html({
      title: `Switchyard audit report: ${tenantId ? `tenant ${tenantId}` : 'appliance'}`,
      chain,
      exportedAt,
      exportedBy: `${ctx.actor.tokenName} (${ctx.actor.role})`,
      range: `${query.from ?? 'the beginning'} to ${query.to ?? exportedAt}${query.actions ? `, actions ${query.actions.join(', ')}` : ''}`,
      verification,
    });
    files[BUNDLE_FILES.report] = smallFile(entries, BUNDLE_FILES.report, html);
    files[BUNDLE_FILES.checkpoints] = smallFile(
      entries,
      BUNDLE_FILES.checkpoints,
      checkpoints.map((c) => `${JSON.stringify(c)}\n`).join(''),
    );
    const { rows: certs } = await q.query<{ fingerprint: string; certificate_pem: string }>(
      'select fingerprint, certificate_pem from audit_signing_keys where fingerprint = any($1) order by fingerprint',
      [[...new Set([this.key.fingerprint, ...checkpoints.map((c) => c.keyFingerprint)])]],
    );
    files[BUNDLE_FILES.certificates] = smallFile(
      entries,
      BUNDLE_FILES.certificates,
      certs.map((c) => c.certificate_pem.trim()).join('\n') + '\n',
    );
    const manifest: ExportManifest = {
      type: 'switchyard.audit.export',
      version: 1,
      id,
      exportedAt,
      exportedBy: { tokenId: ctx.actor.tokenId, name: ctx.actor.tokenName, role: ctx.actor.role },
      query,
      chain,
      eventCount,
      linkCount,
      range: { firstSeq: linkCount > 0 ? firstSeq : null, lastSeq: lastLink },
      anchor,
      coveringCheckpointSeq: covering,
      chainHeadSeq: head.seq,
      checkpointCount: checkpoints.length,
      signingKeyFingerprint: this.key.fingerprint,
      files,
      verification: { ok: finding === null, finding },
    };
    const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
    smallFile(entries, MANIFEST_FILE, manifestText);
    smallFile(entries, MANIFEST_SIGNATURE_FILE, Buffer.from(this.key.sign(manifestText), 'base64'));
    smallFile(
      entries,
      CHECKSUMS_FILE,
      Object.entries(files)
        .map(([name, digest]) => `${digest}  ${name}\n`)
        .join(''),
    );
    return { manifest, entries };
  }
}

/** A small bundle file: its archive entry, and its SHA-256 (hex) for the manifest. */
function smallFile(entries: ArchiveEntry[], name: string, content: string | Buffer): string {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  entries.push({ name, content: bytes });
  return createHash('sha256').update(bytes).digest('hex');
}
