/**
 * Fair scheduling across tenants, as behaviour (the timing figures are in the benchmark):
 * a quiet tenant's runs finish while a flooding tenant's backlog is still queued, where
 * first-in first-out would make them wait for all of it.
 */
import test from 'ava';
import pg from 'pg';
import { startTestAppliance, waitFor, type TestAppliance } from './support/appliance.js';

const FAN_OUT = 100;
const FLOOD_RUNS = 20;

async function queuedOf(app: TestAppliance, tenantId: string): Promise<number> {
  const client = new pg.Client({ connectionString: app.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `select count(*)::int as n from step_executions where tenant_id = $1 and status in ('PENDING', 'RUNNING')`,
      [tenantId],
    );
    return rows[0].n;
  } finally {
    await client.end();
  }
}

for (const [mode, fair] of [
  ['fair share', true],
  ['first-in first-out (fair share off)', false],
] as const) {
  test(`${mode}: a quiet tenant's runs started after a flood of ${FAN_OUT * FLOOD_RUNS} steps ${fair ? 'finish while most of the flood is still queued' : 'wait behind it'}`, async (t) => {
    const app = await startTestAppliance({
      config: {
        workerConcurrency: 4,
        apiRateLimitPerSecond: 100_000,
        apiRateLimitBurst: 100_000,
        ...(fair
          ? { fairShareBurst: 16, fairShareWindowMs: 60_000 }
          : { fairShareBurst: 1_000_000, tenantMaxRunningSteps: 1_000_000, tenantMaxReadySteps: 0 }),
      },
    });
    try {
      const flood = await app.tenant('flood', ['ADMIN']);
      const quiet = await app.tenant('quiet', ['ADMIN']);
      const make = async (token: string, steps: object[]) =>
        (await app.gql(token, 'mutation($d: JSON!) { createWorkflow(input: { name: "w", definition: $d }) { id } }', { d: { steps } })).data
          .createWorkflow.id as string;
      const floodWorkflow = await make(
        flood.tokens['ADMIN']!,
        Array.from({ length: FAN_OUT }, (_, i) => ({ id: `p${i}`, uses: 'core/noop@1' })),
      );
      const quietWorkflow = await make(quiet.tokens['ADMIN']!, [{ id: 'only', uses: 'core/noop@1' }]);
      await Promise.all(
        Array.from({ length: FLOOD_RUNS }, () =>
          app.gql(flood.tokens['ADMIN']!, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', { w: floodWorkflow }),
        ),
      );
      const quietRuns: string[] = [];
      for (let i = 0; i < 5; i++) {
        quietRuns.push(
          (await app.gql(quiet.tokens['ADMIN']!, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', { w: quietWorkflow }))
            .data.startRun.id,
        );
      }
      await waitFor(
        async () => {
          const statuses = await Promise.all(
            quietRuns.map(
              async (r) => (await app.gql(quiet.tokens['ADMIN']!, 'query($r: ID!) { run(id: $r) { status } }', { r })).data.run.status,
            ),
          );
          return statuses.every((s) => s === 'SUCCEEDED');
        },
        "the quiet tenant's runs",
        120_000,
      );
      const left = await queuedOf(app, flood.id);
      if (fair) t.true(left > (FAN_OUT * FLOOD_RUNS) / 2, `${left} flood steps still queued when the quiet runs finished`);
      else t.true(left < FAN_OUT, `first-in first-out: only ${left} flood steps were left when the quiet runs finished`);
    } finally {
      await app.stop();
    }
  });
}
