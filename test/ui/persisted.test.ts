/**
 * The console in persisted-operations mode: with SWITCHYARD_PERSISTED_OPERATIONS_FILE
 * restricting the API to a list that holds none of the console's operations, the console
 * still signs in, lists, follows a run live and approves a step, because it sends only the
 * hashes of its own documents and the appliance serves those from the console's manifest.
 * The API meanwhile refuses any document sent as text.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestAppliance, waitFor, type TestAppliance } from '../support/appliance.js';
import { ScriptedExecutor } from '../support/scriptedExecutor.js';
import { assertCleanSession, closeBrowser, openConsole } from './browser.js';

// An internal tool's list: one operation, none of the console's.
const TOOL_OPERATION = '{ viewer { role } }';

// Two processes on one database: an unrestricted one that runs the engine and sets the
// test up, and the restricted API process the console talks to.
let engine: TestAppliance;
let app: TestAppliance;
let dir: string;
test.before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-persisted-ui-'));
  const file = path.join(dir, 'operations.json');
  fs.writeFileSync(file, JSON.stringify({ [createHash('sha256').update(TOOL_OPERATION).digest('hex')]: TOOL_OPERATION }));
  engine = await startTestAppliance({ executor: new ScriptedExecutor() });
  app = await startTestAppliance({ databaseUrl: engine.databaseUrl, config: { role: 'api', persistedOperationsFile: file } });
});
test.after.always(async () => {
  await closeBrowser();
  await app?.stop();
  await engine?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const runStatus = async (token: string, runId: string): Promise<string> =>
  (await engine.gql(token, 'query($r: ID!) { run(id: $r) { status } }', { r: runId })).data.run.status;

test('with the API restricted to a persisted list, the console still signs in, follows a run live and approves its step, sending only hashes', async (t) => {
  // The restriction holds: a document sent as text is refused.
  const tenant = await engine.tenant(`persisted-${Date.now()}`, ['ADMIN', 'OPERATOR']);
  const admin = tenant.tokens['ADMIN']!;
  const refused = await app.gql(admin, '{ workflows { nodes { id } } }');
  t.is(refused.errors?.[0]?.extensions['code'], 'BAD_USER_INPUT');
  t.regex(refused.errors?.[0]?.message ?? '', /serves persisted operations only/);

  const definition = {
    steps: [
      { id: 'review', uses: 'core/approval@1', with: { message: 'ship it?' } },
      { id: 'done', uses: 'core/noop@1', needs: ['review'], with: { shipped: true } },
    ],
  };
  const workflowId = (
    await engine.gql(admin, 'mutation($d: JSON!) { createWorkflow(input: { name: "gated", definition: $d }) { id } }', { d: definition })
  ).data.createWorkflow.id as string;
  const runId = (await engine.gql(admin, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', { w: workflowId })).data
    .startRun.id as string;
  await waitFor(async () => (await runStatus(admin, runId)) === 'WAITING', 'the run to wait for approval');

  const ui = await openConsole(t, { app });
  const sent: string[] = [];
  ui.page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/graphql') sent.push(request.postData() ?? '');
  });
  await ui.signIn(tenant.tokens['OPERATOR']!);
  await ui.page.getByRole('heading', { name: 'Overview' }).waitFor();
  await ui.page.evaluate((h) => {
    location.hash = h;
  }, `#/runs/${runId}`);
  const review = ui.page.getByRole('article', { name: 'review' });
  const decision = review.getByRole('form', { name: 'Approve or reject review' });
  await decision.waitFor();
  await decision.getByLabel('Approval comment').fill('from the restricted console');
  await decision.getByRole('button', { name: 'Approve' }).click();
  await ui.page.getByRole('status').filter({ hasText: 'Step "review" was approved.' }).waitFor();
  await ui.page
    .getByRole('region', { name: 'Summary' })
    .locator('dd .status', { hasText: /^SUCCEEDED$/ })
    .waitFor({ timeout: 20_000 });
  await ui.screenshot('persisted-mode-run');
  await waitFor(async () => (await runStatus(admin, runId)) === 'SUCCEEDED', 'the run to succeed');

  t.true(sent.length >= 4, `the console called the API (${sent.length} requests)`);
  for (const body of sent) {
    const parsed = JSON.parse(body) as { query?: unknown; extensions?: { persistedQuery?: { version: number; sha256Hash: string } } };
    t.is(parsed.query, undefined, 'no document text travels');
    t.regex(parsed.extensions?.persistedQuery?.sha256Hash ?? '', /^[0-9a-f]{64}$/);
  }
  await assertCleanSession(t, ui, tenant.tokens['OPERATOR']!);
});
