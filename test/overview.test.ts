/**
 * The overview and pending approvals the admin UI's first page shows, through the API:
 * real runs waiting for approval, failing and delayed, counted for their own tenant only.
 */
import test from 'ava';
import { ADMIN_TOKEN, startTestAppliance, waitFor } from './support/appliance.js';
import { ScriptedExecutor } from './support/scriptedExecutor.js';

const OVERVIEW =
  '{ runOverview { runsPerMinute { minute started failed } startedLastHour failedLastHour queued running waiting queueDepth waitingApprovals openCircuitBreakers } }';

test("the overview counts the tenant's runs, failures and waiting approvals; pendingApprovals lists them oldest first", async (t) => {
  const app = await startTestAppliance({ executor: new ScriptedExecutor() });
  t.teardown(() => app.stop());
  const tenant = await app.tenant(`overview-${Date.now()}`, ['ADMIN', 'VIEWER', 'OPERATOR']);
  const other = await app.tenant(`overview-other-${Date.now()}`, ['VIEWER']);
  const admin = tenant.tokens['ADMIN']!;
  const create = async (name: string, steps: unknown[]) =>
    (
      await app.gql(admin, 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }', {
        n: name,
        d: { steps },
      })
    ).data.createWorkflow.id as string;
  const approval = await create('needs approval', [
    { id: 'work', uses: 'http/request@1' },
    { id: 'review', uses: 'core/approval@1', needs: ['work'], with: { message: 'ship it?' } },
  ]);
  const failing = await create('fails', [{ id: 'call', uses: 'http/request@1', with: { mode: 'permanent' } }]);
  const delayed = await create('sleeps', [{ id: 'pause', uses: 'core/delay@1', with: { ms: 600_000 } }]);
  const start = async (workflowId: string) =>
    (await app.gql(admin, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', { w: workflowId })).data.startRun
      .id as string;

  const empty = await app.gql(tenant.tokens['VIEWER']!, OVERVIEW);
  t.falsy(empty.errors);
  t.like(empty.data.runOverview, {
    startedLastHour: 0,
    failedLastHour: 0,
    queued: 0,
    running: 0,
    waiting: 0,
    queueDepth: 0,
    waitingApprovals: 0,
    openCircuitBreakers: 0,
  });
  t.deepEqual(empty.data.runOverview.runsPerMinute, []);

  const first = await start(approval);
  const second = await start(approval);
  await start(failing);
  await start(delayed);
  const status = async (id: string) =>
    (await app.gql(admin, 'query($r: ID!) { run(id: $r) { status } }', { r: id })).data.run.status as string;
  await waitFor(async () => (await status(first)) === 'WAITING' && (await status(second)) === 'WAITING', 'both approval runs to wait');

  const overview = await waitFor(async () => {
    const o = (await app.gql(tenant.tokens['VIEWER']!, OVERVIEW)).data.runOverview;
    return o.failedLastHour === 1 && o.waiting === 3 ? o : undefined;
  }, 'the failure and the waits to show');
  t.like(overview, {
    startedLastHour: 4,
    failedLastHour: 1,
    queued: 0,
    running: 0,
    waiting: 3,
    waitingApprovals: 2,
    openCircuitBreakers: 0,
  });
  t.is(
    overview.runsPerMinute.reduce((n: number, m: { started: number }) => n + m.started, 0),
    4,
  );
  t.true(
    overview.runsPerMinute.every((m: { minute: string }) => new Date(m.minute).getUTCSeconds() === 0),
    'buckets start on the minute',
  );

  const pending = await app.gql(
    tenant.tokens['OPERATOR']!,
    '{ pendingApprovals { run { id workflowVersion { workflow { name } } } stepId since until } }',
  );
  t.falsy(pending.errors);
  t.deepEqual(
    pending.data.pendingApprovals.map((p: { run: { id: string }; stepId: string }) => [p.run.id, p.stepId]),
    [
      [first, 'review'],
      [second, 'review'],
    ],
    'oldest first, delays excluded',
  );
  t.is(pending.data.pendingApprovals[0].run.workflowVersion.workflow.name, 'needs approval');
  t.is(pending.data.pendingApprovals[0].until, null, 'no timeout was set');

  const approved = await app.gql(
    tenant.tokens['OPERATOR']!,
    'mutation($r: ID!) { approveStep(input: { runId: $r, stepId: "review", approved: true }) { id } }',
    { r: first },
  );
  t.falsy(approved.errors);
  await waitFor(async () => (await status(first)) === 'SUCCEEDED', 'the approved run to finish');
  const after = (await app.gql(admin, OVERVIEW)).data.runOverview;
  t.like(after, { waiting: 2, waitingApprovals: 1 });
  t.deepEqual(
    (await app.gql(admin, '{ pendingApprovals { run { id } } }')).data.pendingApprovals.map((p: { run: { id: string } }) => p.run.id),
    [second],
  );

  const foreign = (await app.gql(other.tokens['VIEWER']!, OVERVIEW)).data.runOverview;
  t.like(foreign, { startedLastHour: 0, waiting: 0, waitingApprovals: 0 }, 'another tenant sees none of it');
  t.is((await app.gql(ADMIN_TOKEN, OVERVIEW)).errors?.[0]?.extensions.code, 'FORBIDDEN', "the overview is a tenant's");
  t.regex((await app.gql(admin, '{ pendingApprovals(first: 0) { stepId } }')).errors?.[0]?.message ?? '', /first.*between 1 and 500/);
});
