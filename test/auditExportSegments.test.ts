/**
 * Exports of long chains run in segments on worker threads (core/audit/exportSegment.ts).
 * Forced here onto short chains: the bundle must hold what one thread would have written,
 * and export-time verification must name tampering at a segment's edge as one walk would.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import * as tar from 'tar';
import { AuditExportService, type AuditExportInput } from '../core/audit/export.js';
import { AuditSigningKey } from '../core/audit/signingKey.js';
import { verifyAuditBundle } from '../core/audit/verifyBundle.js';
import type { RequestContext } from '../core/auth/roles.js';
import { newId } from '../core/ids.js';
import { startTestAppliance, type TestAppliance } from './support/appliance.js';

const SEGMENTS = 3;
let app: TestAppliance;
let work: string;
let key: AuditSigningKey;

test.before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-audit-segments-'));
  app = await startTestAppliance({ config: { auditCheckpointEvents: 5, sandboxPoolSize: 1, dataDir: work, auditSigningKeyFile: path.join(work, 'audit-signing.pem') } });
  key = AuditSigningKey.open(path.join(work, 'audit-signing.pem'), { create: false }).key;
});

test.after.always(async () => {
  await app?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

/** A tenant whose chain has some 20 events of two kinds. */
async function tenantWithEvents(name: string): Promise<{ id: string; ctx: RequestContext }> {
  const tenant = await app.tenant(name, ['ADMIN']);
  for (let i = 0; i < 8; i++) {
    const made = await app.gql(tenant.tokens['ADMIN']!, 'mutation($n: String!) { createWorkflow(input: { name: $n, definition: { steps: [{ id: "a", uses: "core/noop@1" }] } }) { id } }', { n: `wf-${i}` });
    await app.gql(tenant.tokens['ADMIN']!, 'mutation($w: ID!) { publishWorkflowVersion(input: { workflowId: $w, definition: { steps: [{ id: "b", uses: "core/noop@1" }] } }) { version } }', { w: made.data.createWorkflow.id });
  }
  return { id: tenant.id, ctx: { actor: { tokenId: newId(), tokenName: `auditor of ${name}`, role: 'AUDITOR', tenantId: tenant.id }, requestId: 'segments-test' } };
}

const service = (segments: number) => new AuditExportService(app.appliance.services.db, key, path.join(work, `exports-${segments}`), { segmentMinLinks: 2, segments });

async function bundleFiles(file: string): Promise<{ events: string[]; csv: string[] }> {
  const dir = fs.mkdtempSync(path.join(work, 'x-'));
  await tar.extract({ file, cwd: dir, strip: 1 });
  const read = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8').split('\n').filter(Boolean);
  return { events: read('events.jsonl'), csv: read('events.csv') };
}

async function owner<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: app.databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const headSeq = (tenantId: string) => owner(async (c) => Number((await c.query('select max(chain_seq) as n from audit_events where tenant_id = $1', [tenantId])).rows[0].n));

const inputs: [string, AuditExportInput][] = [['the whole chain', {}], ['one action (the rest as omitted links)', { actions: ['workflow.version_published'] }]];
for (const [label, input] of inputs) {
  test(`${label}: ${SEGMENTS} segments on worker threads write what one thread writes, and the bundle verifies offline`, async (t) => {
    const tenant = await tenantWithEvents(`segments-${label.length}`);
    const parallel = await service(SEGMENTS).export(tenant.ctx, input);
    const single = await service(1).export(tenant.ctx, input);
    t.true(parallel.verified, parallel.verificationProblem ?? '');
    t.true(single.verified, single.verificationProblem ?? '');
    const p = await bundleFiles(path.join(work, `exports-${SEGMENTS}`, `${parallel.id}.tar.gz`));
    const s = await bundleFiles(path.join(work, 'exports-1', `${single.id}.tar.gz`));
    // The single-thread export came second: its chain is longer by the first export's head and its own record.
    t.true(p.events.length >= 3 * SEGMENTS, `${p.events.length} links: enough for every segment`);
    t.deepEqual(p.events, s.events.slice(0, p.events.length));
    t.deepEqual(p.csv, s.csv.slice(0, p.csv.length));
    t.is(parallel.eventCount, p.csv.length - 1);
    t.true((await verifyAuditBundle(path.join(work, `exports-${SEGMENTS}`, `${parallel.id}.tar.gz`))).ok);
  });
}

/** Commits a tamper as the owner with the append-only triggers off (an attacker with the database's keys). */
const tamper = (sql: string, values: unknown[]) => owner(async (c) => {
  await c.query('begin');
  await c.query('alter table audit_events disable trigger user');
  await c.query(sql, values);
  await c.query('alter table audit_events enable trigger user');
  await c.query('commit');
});

test('tampering at a segment\'s edge is named at the right event: a modified first event, a missing last event', async (t) => {
  for (const [kind, edge] of [['modified', 'first'], ['deleted', 'last']] as const) {
    const tenant = await tenantWithEvents(`segments-${kind}`);
    // The export adds its own record, then covers the whole chain: segments of ceil(links / 3).
    const links = (await headSeq(tenant.id)) + 1;
    const size = Math.ceil(links / SEGMENTS);
    const seq = edge === 'first' ? size + 1 : size;
    if (kind === 'modified') await tamper(`update audit_events set reason = 'edited' where tenant_id = $1 and chain_seq = $2`, [tenant.id, seq]);
    else await tamper('delete from audit_events where tenant_id = $1 and chain_seq = $2', [tenant.id, seq]);
    const made = await service(SEGMENTS).export(tenant.ctx, {});
    t.false(made.verified, `${kind} event ${seq}`);
    // The same words as one walk of the chain (ChainVerifier) uses.
    t.is(made.verificationProblem, kind === 'modified' ? `event ${seq} was modified: its content does not match its digest` : `event ${seq} is missing (the next present is ${seq + 1})`);
  }
});
