/** Configuration changes are audited at start: what differs, never a secret; an unchanged restart records nothing. */
import test from 'ava';
import pg from 'pg';
import { startTestAppliance } from './support/appliance.js';
import { freshDatabase } from './support/database.js';

test('a restart with a changed setting records config.changed with before and after; the same settings again record nothing', async (t) => {
  const databaseUrl = await freshDatabase();
  const changes = async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      return (
        await client.query(`select details from audit_events where tenant_id is null and action = 'config.changed' order by chain_seq`)
      ).rows.map((r) => r.details);
    } finally {
      await client.end();
    }
  };
  const first = await startTestAppliance({
    databaseUrl,
    config: { sandboxPoolSize: 1, maxSteps: 100, proxy: { httpsProxy: 'http://user:pr0xy-secret@proxy.internal:3128' } },
  });
  await first.stop();
  const initial = await changes();
  t.is(initial.length, 1);
  t.true(initial[0].initial);
  t.is(initial[0].after.maxSteps, 100);
  t.is(initial[0].after.adminToken, '(set)');
  t.is(initial[0].after.httpsProxy, 'http://proxy.internal:3128/');
  t.false(JSON.stringify(initial).includes('pr0xy-secret'));
  t.false(JSON.stringify(initial).includes('test-admin-token'));

  const second = await startTestAppliance({
    databaseUrl,
    config: { sandboxPoolSize: 1, maxSteps: 150, proxy: { httpsProxy: 'http://user:pr0xy-secret@proxy.internal:3128' } },
  });
  await second.stop();
  const after = await changes();
  t.is(after.length, 2);
  t.deepEqual(Object.keys(after[1].changed), ['maxSteps']);
  t.deepEqual(after[1].changed.maxSteps, { before: 100, after: 150 });

  const third = await startTestAppliance({
    databaseUrl,
    config: { sandboxPoolSize: 1, maxSteps: 150, proxy: { httpsProxy: 'http://user:pr0xy-secret@proxy.internal:3128' } },
  });
  await third.stop();
  t.is((await changes()).length, 2);
});
