/**
 * The console's frame in a real browser: signing in (and a refused token), what each role
 * is shown, the overview with live figures, keyboard use, assets served by the appliance
 * under a strict content security policy, and signing out.
 */
import test from 'ava';
import { ADMIN_TOKEN, startTestAppliance, waitFor, type TestAppliance } from '../support/appliance.js';
import { ScriptedExecutor } from '../support/scriptedExecutor.js';
import { assertCleanSession, closeBrowser, openConsole } from './browser.js';

let app: TestAppliance;
test.before(async () => {
  app = await startTestAppliance({ executor: new ScriptedExecutor() });
});
test.after.always(async () => {
  await closeBrowser();
  await app?.stop();
});

test('the page and its assets come from the appliance under a strict content security policy', async (t) => {
  const page = await fetch(`${app.url}/`);
  t.is(page.status, 200);
  const csp = page.headers.get('content-security-policy') ?? '';
  t.regex(csp, /default-src 'none'/);
  t.regex(csp, /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/, 'scripts: the appliance and the hashed import map only');
  t.regex(csp, /frame-ancestors 'none'/);
  t.is(page.headers.get('x-content-type-options'), 'nosniff');
  const html = await page.text();
  t.notRegex(html, /https?:\/\//, 'the page names no other origin');
  const main = await fetch(`${app.url}/ui/main.js`);
  t.is(main.status, 200);
  t.regex(main.headers.get('content-type') ?? '', /text\/javascript/);
  const etag = main.headers.get('etag')!;
  t.is((await fetch(`${app.url}/ui/main.js`, { headers: { 'if-none-match': etag } })).status, 304, 'unchanged assets are not sent again');
  t.is((await fetch(`${app.url}/ui/../package.json`)).status, 404);
  t.is((await fetch(`${app.url}/ui/nothing-here.js`)).status, 404);
});

test('a refused token is explained; a tenant admin signs in, sees the overview and their pages, and signs out', async (t) => {
  const tenant = await app.tenant(`console-${Date.now()}`, ['ADMIN', 'AUDITOR']);
  const admin = tenant.tokens['ADMIN']!;
  const workflowId = (
    await app.gql(admin, 'mutation($d: JSON!) { createWorkflow(input: { name: "approve me", definition: $d }) { id } }', {
      d: { steps: [{ id: 'review', uses: 'core/approval@1' }] },
    })
  ).data.createWorkflow.id as string;
  const runId = (await app.gql(admin, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', { w: workflowId })).data.startRun
    .id as string;
  await waitFor(
    async () => (await app.gql(admin, 'query($r: ID!) { run(id: $r) { status } }', { r: runId })).data.run.status === 'WAITING',
    'the run to wait',
  );

  const ui = await openConsole(t, { app });
  await ui.screenshot('sign-in');
  await ui.page.getByLabel('API token').fill('not-a-real-token');
  await ui.page.getByRole('button', { name: 'Sign in' }).click();
  await ui.page.getByRole('alert').filter({ hasText: 'Could not sign in' }).waitFor();
  // The refused sign-in's 401 is the browser's own console line, not a fault of the page.
  ui.problems.splice(0);

  // By keyboard: the token field has focus order before the button, Enter submits.
  await ui.page.getByLabel('API token').fill(admin);
  await ui.page.keyboard.press('Enter');
  await ui.page.getByRole('heading', { name: 'Overview' }).waitFor();
  const nav = ui.page.getByRole('navigation', { name: 'Main' });
  t.deepEqual(await nav.getByRole('link').allTextContents(), [
    'Overview',
    'Workflows',
    'Runs',
    'Plugins',
    'Credentials',
    'Tokens',
    'Audit',
  ]);
  await ui.page.getByText('Waiting approvals').waitFor();
  const approvals = ui.page.locator('.cards > div', { hasText: 'Waiting approvals' }).locator('dd');
  t.is(await approvals.textContent(), '1');
  const row = ui.page.getByRole('row', { name: /approve me/ });
  t.true(await row.getByRole('cell', { name: 'review' }).isVisible());
  t.is(await row.getByRole('link').getAttribute('href'), `#/runs/${runId}`);
  t.regex((await ui.page.getByRole('img', { name: /Runs started per minute/ }).getAttribute('aria-label')) ?? '', /1 in all/);
  await ui.screenshot('overview');
  await assertCleanSession(t, ui, admin);

  // A reload keeps the tab's session; signing out forgets it.
  await ui.page.reload();
  await ui.page.getByRole('heading', { name: 'Overview' }).waitFor();
  await ui.page.getByRole('button', { name: 'Sign out' }).click();
  await ui.page.getByRole('heading', { name: 'Sign in to Switchyard' }).waitFor();
  await assertCleanSession(t, ui, null);
});

test("each role is shown only its own pages: an auditor the audit log, a system administrator the appliance's", async (t) => {
  const tenant = await app.tenant(`roles-${Date.now()}`, ['AUDITOR', 'OPERATOR']);
  const expectations: [string, string[], string][] = [
    [tenant.tokens['AUDITOR']!, ['Audit'], 'Audit'],
    [tenant.tokens['OPERATOR']!, ['Overview', 'Workflows', 'Runs', 'Plugins'], 'Overview'],
    [ADMIN_TOKEN, ['Plugins', 'Tenants', 'Tokens', 'Audit'], 'Plugins'],
  ];
  for (const [token, pages, landing] of expectations) {
    const ui = await openConsole(t, { app });
    await ui.signIn(token);
    t.deepEqual(await ui.page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents(), pages);
    t.is(await ui.page.getByRole('link', { name: landing, exact: true }).getAttribute('aria-current'), 'page', `lands on ${landing}`);
    await assertCleanSession(t, ui, token);
  }
});

test('a revoked token signs the tab out with the reason', async (t) => {
  const tenant = await app.tenant(`revoke-${Date.now()}`, ['VIEWER']);
  const token = tenant.tokens['VIEWER']!;
  const ui = await openConsole(t, { app });
  await ui.signIn(token);
  const tokens = await app.gql(ADMIN_TOKEN, 'query($t: ID!) { apiTokens(tenantId: $t) { nodes { id role } } }', { t: tenant.id });
  const id = tokens.data.apiTokens.nodes.find((n: { role: string }) => n.role === 'VIEWER').id as string;
  t.falsy((await app.gql(ADMIN_TOKEN, 'mutation($i: ID!) { revokeApiToken(id: $i) { id } }', { i: id })).errors);
  await ui.page.reload();
  await ui.page.getByRole('heading', { name: 'Sign in to Switchyard' }).waitFor();
  t.true(
    await ui.page
      .getByRole('status')
      .filter({ hasText: /session has ended|signed out/ })
      .isVisible(),
  );
  ui.problems.splice(0);
  await assertCleanSession(t, ui, null);
});
