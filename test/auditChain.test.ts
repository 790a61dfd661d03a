/**
 * The tamper-evident audit log as the database holds it: one hash chain per tenant, made
 * by the database; append-only even for the owner; signed checkpoints; retention and
 * legal hold; fail closed; and every kind of tampering named at the right event.
 */
import test from 'ava';
import pg from 'pg';
import { derivedRuntimeRole, runtimeUrlFor } from '../core/db/roles.js';
import { auditContent } from '../core/audit/audit.js';
import { contentDigest, linkHash } from '../core/audit/chain.js';
import { verifyStoredChain } from '../core/audit/verifyStored.js';
import { pruneAuditChain } from '../core/audit/maintenance.js';
import { startTestAppliance, waitFor, ADMIN_TOKEN, type TestAppliance } from './support/appliance.js';

let app: TestAppliance;
let tenantA: { id: string; tokens: Record<string, string> };
let tenantB: { id: string; tokens: Record<string, string> };

test.before(async () => {
  // A checkpoint every 4 events, so the tamper cases have signed heads before and after them.
  app = await startTestAppliance({ config: { auditCheckpointEvents: 4, auditCheckpointSeconds: 3600, sandboxPoolSize: 1 } });
  tenantA = await app.tenant('audit-a', ['ADMIN', 'AUDITOR']);
  tenantB = await app.tenant('audit-b', ['ADMIN']);
  for (let i = 0; i < 5; i++) {
    const r = await app.gql(
      tenantA.tokens['ADMIN']!,
      'mutation($n: String!) { createWorkflow(input: { name: $n, definition: { steps: [{ id: "a", uses: "core/noop@1" }] } }) { id } }',
      { n: `wf-${i}` },
    );
    if (!r.data) throw new Error(JSON.stringify(r.errors));
  }
  await app.gql(
    tenantB.tokens['ADMIN']!,
    'mutation { createWorkflow(input: { name: "b", definition: { steps: [{ id: "a", uses: "core/noop@1" }] } }) { id } }',
  );
  // Tenant A has 1 (created) + 2 (tokens) + 5 (workflows) = 8 events: checkpoints at 4 and 8.
  await waitFor(
    async () =>
      (await owner((c) => c.query(`select count(*)::int as n from audit_checkpoints where tenant_id = $1`, [tenantA.id]))).rows[0].n >= 2,
    'checkpoints of tenant A',
  );
});

test.after.always(async () => {
  await app?.stop();
});

async function owner<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: app.databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Tampers as the database owner (triggers off), verifies, and rolls everything back. */
async function tamperAndVerify(tenantId: string, tamper: (c: pg.Client) => Promise<unknown>) {
  return owner(async (c) => {
    await c.query('begin');
    try {
      await c.query('alter table audit_events disable trigger user');
      await c.query('alter table audit_checkpoints disable trigger user');
      await tamper(c);
      return await verifyStoredChain(c, tenantId);
    } finally {
      await c.query('rollback');
    }
  });
}

const chainRows = (c: pg.Client, tenantId: string) =>
  c.query<{ seq: string; digest: Buffer; hash: Buffer; id: string }>(
    'select chain_seq as seq, content_digest as digest, hash, id from audit_events where tenant_id = $1 order by chain_seq',
    [tenantId],
  );

test('each tenant has its own chain, numbered from 1 without gaps, that verifies; checkpoints are signed', async (t) => {
  const a = await owner((c) => verifyStoredChain(c, tenantA.id));
  t.true(a.ok, JSON.stringify(a.finding));
  t.is(a.firstSeq, 1);
  t.is(a.events, a.lastSeq!);
  t.true(a.events >= 8);
  t.true(a.checkpoints >= 2);
  const b = await owner((c) => verifyStoredChain(c, tenantB.id));
  t.true(b.ok);
  t.is(b.firstSeq, 1);
  const appliance = await owner((c) => verifyStoredChain(c, null));
  t.true(appliance.ok, JSON.stringify(appliance.finding));
  const seqs = (await owner((c) => chainRows(c, tenantA.id))).rows.map((r) => Number(r.seq));
  t.deepEqual(
    seqs,
    seqs.map((_, i) => i + 1),
  );
  // The API shows the chain's numbering and hash.
  const page = await app.gql(tenantA.tokens['AUDITOR']!, '{ auditEvents(first: 3) { nodes { seq action hash } } }');
  t.deepEqual(
    page.data.auditEvents.nodes.map((n: { seq: number }) => n.seq),
    [1, 2, 3],
  );
  t.regex(page.data.auditEvents.nodes[0].hash, /^[0-9a-f]{64}$/);
});

test('audit rows refuse UPDATE, DELETE and TRUNCATE, even for the owner; the runtime role cannot write links itself', async (t) => {
  for (const statement of [
    "update audit_events set reason = 'x'",
    'delete from audit_events',
    'truncate audit_events',
    'update audit_checkpoints set seq = 1',
    'delete from audit_checkpoints',
  ]) {
    const error = await owner((c) =>
      c.query(statement).then(
        () => null,
        (e: Error) => e,
      ),
    );
    t.truthy(error, statement);
    t.regex(error!.message, /append-only|immutable/, statement);
  }
  const runtime = new pg.Client({ connectionString: runtimeUrlFor(app.databaseUrl, derivedRuntimeRole(app.databaseUrl)) });
  await runtime.connect();
  try {
    await runtime.query('begin');
    await runtime.query(`select set_config('app.tenant_id', $1, true)`, [tenantA.id]);
    const content = auditContent(null, { action: 'forged', targetType: 'x', tenantId: tenantA.id }, new Date());
    // Whatever sequence number and hash the writer claims, the database links the row itself.
    const { rows } = await runtime.query(
      `insert into audit_events (id, tenant_id, at, actor_name, actor_role, action, target_type, outcome, details, content_digest, chain_seq, hash, prev_hash)
       values ($1, $2, $3, 'system', 'SYSTEM', 'forged', 'x', 'SUCCESS', '{}', $4, 1, '\\x00', '\\x00') returning chain_seq, hash`,
      [content.id, tenantA.id, content.at, contentDigest(content)],
    );
    t.not(Number(rows[0].chain_seq), 1);
    t.is((rows[0].hash as Buffer).length, 32);
    const denied = await runtime.query('update audit_chains set seq = 1').then(
      () => null,
      (e: Error) => e,
    );
    t.regex(denied!.message, /permission denied/);
  } finally {
    await runtime.query('rollback').catch(() => undefined);
    await runtime.end();
  }
});

test('tamper matrix on the stored chain: each kind is named at the first bad event', async (t) => {
  const modified = await tamperAndVerify(tenantA.id, (c) =>
    c.query(`update audit_events set reason = 'edited' where tenant_id = $1 and chain_seq = 3`, [tenantA.id]),
  );
  t.like(modified.finding, { kind: 'MODIFIED', seq: 3 });

  const deleted = await tamperAndVerify(tenantA.id, (c) =>
    c.query('delete from audit_events where tenant_id = $1 and chain_seq = 5', [tenantA.id]),
  );
  t.like(deleted.finding, { kind: 'MISSING', seq: 5 });

  const reordered = await tamperAndVerify(tenantA.id, async (c) => {
    await c.query('update audit_events set chain_seq = -1 where tenant_id = $1 and chain_seq = 6', [tenantA.id]);
    await c.query('update audit_events set chain_seq = 6 where tenant_id = $1 and chain_seq = 7', [tenantA.id]);
    await c.query('update audit_events set chain_seq = 7 where tenant_id = $1 and chain_seq = -1', [tenantA.id]);
  });
  t.like(reordered.finding, { kind: 'LINK_BROKEN', seq: 6 });

  // The strongest forger: inserts an event at 6 and recomputes every later link. Only the
  // signed checkpoint at 8 can tell, and the checkpoint at 4 still matches.
  const forged = await tamperAndVerify(tenantA.id, async (c) => {
    const rows = (await chainRows(c, tenantA.id)).rows;
    await c.query('update audit_events set chain_seq = chain_seq + 1000 where tenant_id = $1 and chain_seq >= 6', [tenantA.id]);
    const content = auditContent(null, { action: 'workflow.created', targetType: 'workflow', tenantId: tenantA.id }, new Date());
    let prev = rows[4]!.hash;
    const insert = async (seq: number, digest: Buffer, id: string | null) => {
      const hash = linkHash(prev, seq, digest);
      if (id === null) {
        await c.query(
          `insert into audit_events (id, tenant_id, at, actor_name, actor_role, action, target_type, outcome, details, content_digest, chain_seq, prev_hash, hash)
                       values ($1, $2, $3, 'system', 'SYSTEM', 'workflow.created', 'workflow', 'SUCCESS', '{}', $4, $5, $6, $7)`,
          [content.id, tenantA.id, content.at, digest, seq, prev, hash],
        );
      } else {
        await c.query('update audit_events set chain_seq = $2, prev_hash = $3, hash = $4 where id = $1', [id, seq, prev, hash]);
      }
      prev = hash;
    };
    await insert(6, contentDigest(content), null);
    for (const [i, row] of rows.slice(5).entries()) await insert(7 + i, row.digest, row.id);
    await c.query('update audit_chains set seq = seq + 1, head_hash = $2 where chain_key = $1', [tenantA.id, prev]);
  });
  t.like(forged.finding, { kind: 'CHECKPOINT_MISMATCH', seq: 5 });

  const truncated = await tamperAndVerify(tenantA.id, (c) =>
    c.query('delete from audit_events where tenant_id = $1 and chain_seq >= 7', [tenantA.id]),
  );
  t.like(truncated.finding, { kind: 'TRUNCATED', seq: 7 });

  const forgedCheckpoint = await tamperAndVerify(tenantA.id, (c) =>
    c.query(`update audit_checkpoints set head_hash = sha256('forged') where tenant_id = $1 and seq = 4`, [tenantA.id]),
  );
  t.like(forgedCheckpoint.finding, { kind: 'CHECKPOINT_SIGNATURE', seq: 4 });

  // Nothing above was kept.
  t.true((await owner((c) => verifyStoredChain(c, tenantA.id))).ok);
});

test('fail closed: when the audit record cannot be written, the audited action does not happen', async (t) => {
  await owner((c) =>
    c.query(`create function sy_test_refuse_audit() returns trigger language plpgsql as $$ begin raise exception 'audit storage unavailable'; end $$;
    create trigger sy_test_refuse_audit before insert on audit_events for each row when (new.action = 'workflow.created' and new.tenant_id = '${tenantB.id}') execute function sy_test_refuse_audit()`),
  );
  try {
    const r = await app.gql(
      tenantB.tokens['ADMIN']!,
      'mutation { createWorkflow(input: { name: "unaudited", definition: { steps: [{ id: "a", uses: "core/noop@1" }] } }) { id } }',
    );
    t.is(r.errors?.[0]?.extensions.code, 'INTERNAL');
    t.notRegex(JSON.stringify(r.errors), /audit storage unavailable|insert into/);
    const { rows } = await owner((c) => c.query(`select count(*)::int as n from workflows where name = 'unaudited'`));
    t.is(rows[0].n, 0);
  } finally {
    await owner((c) => c.query('drop trigger sy_test_refuse_audit on audit_events; drop function sy_test_refuse_audit()'));
  }
  const ok = await app.gql(
    tenantB.tokens['ADMIN']!,
    'mutation { createWorkflow(input: { name: "audited", definition: { steps: [{ id: "a", uses: "core/noop@1" }] } }) { id } }',
  );
  t.truthy(ok.data?.createWorkflow.id);
});

test("retention removes the oldest events past the tenant's retention and records it; legal hold stops it; recent events cannot be removed", async (t) => {
  // A tenant made without the API, whose chain starts with three events from 10 days ago, then one of now.
  const tenantId = '01900000-0000-7000-8000-00000000a0d1';
  await owner(async (c) => {
    await c.query(`insert into tenants (id, name) values ($1, 'audit-retention')`, [tenantId]);
    await c.query('begin');
    await c.query(`select set_config('app.tenant_id', $1, true)`, [tenantId]);
    for (const [i, daysAgo] of [10, 10, 10, 0].entries()) {
      const content = auditContent(
        null,
        { action: 'workflow.created', targetType: 'workflow', tenantId, details: { i } },
        new Date(Date.now() - daysAgo * 86_400_000),
      );
      await c.query(
        `insert into audit_events (id, tenant_id, at, actor_name, actor_role, action, target_type, outcome, details, content_digest)
                     values ($1, $2, $3, 'system', 'SYSTEM', 'workflow.created', 'workflow', 'SUCCESS', $4, $5)`,
        [content.id, tenantId, content.at, content.details, contentDigest(content)],
      );
    }
    await c.query('commit');
  });
  const db = app.appliance.services.db;
  const set = (input: Record<string, unknown>) =>
    app.gql(ADMIN_TOKEN, 'mutation($i: SetAuditRetentionInput!) { setAuditRetention(input: $i) { auditRetentionDays auditLegalHold } }', {
      i: { tenantId, ...input },
    });
  const bad = await set({ retentionDays: 0 });
  t.is(bad.errors?.[0]?.extensions.code, 'BAD_USER_INPUT');
  t.regex(bad.errors![0]!.message, /input\.retentionDays/);
  t.deepEqual((await set({ retentionDays: 5, legalHold: true })).data.setAuditRetention, { auditRetentionDays: 5, auditLegalHold: true });
  t.is((await pruneAuditChain(db, tenantId)).removed, 0, 'legal hold keeps everything');
  t.deepEqual((await set({ legalHold: false })).data.setAuditRetention, { auditRetentionDays: 5, auditLegalHold: false });
  const pruned = await pruneAuditChain(db, tenantId, 2);
  t.deepEqual(pruned, { removed: 3, firstSeq: 1, lastSeq: 3 });
  const rows = await owner((c) =>
    c.query(`select chain_seq::int as seq, action, details from audit_events where tenant_id = $1 order by chain_seq`, [tenantId]),
  );
  t.deepEqual(
    rows.rows.map((r) => [r.seq, r.action]),
    [
      [4, 'workflow.created'],
      [5, 'tenant.audit_retention_changed'],
      [6, 'tenant.audit_retention_changed'],
      [7, 'audit.retention_pruned'],
      [8, 'audit.retention_pruned'],
    ],
  );
  t.like(rows.rows[1].details, { before: { retentionDays: 2557, legalHold: false }, after: { retentionDays: 5, legalHold: true } });
  t.like(rows.rows[3].details, { removed: 2, firstSeq: 1, lastSeq: 2 });
  t.like(rows.rows[4].details, { removed: 1, firstSeq: 3, lastSeq: 3 });
  // What is left still verifies, from the last removed hash on.
  const verified = await owner((c) => verifyStoredChain(c, tenantId));
  t.true(verified.ok, JSON.stringify(verified.finding));
  t.is(verified.firstSeq, 4);
  // Nothing recent goes, and the retention flag does not let anyone remove recent events.
  t.is((await pruneAuditChain(db, tenantId)).removed, 0);
  const refused = await owner(async (c) => {
    await c.query('begin');
    await c.query(`select set_config('switchyard.audit_pruning', 'on', true)`);
    const error = await c.query('delete from audit_events where tenant_id = $1', [tenantId]).then(
      () => null,
      (e: Error) => e,
    );
    await c.query('rollback');
    return error;
  });
  t.regex(refused!.message, /within its retention or on legal hold/);
});
