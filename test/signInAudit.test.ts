/**
 * Sign-ins in the audit log: the first of each minute per token (or refused prefix) and
 * source address is written before the request is served; the rest of the minute is one
 * summary with a count. A refused known token is recorded in its tenant's chain.
 */
import test from 'ava';
import pg from 'pg';
import { startTestAppliance, type TestAppliance } from './support/appliance.js';
import { SignInAuditor } from '../core/auth/signInAudit.js';
import { createLogger } from '../core/logger.js';

let app: TestAppliance;

test.before(async () => {
  app = await startTestAppliance({ config: { sandboxPoolSize: 1 } });
});
test.after.always(async () => {
  await app?.stop();
});

async function events(tenantId: string | null, action: string) {
  const client = new pg.Client({ connectionString: app.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `select details, outcome, reason, source_address, actor_token_id from audit_events
      where tenant_id is not distinct from $1 and action = $2 order by chain_seq`,
      [tenantId, action],
    );
    return rows;
  } finally {
    await client.end();
  }
}

test("successful sign-ins: one event per token and source per minute, in the token's tenant chain", async (t) => {
  const tenant = await app.tenant('sign-in-ok', ['VIEWER']);
  for (let i = 0; i < 3; i++) t.truthy((await app.gql(tenant.tokens['VIEWER']!, '{ viewer { role } }')).data);
  const rows = await events(tenant.id, 'auth.signed_in');
  t.is(rows.length, 1);
  t.like(rows[0], { outcome: 'SUCCESS', source_address: '127.0.0.1' });
  t.is(rows[0].details.count, 1);
});

test("refused sign-ins: unknown tokens in the appliance chain, a revoked one in its tenant's; never the token itself", async (t) => {
  const wrong = 'sy_AbCdEfGh_0123456789abcdefghijklmnopqrstuv';
  for (let i = 0; i < 4; i++) t.is((await app.gql(wrong, '{ viewer { role } }')).errors?.[0]?.extensions.code, 'UNAUTHENTICATED');
  const appliance = (await events(null, 'auth.sign_in_failed')).filter((r) => r.details.prefix === 'sy_AbCdEfGh');
  t.is(appliance.length, 1, 'the first refusal of the minute is written at once; the others are counted');
  t.like(appliance[0], { outcome: 'FAILURE', reason: 'unknown' });
  const tenant = await app.tenant('sign-in-revoked', ['ADMIN', 'VIEWER']);
  const token = tenant.tokens['VIEWER']!;
  const id = (await app.gql(token, '{ viewer { token { id } } }')).data.viewer.token.id;
  await app.gql(tenant.tokens['ADMIN']!, 'mutation($id: ID!) { revokeApiToken(id: $id) { id } }', { id });
  t.is((await app.gql(token, '{ viewer { role } }')).errors?.[0]?.extensions.code, 'UNAUTHENTICATED');
  const revoked = await events(tenant.id, 'auth.sign_in_failed');
  t.is(revoked.length, 1);
  t.is(revoked[0].reason, 'revoked');
  t.false(JSON.stringify([...appliance, ...revoked]).includes(wrong.slice(12)));
  t.false(JSON.stringify(revoked).includes(token.slice(12)));
});

test('the rest of a window is one summary with its count; made-up prefixes beyond the cap fold into one window per source', async (t) => {
  const db = app.appliance.services.db;
  const auditor = new SignInAuditor(db, createLogger('silent'), 3);
  const client = { requestId: 'r', sourceAddress: '198.51.100.7' };
  const t0 = Date.UTC(2026, 11, 1, 12, 0, 0);
  for (let i = 0; i < 5; i++) await auditor.failed('sy_SameSame', 'unknown', null, client, t0 + i);
  for (let i = 0; i < 10; i++) await auditor.failed(`sy_Spray${i.toString().padStart(4, '0')}`, 'unknown', null, client, t0 + 100 + i);
  await auditor.flush(t0 + 60_000);
  const rows = (await events(null, 'auth.sign_in_failed')).filter((r) => r.source_address === '198.51.100.7');
  const same = rows.filter((r) => r.details.prefix === 'sy_SameSame');
  t.deepEqual(
    same.map((r) => r.details.count),
    [1, 4],
  );
  t.true(same[1].details.summary);
  t.deepEqual(same[1].details.reasons, { unknown: 4 });
  // Windows 2 and 3 are the first two sprayed prefixes; the other 8 share the source's catch-all window.
  const folded = rows.filter((r) => r.details.prefix === '*');
  t.deepEqual(
    folded.map((r) => r.details.count),
    [1, 7],
  );
  t.is(rows.length, 2 + 2 + 2, 'two prefixes of their own (one event each), the repeated one and the catch-all with summaries');
});
