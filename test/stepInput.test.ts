/**
 * StepExecution.input: the step's `with` as the engine rendered it for the attempt, read
 * back through the API (the run page shows it), and only within the caller's tenant.
 */
import test from 'ava';
import { startTestAppliance, waitFor, type TestAppliance } from './support/appliance.js';
import { ScriptedExecutor } from './support/scriptedExecutor.js';

const executor = new ScriptedExecutor();
let app: TestAppliance;
test.before(async () => {
  app = await startTestAppliance({ executor });
});
test.after.always(async () => {
  await app?.stop();
});

const STEPS = 'query($r: ID!) { run(id: $r) { status steps { stepId status attempts input } } }';

test("a step's input is its rendered with, as the executor got it; unstarted steps have none; other tenants see nothing", async (t) => {
  const tenant = await app.tenant('step-input', ['ADMIN', 'VIEWER']);
  const other = await app.tenant('step-input-other', ['ADMIN']);
  const admin = tenant.tokens['ADMIN']!;
  const created = await app.gql(admin, 'mutation($d: JSON!) { createWorkflow(input: { name: "inputs", definition: $d }) { id } }', {
    d: {
      steps: [
        { id: 'fetch', uses: 'http/request@1', with: { value: '{{ input.customer }}', url: 'https://example.test/{{ input.customer }}' } },
        {
          id: 'use',
          uses: 'http/request@1',
          needs: ['fetch'],
          with: { got: '{{ steps.fetch.output.value }}', attempt: '{{ run.attempt }}', fixed: 7 },
        },
        { id: 'gate', uses: 'core/approval@1', needs: ['use'] },
        { id: 'after', uses: 'core/noop@1', needs: ['gate'], with: { n: '{{ input.n }}' } },
      ],
    },
  });
  t.falsy(created.errors, JSON.stringify(created.errors));
  const started = await app.gql(
    admin,
    'mutation($w: ID!) { startRun(input: { workflowId: $w, input: { customer: "acme", n: 3 } }) { id } }',
    { w: created.data.createWorkflow.id },
  );
  const runId = started.data.startRun.id as string;
  const run = await waitFor(async () => {
    const r = (await app.gql(admin, STEPS, { r: runId })).data.run;
    return r.status === 'WAITING' ? r : undefined;
  }, 'the run to wait for approval');
  const input = (id: string) => run.steps.find((s: { stepId: string }) => s.stepId === id).input;
  t.deepEqual(input('fetch'), { value: 'acme', url: 'https://example.test/acme' });
  t.deepEqual(input('fetch'), executor.callsFor(runId, 'fetch')[0]!.input, 'the input the executor was given');
  t.deepEqual(input('use'), { got: 'acme', attempt: 1, fixed: 7 });
  t.deepEqual(input('use'), executor.callsFor(runId, 'use')[0]!.input);
  t.deepEqual(input('gate'), {}, 'a started step without with has the empty input');
  t.is(input('after'), null, 'a step that has not started has no input');

  // A viewer of the tenant reads it too; another tenant cannot read the run at all.
  const viewed = await app.gql(tenant.tokens['VIEWER']!, STEPS, { r: runId });
  t.deepEqual(
    viewed.data.run.steps.map((s: { input: unknown }) => s.input),
    run.steps.map((s: { input: unknown }) => s.input),
  );
  const foreign = await app.gql(other.tokens['ADMIN']!, STEPS, { r: runId });
  t.is(foreign.data?.run ?? null, null);
  t.is(foreign.errors?.[0]?.extensions.code, 'NOT_FOUND');

  await app.gql(admin, 'mutation($r: ID!) { approveStep(input: { runId: $r, stepId: "gate", approved: true }) { id } }', { r: runId });
  const done = await waitFor(async () => {
    const r = (await app.gql(admin, STEPS, { r: runId })).data.run;
    return r.status === 'SUCCEEDED' ? r : undefined;
  }, 'the run to succeed');
  t.deepEqual(done.steps.find((s: { stepId: string }) => s.stepId === 'after').input, { n: 3 });
});
