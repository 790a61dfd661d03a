import test from 'ava';
import { Database } from '../core/db/database.js';
import { GroupCommit, type Settled } from '../core/db/groupCommit.js';
import { createLogger } from '../core/logger.js';
import { newId } from '../core/ids.js';
import { freshDatabase } from './support/database.js';

interface Request {
  value: string;
  /** Makes the whole batch's work throw, as a database error would. */
  poison?: boolean;
  /** This request's own failure, reported without failing the batch. */
  refuse?: boolean;
}

interface Seen {
  txid: string;
  tenant: string;
}

let db: Database;

test.before(async () => {
  db = new Database(await freshDatabase(), 8, 'group-commit-test');
  await db.query('system', 'create table gc_rows (value text primary key, tenant text not null)');
});

test.after.always(async () => {
  await db?.close();
});

function group(maxBatch = 64): GroupCommit<Request, Seen> {
  return new GroupCommit<Request, Seen>(
    db,
    createLogger('silent'),
    'test',
    async (q, requests) => {
      const { rows } = await q.query<{ txid: string; tenant: string }>(
        `select txid_current()::text as txid, current_setting('app.tenant_id') as tenant`,
      );
      const seen = rows[0]!;
      const outcomes: Settled<Seen>[] = [];
      for (const request of requests) {
        if (request.poison) throw new Error('poisoned batch');
        if (request.refuse) {
          outcomes.push({ ok: false, error: new Error(`refused ${request.value}`) });
          continue;
        }
        outcomes.push({ ok: true, value: seen });
        await q.query('insert into gc_rows (value, tenant) values ($1, $2)', [request.value, seen.tenant]);
      }
      return outcomes;
    },
    { maxBatch, maxInflightPerTenant: 2 },
  );
}

async function storedValues(prefix: string): Promise<string[]> {
  const { rows } = await db.query<{ value: string }>('system', 'select value from gc_rows where value like $1 order by value', [
    `${prefix}%`,
  ]);
  return rows.map((r) => r.value);
}

test('requests of one tenant made in the same tick share one transaction', async (t) => {
  const tenant = newId();
  // The contrast: twenty instances cannot batch with each other, so txids tell transactions apart.
  const seen = await Promise.all(Array.from({ length: 20 }, (_, i) => group().submit(tenant, { value: `a${String(i).padStart(2, '0')}` })));
  const gc = group();
  const shared = await Promise.all(Array.from({ length: 20 }, (_, i) => gc.submit(tenant, { value: `b${String(i).padStart(2, '0')}` })));
  t.is(new Set(seen.map((s) => s.txid)).size, 20, 'separate instances commit separately');
  t.is(new Set(shared.map((s) => s.txid)).size, 1, 'twenty requests, one transaction');
  t.true(
    shared.every((s) => s.tenant === tenant),
    'the transaction ran in the tenant context',
  );
  t.is((await storedValues('b')).length, 20);
});

test('a batch never mixes tenants, and each runs in its own tenant context', async (t) => {
  const gc = group();
  const tenants = [newId(), newId(), newId()];
  const results = await Promise.all(
    Array.from({ length: 30 }, (_, i) => {
      const tenant = tenants[i % 3]!;
      return gc.submit(tenant, { value: `c${String(i).padStart(2, '0')}` }).then((seen) => ({ tenant, seen }));
    }),
  );
  for (const { tenant, seen } of results) t.is(seen.tenant, tenant);
  const txByTenant = new Map<string, Set<string>>();
  for (const { tenant, seen } of results) txByTenant.set(seen.txid, (txByTenant.get(seen.txid) ?? new Set()).add(tenant));
  t.true(
    [...txByTenant.values()].every((set) => set.size === 1),
    'no transaction served two tenants',
  );
  const { rows } = await db.query<{ tenant: string; n: number }>(
    'system',
    "select tenant, count(*)::int as n from gc_rows where value like 'c%' group by tenant",
  );
  t.deepEqual(rows.map((r) => r.n).sort(), [10, 10, 10]);
});

test("a request's own failure fails only that request, in the same transaction as its neighbours", async (t) => {
  const gc = group();
  const tenant = newId();
  const outcomes = await Promise.allSettled(['d1', 'd2', 'd3'].map((value) => gc.submit(tenant, { value, refuse: value === 'd2' })));
  t.is(outcomes[0]!.status, 'fulfilled');
  t.is(outcomes[2]!.status, 'fulfilled');
  t.is(outcomes[1]!.status, 'rejected');
  t.regex(String((outcomes[1] as PromiseRejectedResult).reason), /refused d2/);
  t.deepEqual(await storedValues('d'), ['d1', 'd3']);
});

test('a batch that fails is rolled back and its requests retried alone: only the poisoned one fails', async (t) => {
  const gc = group();
  const tenant = newId();
  const values = ['e1', 'e2', 'e3', 'e4'];
  const outcomes = await Promise.allSettled(values.map((value) => gc.submit(tenant, { value, poison: value === 'e3' })));
  t.deepEqual(
    outcomes.map((o) => o.status),
    ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
  );
  t.regex(String((outcomes[2] as PromiseRejectedResult).reason), /poisoned batch/);
  t.deepEqual(await storedValues('e'), ['e1', 'e2', 'e4'], 'nothing of the failed batch was half-written; the others were re-applied once');
  const txids = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.txid] : []));
  t.is(new Set(txids).size, 3, 'the retried requests committed one transaction each');
});

test('maxBatch bounds a transaction', async (t) => {
  const gc = group(4);
  const tenant = newId();
  const seen = await Promise.all(Array.from({ length: 10 }, (_, i) => gc.submit(tenant, { value: `f${i}` })));
  const sizes = [...seen.reduce((m, s) => m.set(s.txid, (m.get(s.txid) ?? 0) + 1), new Map<string, number>()).values()];
  t.true(
    sizes.every((n) => n <= 4),
    `batch sizes ${sizes.join(',')}`,
  );
  t.is(
    sizes.reduce((a, b) => a + b, 0),
    10,
  );
});
