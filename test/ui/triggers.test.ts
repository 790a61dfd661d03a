/**
 * The workflow page's triggers in a real browser: an editor adds a webhook trigger and sees
 * its secret once (a real signed delivery with it starts a run), rotates and disables it,
 * adds a schedule and sees its next fire times; an operator pauses it; a viewer sees no
 * actions. No secret is ever kept in the browser's storage.
 */
import test from 'ava';
import { webhookSignatureHeader } from '../../core/triggers/webhookSignature.js';
import { startTestAppliance, type TestAppliance } from '../support/appliance.js';
import { assertCleanSession, closeBrowser, openConsole, type Console } from './browser.js';

let app: TestAppliance;
let editor: string;
let operator: string;
let viewer: string;
let workflowId: string;

test.before(async () => {
  app = await startTestAppliance();
  const tenant = await app.tenant(`triggers-${Date.now()}`, ['EDITOR', 'OPERATOR', 'VIEWER']);
  editor = tenant.tokens['EDITOR']!;
  operator = tenant.tokens['OPERATOR']!;
  viewer = tenant.tokens['VIEWER']!;
  const made = await app.gql(editor, 'mutation($d: JSON!) { createWorkflow(input: { name: "orders", definition: $d }) { id } }', {
    d: { steps: [{ id: 'a', uses: 'core/noop@1', with: { got: '{{ input }}' } }] },
  });
  workflowId = made.data.createWorkflow.id;
});
test.after.always(async () => {
  await closeBrowser();
  await app?.stop();
});

async function open(t: any, token: string): Promise<Console> {
  const ui = await openConsole(t, { app });
  await ui.signIn(token);
  await ui.page.evaluate((h) => {
    location.hash = h;
  }, `#/workflows/${workflowId}`);
  await ui.page.getByRole('region', { name: 'Webhook triggers' }).waitFor();
  return ui;
}

test.serial('an editor adds a webhook trigger, copies its secret shown once, and a delivery signed with it starts a run', async (t) => {
  const ui = await open(t, editor);
  const page = ui.page;
  const form = page.getByRole('form', { name: 'Add webhook trigger' });
  await form.getByLabel('Name').fill('erp');
  await form.getByLabel('Allowed sources (optional)').fill('10.0.0.0/33');
  await form.getByRole('button', { name: 'Add webhook trigger' }).click();
  await page.getByRole('alert').filter({ hasText: 'The trigger was not created' }).waitFor();
  t.regex((await form.textContent()) ?? '', /not an IP address or CIDR range/, 'the refusal is shown on its field');
  await form.getByLabel('Allowed sources (optional)').fill('127.0.0.1');
  await form.getByRole('button', { name: 'Add webhook trigger' }).click();
  const once = page.getByRole('status', { name: 'New signing secret' });
  await once.waitFor();
  const secret = (await once.locator('code.secret').textContent())!.trim();
  const url = (await once.locator('dd code').first().textContent())!.trim();
  t.regex(secret, /^whsec_[A-Za-z0-9_-]{43}$/);
  t.true(url.startsWith(`${app.url}/hooks/`));
  await ui.screenshot('workflow-triggers-secret');

  const body = Buffer.from('{"order":"A-1"}');
  const sent = await fetch(url, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'switchyard-signature': webhookSignatureHeader(secret, Math.floor(Date.now() / 1000), body),
    },
  });
  t.is(sent.status, 202);

  await once.getByRole('button', { name: 'I have stored it' }).click();
  t.is(await page.getByRole('status', { name: 'New signing secret' }).count(), 0);
  await page.reload();
  await page.getByRole('region', { name: 'Webhook triggers' }).getByRole('cell', { name: 'erp', exact: true }).waitFor();
  t.false((await page.content()).includes(secret), 'once dismissed, the secret is nowhere on the page, even after a reload');

  await page.getByRole('button', { name: 'Rotate secret of erp' }).click();
  const rotated = page.getByRole('status', { name: 'New signing secret' });
  await rotated.waitFor();
  const second = (await rotated.locator('code.secret').textContent())!.trim();
  t.not(second, secret);
  await page.getByRole('button', { name: 'Disable erp' }).click();
  await page.getByRole('button', { name: 'Enable erp' }).waitFor();
  const disabled = await fetch(url, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'switchyard-signature': webhookSignatureHeader(second, Math.floor(Date.now() / 1000), body),
    },
  });
  t.is(disabled.status, 404, 'a disabled trigger accepts nothing');
  await assertCleanSession(t, ui, editor);
});

test.serial('schedules: an editor adds one and sees its next fire times; an operator pauses it; a viewer has no actions', async (t) => {
  const ui = await open(t, editor);
  const page = ui.page;
  const form = page.getByRole('form', { name: 'Add schedule' });
  await form.getByLabel('Name').fill('nightly');
  await form.getByLabel('Cron').fill('0 0 * * * *');
  await form.getByLabel('Time zone').fill('Europe/Berlin');
  await form.getByRole('button', { name: 'Add schedule' }).click();
  await page.getByRole('alert').filter({ hasText: 'The schedule was not created' }).waitFor();
  t.regex((await form.textContent()) ?? '', /five-field cron expression/);
  await form.getByLabel('Cron').fill('30 2 * * *');
  await form.getByRole('button', { name: 'Add schedule' }).click();
  const schedules = page.getByRole('region', { name: 'Schedules' });
  await schedules.getByRole('cell', { name: 'nightly', exact: true }).waitFor();
  const api = await app.gql(viewer, 'query($w: ID!) { schedules(workflowId: $w) { name cron timeZone nextFireTimes(count: 3) } }', {
    w: workflowId,
  });
  t.like(api.data.schedules[0], { name: 'nightly', cron: '30 2 * * *', timeZone: 'Europe/Berlin' });
  t.is(await schedules.locator('ul.plain li').count(), 3, 'the next three fire times are shown');
  await ui.screenshot('workflow-triggers-schedule');

  const op = await open(t, operator);
  await op.page.getByRole('button', { name: 'Pause nightly' }).click();
  await op.page.getByRole('button', { name: 'Resume nightly' }).waitFor();
  t.is(await op.page.getByRole('button', { name: 'Delete nightly' }).count(), 0, 'operators pause, they do not delete');
  t.is(await op.page.getByRole('form', { name: 'Add schedule' }).count(), 0);
  const paused = await app.gql(viewer, 'query($w: ID!) { schedules(workflowId: $w) { paused } }', { w: workflowId });
  t.true(paused.data.schedules[0].paused);

  const view = await open(t, viewer);
  await view.page
    .getByRole('region', { name: 'Schedules' })
    .getByRole('cell', { name: /^nightly/ })
    .first()
    .waitFor();
  t.is(await view.page.getByRole('button', { name: /Pause|Resume|Delete|Rotate|Disable/ }).count(), 0);
  await assertCleanSession(t, view, viewer);
});
