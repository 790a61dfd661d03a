/**
 * The Credentials page in a real browser: a tenant admin creates, replaces and deletes a
 * credential through the write-only form, and its secret never reaches the page, the
 * browser's storage or any answer the page receives; a bad input is explained and creates
 * nothing; a viewer sees the list without the form.
 */
import test, { type ExecutionContext } from 'ava';
import type { Response } from 'playwright-core';
import { startTestAppliance, waitFor, type TestAppliance } from '../support/appliance.js';
import { assertCleanSession, closeBrowser, openConsole, type Console } from './browser.js';

let app: TestAppliance;
test.before(async () => {
  app = await startTestAppliance();
});
test.after.always(async () => {
  await closeBrowser();
  await app?.stop();
});

interface Listed {
  name: string;
  type: string;
  config: Record<string, string>;
  allowedHosts: string[];
  createdAt: string;
  updatedAt: string;
}

async function listed(token: string): Promise<Listed[]> {
  const res = await app.gql(token, '{ credentials { name type config allowedHosts createdAt updatedAt } }');
  return res.data.credentials;
}

/** Every /graphql answer the page receives, as text. */
function collectGraphqlResponses(ui: Console): () => Promise<string[]> {
  const bodies: Promise<string>[] = [];
  ui.page.on('response', (response: Response) => {
    if (new URL(response.url()).pathname === '/graphql') bodies.push(response.text().catch(() => ''));
  });
  return () => Promise.all(bodies);
}

/** The secret is nowhere the browser keeps or shows things. */
async function assertSecretAbsent(t: ExecutionContext, ui: Console, secret: string, responses: () => Promise<string[]>): Promise<void> {
  t.false((await ui.page.content()).includes(secret), 'not in the page');
  const values = await ui.page.evaluate(() => [...document.querySelectorAll('input, textarea')].map((e) => (e as HTMLInputElement).value));
  t.false(
    values.some((v) => v.includes(secret)),
    'not left in any field',
  );
  const storage = await ui.page.evaluate(() =>
    JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookies: document.cookie }),
  );
  t.false(storage.includes(secret), 'not in browser storage');
  const bodies = await responses();
  t.true(bodies.length > 0);
  t.false(
    bodies.some((body) => body.includes(secret)),
    'not in any GraphQL response',
  );
}

test('a tenant admin creates, replaces and deletes a credential; its secret is never shown, stored or returned', async (t) => {
  const tenant = await app.tenant(`credentials-${Date.now()}`, ['ADMIN']);
  const admin = tenant.tokens['ADMIN']!;
  const ui = await openConsole(t, { app });
  const responses = collectGraphqlResponses(ui);
  const { page } = ui;
  await ui.signIn(admin);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Credentials' }).click();
  await page.getByRole('heading', { name: 'Credentials', level: 1 }).waitFor();
  await page.getByText('No credentials yet. Add one below.').waitFor();

  const firstSecret = `sk-live-ZEBRA-${Date.now()}-first`;
  const form = page.getByRole('form', { name: 'Add a credential' });
  await form.getByLabel('Name', { exact: true }).fill('payments-api');
  await form.getByLabel('Type').selectOption('bearer');
  const token = form.getByLabel('Token');
  t.is(await token.getAttribute('type'), 'password');
  t.is(await token.getAttribute('autocomplete'), 'off');
  await token.fill(firstSecret);
  await form.getByLabel('Allowed hosts').fill('api.payments.example\npayments.example:8443');
  await form.getByRole('button', { name: 'Save credential' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved credential payments-api.' }).waitFor();
  const row = page.getByRole('row', { name: /payments-api/ });
  await row.waitFor();
  t.regex(await row.innerText(), /bearer/);
  t.regex(await row.innerText(), /api\.payments\.example\s+payments\.example:8443/);
  t.is(await form.getByLabel('Token').inputValue(), '', 'the secret field is emptied');
  const [created] = await listed(admin);
  t.like(created, { name: 'payments-api', type: 'bearer', allowedHosts: ['api.payments.example', 'payments.example:8443'] });
  await assertSecretAbsent(t, ui, firstSecret, responses);

  // Replace: the row prefills everything but the secret.
  await row.getByRole('button', { name: 'Replace payments-api' }).click();
  const replace = page.getByRole('form', { name: 'Replace credential payments-api' });
  await replace.waitFor();
  t.is(await replace.getByLabel('Name', { exact: true }).inputValue(), 'payments-api');
  t.is(await replace.getByLabel('Type').inputValue(), 'bearer');
  t.is(await replace.getByLabel('Allowed hosts').inputValue(), 'api.payments.example\npayments.example:8443');
  t.is(await replace.getByLabel('Token').inputValue(), '', 'never a secret');
  // The form takes focus once it has rendered: wait for it rather than read it in the same tick.
  const focused = () => replace.getByLabel('Token').evaluate((e) => e === document.activeElement);
  await waitFor(async () => (await focused()) || undefined, 'the secret field to take focus', 5000).catch(() => undefined);
  t.true(await focused(), 'the secret field has focus');
  const secondSecret = `sk-live-ZEBRA-${Date.now()}-second`;
  await replace.getByLabel('Token').fill(secondSecret);
  await replace.getByLabel('Allowed hosts').fill('api.payments.example, api2.payments.example');
  await replace.getByRole('button', { name: 'Replace credential' }).click();
  await page.getByRole('status').filter({ hasText: 'Replaced credential payments-api' }).waitFor();
  await page.getByRole('row', { name: /api2\.payments\.example/ }).waitFor();
  const [replaced] = await listed(admin);
  t.deepEqual(replaced!.allowedHosts, ['api.payments.example', 'api2.payments.example']);
  t.true(new Date(replaced!.updatedAt) > new Date(replaced!.createdAt), 'replaced, not created again');
  t.is(replaced!.createdAt, created!.createdAt);

  // A header credential keeps its non-secret setting in config.
  await form.getByLabel('Name', { exact: true }).fill('weather-key');
  await form.getByLabel('Type').selectOption('header');
  await form.getByLabel('Token').fill(`${firstSecret}-header`);
  await form.getByLabel('Header name').fill('X-Api-Key');
  await form.getByLabel('Allowed hosts').fill('*.weather.example');
  await form.getByRole('button', { name: 'Save credential' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved credential weather-key.' }).waitFor();
  t.regex(await page.getByRole('row', { name: /weather-key/ }).innerText(), /headerName:\s*X-Api-Key/);

  // A bad input: the API's message names the field, and nothing is created.
  const badSecret = `sk-live-ZEBRA-${Date.now()}-bad`;
  await form.getByLabel('Name', { exact: true }).fill('no-hosts');
  await form.getByLabel('Type').selectOption('bearer');
  await form.getByLabel('Token').fill(badSecret);
  await form.getByLabel('Allowed hosts').fill('  ');
  await form.getByRole('button', { name: 'Save credential' }).click();
  const alert = form.getByRole('alert');
  await alert.waitFor();
  t.regex(await alert.innerText(), /Could not save the credential\. input\.allowedHosts: must list 1 to 50 hosts/);
  t.is(await form.getByLabel('Allowed hosts').getAttribute('aria-invalid'), 'true', 'the field is marked');
  t.regex(await form.locator('.field-error').innerText(), /must list 1 to 50 hosts/);
  t.is(await form.getByLabel('Token').inputValue(), '', 'the secret field is emptied after a refusal too');
  t.is(await form.getByLabel('Name', { exact: true }).inputValue(), 'no-hosts', 'what is not secret stays for correcting');
  t.deepEqual(
    (await listed(admin)).map((c) => c.name),
    ['payments-api', 'weather-key'],
    'nothing created',
  );
  await ui.screenshot('credentials');

  // Delete, with a confirming second click.
  await form.getByRole('button', { name: 'Cancel' }).click();
  const payments = page.getByRole('row', { name: /payments-api/ });
  await payments.getByRole('button', { name: 'Delete payments-api' }).click();
  t.deepEqual(
    (await listed(admin)).map((c) => c.name),
    ['payments-api', 'weather-key'],
    'the first click deletes nothing',
  );
  await payments.getByRole('button', { name: 'Confirm delete payments-api' }).click();
  await page.getByRole('status').filter({ hasText: 'Deleted credential payments-api.' }).waitFor();
  await payments.waitFor({ state: 'detached' });
  t.deepEqual(
    (await listed(admin)).map((c) => c.name),
    ['weather-key'],
  );

  for (const secret of [firstSecret, secondSecret, badSecret]) await assertSecretAbsent(t, ui, secret, responses);
  await assertCleanSession(t, ui, admin);
});

test('a viewer sees the credentials without the form or the row actions', async (t) => {
  const tenant = await app.tenant(`credentials-viewer-${Date.now()}`, ['ADMIN', 'VIEWER']);
  const set = await app.gql(tenant.tokens['ADMIN']!, 'mutation($i: SetCredentialInput!) { setCredential(input: $i) { id } }', {
    i: { name: 'crm', type: 'basic', secret: { username: 'svc', password: 'hunter2-ZEBRA' }, allowedHosts: ['crm.example'] },
  });
  t.falsy(set.errors);
  const viewer = tenant.tokens['VIEWER']!;
  const ui = await openConsole(t, { app });
  await ui.signIn(viewer);
  const { page } = ui;
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Credentials' }).click();
  const row = page.getByRole('row', { name: /crm/ });
  await row.waitFor();
  t.regex(await row.innerText(), /basic/);
  t.regex(await row.innerText(), /crm\.example/);
  t.true(await page.getByText('Your role may see which credentials exist, not change them.').isVisible());
  t.is(await page.getByRole('form').count(), 0, 'no form');
  t.is(await page.getByLabel('Password').count(), 0);
  t.is(await page.getByRole('button', { name: /Replace|Delete/ }).count(), 0, 'no row actions');
  t.false((await page.content()).includes('hunter2-ZEBRA'));
  await assertCleanSession(t, ui, viewer);
});
