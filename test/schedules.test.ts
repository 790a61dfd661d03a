/**
 * Schedules against real engines: an in-process appliance and a separate `switchyard`
 * worker process tick on one database. Downtime is simulated by moving a schedule's next
 * slot into the past; each slot must fire exactly once across both processes.
 */
import test from 'ava';
import pg from 'pg';
import { ADMIN_TOKEN, startTestAppliance, waitFor, type TestAppliance } from './support/appliance.js';
import { spawnSwitchyard, stopChild, type Child } from './fixtures/processes.js';
import { ScheduleTicker } from '../core/triggers/scheduleTicker.js';

let app: TestAppliance;
let worker: Child;
let db: pg.Pool;
let admin: string;
let operator: string;
let viewer: string;
let workflowId: string;

const SCHEDULE =
  'id name cron timeZone version input paused catchUp backfillLimit nextFireAt lastFiredSlot skippedSlots lastError lastRun { id } workflow { id }';

test.before(async () => {
  app = await startTestAppliance({ config: { scheduleTickMs: 100 } });
  db = new pg.Pool({ connectionString: app.databaseUrl, max: 3 });
  worker = spawnSwitchyard(['start', '--role', 'worker'], {
    DATABASE_URL: app.databaseUrl,
    SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN,
    SWITCHYARD_SCHEDULE_TICK_MS: '100',
    SWITCHYARD_LOG_LEVEL: 'warn',
    SWITCHYARD_WORKER_HTTP_PORT: '0',
    SWITCHYARD_POLL_INTERVAL_MS: '100',
    SWITCHYARD_SANDBOX_POOL_SIZE: '1',
  });
  await waitFor(
    async () => {
      if (!worker.alive()) throw new Error(`worker exited: ${worker.stderr()}`);
      return (await db.query('select 1 from engine_nodes where pid = $1', [worker.pid])).rowCount === 1;
    },
    'the second process to start its engine',
    60_000,
  );
  const tenant = await app.tenant('cron', ['ADMIN', 'OPERATOR', 'VIEWER']);
  admin = tenant.tokens['ADMIN']!;
  operator = tenant.tokens['OPERATOR']!;
  viewer = tenant.tokens['VIEWER']!;
  workflowId = (
    await app.gql(admin, 'mutation($d: JSON!) { createWorkflow(input: { name: "nightly", definition: $d }) { id } }', {
      d: { steps: [{ id: 'report', uses: 'core/noop@1', with: { for: '{{ input.slot }}', v: 1 } }] },
    })
  ).data.createWorkflow.id;
});

test.after.always(async () => {
  await stopChild(worker, 5000);
  await db?.end();
  await app?.stop();
});

async function create(settings: Record<string, unknown>, token = admin): Promise<any> {
  const res = await app.gql(token, `mutation($i: CreateScheduleInput!) { createSchedule(input: $i) { ${SCHEDULE} } }`, {
    i: {
      workflowId,
      name: `s-${Math.random().toString(36).slice(2, 8)}`,
      cron: '* * * * *',
      timeZone: 'UTC',
      paused: true,
      input: { slot: '{{ schedule.slot }}' },
      ...settings,
    },
  });
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.createSchedule;
}

/** Downtime: the schedule's next slot is `minutesAgo` whole minutes before the current minute, and it is unpaused (both engines start ticking it). */
async function simulateDowntime(id: string, minutesAgo: number): Promise<Date> {
  const { rows } = await db.query(
    `update schedules set next_fire_at = date_trunc('minute', now()) - make_interval(mins => $2), paused = false where id = $1 returning next_fire_at`,
    [id, minutesAgo],
  );
  return rows[0].next_fire_at;
}

async function firedSlots(id: string): Promise<string[]> {
  const { rows } = await db.query("select origin->>'slot' as slot from runs where origin->>'scheduleId' = $1 order by 1", [id]);
  return rows.map((r) => r.slot);
}

async function scheduleRow(id: string): Promise<any> {
  return (await db.query('select next_fire_at, last_fired_slot, skipped_slots, last_error from schedules where id = $1', [id])).rows[0];
}

/** Waits until the schedule's next slot is in the future: every due slot was handled. */
const caughtUp = (id: string) =>
  waitFor(
    async () => {
      const row = await scheduleRow(id);
      return row.next_fire_at.getTime() > Date.now() ? row : undefined;
    },
    'the schedule to catch up',
    30_000,
  );

const minute = 60_000;
const everyMinute = (from: Date, to: Date) =>
  Array.from({ length: (to.getTime() - from.getTime()) / minute + 1 }, (_, i) => new Date(from.getTime() + i * minute).toISOString());

test('BACKFILL after downtime: two processes fire every missed slot exactly once, oldest first, with the slot in origin and input', async (t) => {
  const s = await create({ catchUp: 'BACKFILL', backfillLimit: 1000 });
  const from = await simulateDowntime(s.id, 30);
  const row = await caughtUp(s.id);
  const slots = await firedSlots(s.id);
  t.deepEqual(slots, everyMinute(from, row.last_fired_slot), 'one run per slot, none twice, none missing');
  t.true(slots.length >= 31);
  t.is(Number(row.skipped_slots), 0);
  t.is(row.next_fire_at.getTime(), row.last_fired_slot.getTime() + minute);
  const { rows: runs } = await db.query(
    "select input, origin, idempotency_key from runs where origin->>'scheduleId' = $1 order by origin->>'slot' limit 1",
    [s.id],
  );
  t.deepEqual(runs[0].input, { slot: from.toISOString() });
  t.deepEqual(runs[0].origin, { kind: 'SCHEDULE', scheduleId: s.id, slot: from.toISOString() });
  t.is(runs[0].idempotency_key, `schedule:${s.id}:${from.toISOString()}`);
  const api = await app.gql(viewer, `query($id: ID!) { schedule(id: $id) { ${SCHEDULE} nextFireTimes(count: 3) } }`, { id: s.id });
  t.is(api.data.schedule.lastFiredSlot, row.last_fired_slot.toISOString());
  t.truthy(api.data.schedule.lastRun.id);
  t.deepEqual(
    api.data.schedule.nextFireTimes,
    [0, 1, 2].map((i) => new Date(row.next_fire_at.getTime() + i * minute).toISOString()),
  );
});

test('eight ticks racing each other and both processes still fire each slot once', async (t) => {
  const { db: pool, runs } = app.appliance.services;
  const tickers = Array.from({ length: 8 }, () => new ScheduleTicker(pool, runs, app.appliance.logger, { tickMs: 1000, batch: 100 }));
  const s = await create({ catchUp: 'BACKFILL', backfillLimit: 1000 });
  const from = await simulateDowntime(s.id, 20);
  await Promise.all(tickers.map((ticker) => ticker.tick()));
  const row = await caughtUp(s.id);
  t.deepEqual(await firedSlots(s.id), everyMinute(from, row.last_fired_slot), 'one run per slot, none twice, none missing');
});

test('BACKFILL fires only the latest backfillLimit missed slots and counts the rest skipped', async (t) => {
  const s = await create({ catchUp: 'BACKFILL', backfillLimit: 5 });
  const from = await simulateDowntime(s.id, 30);
  const row = await caughtUp(s.id);
  const slots = await firedSlots(s.id);
  t.true(slots.length >= 5 && slots.length <= 6, `the latest 5 (and the next minute's, if it came meanwhile): ${slots.length}`);
  t.is(slots[0], new Date(row.last_fired_slot.getTime() - (slots.length - 1) * minute).toISOString());
  t.is(Number(row.skipped_slots) + slots.length, (row.last_fired_slot.getTime() - from.getTime()) / minute + 1);
});

test('SKIP after downtime fires none of the missed slots, only the one on time, and resumes at the next slot', async (t) => {
  const s = await create({ catchUp: 'SKIP' });
  const from = await simulateDowntime(s.id, 30);
  const row = await caughtUp(s.id);
  const slots = await firedSlots(s.id);
  t.true(slots.length <= 2, `missed slots were not fired: ${slots.join(', ')}`);
  for (const slot of slots) t.true(Date.now() - Date.parse(slot) < 3 * minute, 'only the on-time slot');
  t.is(Number(row.skipped_slots) + slots.length, (row.next_fire_at.getTime() - minute - from.getTime()) / minute + 1);
  t.true(Number(row.skipped_slots) >= 29);
});

test('a paused schedule fires nothing; resuming starts from now, not from the slots it missed while paused', async (t) => {
  const s = await create({ catchUp: 'BACKFILL', backfillLimit: 100 });
  await db.query("update schedules set next_fire_at = now() - interval '10 minutes' where id = $1", [s.id]);
  await new Promise((r) => setTimeout(r, 1000));
  t.deepEqual(await firedSlots(s.id), [], 'ten ticks of two processes fired nothing');
  const resumed = await app.gql(operator, `mutation($id: ID!) { resumeSchedule(id: $id) { ${SCHEDULE} } }`, { id: s.id });
  t.falsy(resumed.errors, JSON.stringify(resumed.errors));
  t.false(resumed.data.resumeSchedule.paused);
  t.true(Date.parse(resumed.data.resumeSchedule.nextFireAt) > Date.now());
  const paused = await app.gql(operator, `mutation($id: ID!) { pauseSchedule(id: $id) { paused nextFireTimes } }`, { id: s.id });
  t.true(paused.data.pauseSchedule.paused);
  t.deepEqual(paused.data.pauseSchedule.nextFireTimes, []);
  const { rows } = await db.query('select action, actor_role from audit_events where target_id = $1 order by seq', [s.id]);
  t.deepEqual(
    rows.map((r) => r.action),
    ['schedule.created', 'schedule.resumed', 'schedule.paused'],
  );
  t.is(rows[1].actor_role, 'OPERATOR');
  const edit = await app.gql(operator, 'mutation($id: ID!) { updateSchedule(input: { id: $id, cron: "0 * * * *" }) { id } }', { id: s.id });
  t.is(edit.errors?.[0]?.extensions.code, 'FORBIDDEN', 'operators pause and resume, but do not edit');
});

test('a pinned schedule stays on its version; one following the latest uses a newly published one', async (t) => {
  const wf = (
    await app.gql(admin, 'mutation($d: JSON!) { createWorkflow(input: { name: "versions", definition: $d }) { id } }', {
      d: { steps: [{ id: 'a', uses: 'core/noop@1', with: { v: 1 } }] },
    })
  ).data.createWorkflow.id;
  const pinned = await create({ workflowId: wf, version: 1 });
  const latest = await create({ workflowId: wf });
  t.is(pinned.version, 1);
  t.is(latest.version, null);
  const published = await app.gql(
    admin,
    'mutation($w: ID!, $d: JSON!) { publishWorkflowVersion(input: { workflowId: $w, definition: $d }) { version } }',
    { w: wf, d: { steps: [{ id: 'a', uses: 'core/noop@1', with: { v: 2 } }] } },
  );
  t.is(published.data.publishWorkflowVersion.version, 2);
  for (const s of [pinned, latest]) await simulateDowntime(s.id, 0);
  for (const s of [pinned, latest]) await caughtUp(s.id);
  const version = async (id: string) =>
    (
      await db.query(
        "select v.version from runs r join workflow_versions v on v.id = r.workflow_version_id where r.origin->>'scheduleId' = $1",
        [id],
      )
    ).rows.map((r) => r.version);
  t.deepEqual(await version(pinned.id), [1]);
  t.deepEqual(await version(latest.id), [2]);
});

test("a slot refused by the tenant's quota is retried, and the schedule keeps going once there is room", async (t) => {
  const tenant = await app.tenant('cron-quota', ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  const wf = (
    await app.gql(token, 'mutation($d: JSON!) { createWorkflow(input: { name: "gate", definition: $d }) { id } }', {
      d: { steps: [{ id: 'gate', uses: 'core/approval@1' }] },
    })
  ).data.createWorkflow.id;
  await app.gql(ADMIN_TOKEN, 'mutation($t: ID!) { setTenantQuota(input: { tenantId: $t, maxConcurrentRuns: 1 }) { id } }', {
    t: tenant.id,
  });
  const s = (
    await app.gql(
      token,
      `mutation($w: ID!) { createSchedule(input: { workflowId: $w, name: "q", cron: "* * * * *", timeZone: "UTC", paused: true, catchUp: BACKFILL }) { id } }`,
      { w: wf },
    )
  ).data.createSchedule;
  const from = await simulateDowntime(s.id, 2);
  const refused = await waitFor(async () => {
    const row = await scheduleRow(s.id);
    return row.last_error ? row : undefined;
  }, 'the second slot to be refused');
  t.is(refused.last_error.code, 'QUOTA_EXCEEDED');
  t.is(refused.last_error.slot, new Date(from.getTime() + minute).toISOString());
  t.is(refused.next_fire_at.toISOString(), refused.last_error.slot, 'the refused slot stays next');
  t.deepEqual(await firedSlots(s.id), [from.toISOString()]);
  // The first run finishes: the refused slots fire.
  const first = (await db.query("select id from runs where origin->>'scheduleId' = $1", [s.id])).rows[0].id;
  await app.gql(token, 'mutation($r: ID!) { cancelRun(id: $r) { id } }', { r: first });
  await waitFor(async () => (await firedSlots(s.id)).length >= 2, 'the refused slot to fire once there is room');
  t.is((await firedSlots(s.id))[1], new Date(from.getTime() + minute).toISOString());
});

test('bad schedule settings are refused naming the field, and create nothing', async (t) => {
  const other = await app.tenant('cron-other', ['ADMIN']);
  const foreign = (
    await app.gql(other.tokens['ADMIN']!, 'mutation($d: JSON!) { createWorkflow(input: { name: "theirs", definition: $d }) { id } }', {
      d: { steps: [{ id: 'a', uses: 'core/noop@1' }] },
    })
  ).data.createWorkflow.id;
  const cases: [Record<string, unknown>, string, string][] = [
    [{ cron: '0 0 * * * *' }, 'BAD_USER_INPUT', 'input.cron'],
    [{ cron: 'every day' }, 'BAD_USER_INPUT', 'input.cron'],
    [{ timeZone: 'Europe/Atlantis' }, 'BAD_USER_INPUT', 'input.timeZone'],
    [{ version: 9 }, 'BAD_USER_INPUT', 'input.version'],
    [{ backfillLimit: 0 }, 'BAD_USER_INPUT', 'input.backfillLimit'],
    [{ input: { x: '{{ input.y }}' } }, 'BAD_USER_INPUT', 'input.input.x'],
    [{ name: '' }, 'BAD_USER_INPUT', 'input.name'],
    [{ workflowId: foreign }, 'NOT_FOUND', ''],
  ];
  for (const [settings, code, path] of cases) {
    const res = await app.gql(admin, 'mutation($i: CreateScheduleInput!) { createSchedule(input: $i) { id } }', {
      i: { workflowId, name: 'bad', cron: '* * * * *', timeZone: 'UTC', ...settings },
    });
    t.is(res.errors?.[0]?.extensions.code, code, JSON.stringify(settings));
    if (path) t.is(res.errors?.[0]?.extensions['inputPath'], path, JSON.stringify(settings));
  }
  t.is((await db.query("select count(*)::int as n from schedules where name = 'bad'")).rows[0].n, 0);
  const made = await create({ name: 'keep', cron: '0 9 * * 1-5', timeZone: 'Europe/Berlin' });
  const badUpdate = await app.gql(admin, 'mutation($id: ID!) { updateSchedule(input: { id: $id, timeZone: "Nowhere/Else" }) { id } }', {
    id: made.id,
  });
  t.is(badUpdate.errors?.[0]?.extensions['inputPath'], 'input.timeZone');
  const kept = await app.gql(viewer, 'query($id: ID!) { schedule(id: $id) { timeZone cron nextFireTimes(count: 2) } }', { id: made.id });
  t.is(kept.data.schedule.timeZone, 'Europe/Berlin', 'a refused update changed nothing');
  t.deepEqual(kept.data.schedule.nextFireTimes, [], 'paused: no fire times');
  const theirs = await app.gql(other.tokens['ADMIN']!, 'query($id: ID!) { schedule(id: $id) { id } }', { id: made.id });
  t.is(theirs.errors?.[0]?.extensions.code, 'NOT_FOUND');
  const deleted = await app.gql(admin, 'mutation($id: ID!) { deleteSchedule(id: $id) { id } }', { id: made.id });
  t.is(deleted.data.deleteSchedule.id, made.id);
  const { rows } = await db.query('select action from audit_events where target_id = $1 order by seq', [made.id]);
  t.deepEqual(
    rows.map((r) => r.action),
    ['schedule.created', 'schedule.deleted'],
  );
});
