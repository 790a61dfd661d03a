/**
 * Tenants, quotas and tokens in a real browser: a system administrator creates a tenant,
 * sets a quota (a bad value is named and changes nothing), creates a token that is shown
 * once and works, and revokes it; a tenant administrator sees only their tenant's tokens.
 */
import test from 'ava';
import { ADMIN_TOKEN, startTestAppliance, type TestAppliance } from '../support/appliance.js';
import { assertCleanSession, closeBrowser, openConsole } from './browser.js';

let app: TestAppliance;
test.before(async () => {
  app = await startTestAppliance();
});
test.after.always(async () => {
  await closeBrowser();
  await app?.stop();
});

test('a system administrator creates a tenant, sets its quota, and creates, uses and revokes a token shown once', async (t) => {
  const ui = await openConsole(t, { app });
  const { page } = ui;
  await ui.signIn(ADMIN_TOKEN);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tenants' }).click();
  await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
  const name = `acme-${Date.now()}`;
  await page.getByLabel('Tenant name').fill(name);
  await page.getByRole('button', { name: 'Create tenant' }).click();
  await page.getByRole('heading', { name: `Quotas of ${name}` }).waitFor();
  const tenants = (await app.gql(ADMIN_TOKEN, '{ tenants(first: 100) { nodes { id name quota { maxConcurrentRuns } } } }')).data.tenants
    .nodes as { id: string; name: string; quota: { maxConcurrentRuns: number | null } }[];
  const tenant = tenants.find((n) => n.name === name)!;
  t.truthy(tenant, 'the tenant exists');
  const before = tenant.quota.maxConcurrentRuns;

  // A bad value is named and nothing is sent.
  for (const bad of ['-1', 'three']) {
    await page.getByLabel('Concurrent runs').fill(bad);
    await page.getByRole('button', { name: 'Save quotas' }).click();
    await page.getByText('Concurrent runs must be a whole number of 0 or more').waitFor();
  }
  t.is(await page.getByLabel('Concurrent runs').getAttribute('aria-invalid'), 'true');
  const quotaOf = async () =>
    (await app.gql(ADMIN_TOKEN, '{ tenants(first: 100) { nodes { id quota { maxConcurrentRuns } } } }')).data.tenants.nodes.find(
      (n: { id: string }) => n.id === tenant.id,
    ).quota.maxConcurrentRuns;
  t.is(await quotaOf(), before, 'the refused value changed nothing');
  await page.getByLabel('Concurrent runs').fill('3');
  await page.getByRole('button', { name: 'Save quotas' }).click();
  await page.getByRole('status').filter({ hasText: 'Quotas saved.' }).waitFor();
  t.is(await quotaOf(), 3);
  t.true(await page.getByText('Now: 3.').isVisible(), 'the form shows the new value');

  // A token for the tenant: shown once, and it works.
  const tokens = page.getByRole('region', { name: `Tokens of ${name}` });
  await tokens.getByLabel('Token name').fill('ci robot');
  await tokens.getByLabel('Role').selectOption('OPERATOR');
  await tokens.getByLabel('Expires in (days)').fill('abc');
  await tokens.getByRole('button', { name: 'Create token' }).click();
  await tokens.getByText('Expires in (days) must be a whole number').waitFor();
  await tokens.getByLabel('Expires in (days)').fill('30');
  await tokens.getByRole('button', { name: 'Create token' }).click();
  const shown = await tokens.getByLabel('New API token').textContent();
  t.truthy(shown);
  const viewer = await app.gql(shown!, '{ viewer { role tenant { id } } }');
  t.deepEqual(viewer.data.viewer, { role: 'OPERATOR', tenant: { id: tenant.id } }, "the shown token is the tenant's operator token");
  await ui.screenshot('tenants');
  await assertCleanSession(t, ui, ADMIN_TOKEN);

  await tokens.getByRole('button', { name: 'I have stored it' }).click();
  t.false((await page.content()).includes(shown!), 'dismissed: the token is no longer in the page');
  const row = tokens.getByRole('row', { name: /ci robot/ });
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByRole('button', { name: 'Confirm revoke of ci robot' }).click();
  await row.getByText('REVOKED', { exact: true }).waitFor();
  t.is((await app.gql(shown!, '{ viewer { role } }')).errors?.[0]?.extensions.code, 'UNAUTHENTICATED', 'the revoked token is refused');
  await assertCleanSession(t, ui, ADMIN_TOKEN);
});

test("a tenant administrator's token page lists only their tenant's tokens; a new one is gone after leaving the page", async (t) => {
  const mineName = `mine-${Date.now()}`;
  const mine = await app.tenant(mineName, ['ADMIN', 'VIEWER']);
  const theirs = await app.tenant(`theirs-${Date.now()}`, ['ADMIN']);
  const ui = await openConsole(t, { app });
  const { page } = ui;
  await ui.signIn(mine.tokens['ADMIN']!);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tokens' }).click();
  await page.getByRole('heading', { name: `Tokens of ${mineName}` }).waitFor();
  // The heading comes with the session; the list arrives after it.
  const rows = page.getByRole('table', { name: 'API tokens' }).getByRole('row');
  await rows.nth(1).waitFor();
  const names = await rows.allTextContents();
  t.is(names.length, 3, "a header and the tenant's two tokens");
  t.true(names.some((n) => n.includes('ADMIN of mine')) && names.some((n) => n.includes('VIEWER of mine')));
  t.false(
    names.some((n) => n.includes('theirs')),
    `no other tenant's token (${theirs.id})`,
  );

  await page.getByLabel('Token name').fill('nightly export');
  await page.getByLabel('Role').selectOption('AUDITOR');
  await page.getByRole('button', { name: 'Create token' }).click();
  const shown = (await page.getByLabel('New API token').textContent())!;
  await ui.screenshot('tokens-created');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tokens' }).click();
  await page.getByRole('row', { name: /nightly export/ }).waitFor();
  t.false((await page.content()).includes(shown), 'after leaving the page the token is not shown again');
  await assertCleanSession(t, ui, mine.tokens['ADMIN']!);
});
