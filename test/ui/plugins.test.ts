/**
 * The Plugins page in a real browser: the installed versions grouped by plugin, a system
 * administrator's install (the package verified and shown before an explicit confirm), a
 * refused package that offers no install, and a tenant viewer who may look but not install.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { ADMIN_TOKEN, startTestAppliance, type TestAppliance } from '../support/appliance.js';
import { generateCa, generatePublisherKey, packFiles, signFiles, type KeyAndCertificate } from '../../plugins/package/index.js';
import { assertCleanSession, closeBrowser, openConsole } from './browser.js';

let app: TestAppliance;
let publisher: KeyAndCertificate;
let stranger: KeyAndCertificate;
let dir: string;

function files(name: string, version: string): Map<string, Buffer> {
  const manifest = {
    name,
    version,
    publisher: 'Acme Integrations',
    minApplianceVersion: '0.1.0',
    entry: 'plugin.js',
    actions: [{ name: 'forecast', description: 'Forecast for a city', inputSchema: { type: 'object' }, outputSchema: { type: 'object' } }],
    permissions: { hosts: ['api.weather.example'], credentialTypes: ['bearer'], rawSecretAccess: false },
    resources: { memoryMb: 32, timeoutMs: 5000 },
  };
  return new Map([
    ['manifest.json', Buffer.from(JSON.stringify(manifest))],
    ['plugin.js', Buffer.from("defineAction('forecast', async (input) => ({ city: input.city }));")],
  ]);
}

/** A signed package written to a file, as a system administrator would download it. */
function packageFile(fileName: string, contents: Map<string, Buffer>, key: KeyAndCertificate): { file: string; bundle: string } {
  const bytes = packFiles(signFiles(contents, key.privateKeyPem, key.certificatePem));
  const file = path.join(dir, fileName);
  fs.writeFileSync(file, bytes);
  return { file, bundle: bytes.toString('base64') };
}

async function installedVersions(name: string): Promise<{ version: string; trust: string }[]> {
  const res = await app.gql(ADMIN_TOKEN, '{ plugins { name version trust } }');
  return res.data.plugins
    .filter((p: { name: string }) => p.name === name)
    .map(({ version, trust }: { version: string; trust: string }) => ({ version, trust }));
}

test.before(async () => {
  const ca = generateCa({ commonName: 'Switchyard test publisher CA' });
  const otherCa = generateCa({ commonName: 'Someone else' });
  publisher = generatePublisherKey({ commonName: 'Acme Integrations', ca });
  stranger = generatePublisherKey({ commonName: 'Acme Integrations', ca: otherCa });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-ui-plugins-'));
  const trustStore = path.join(dir, 'trust.pem');
  fs.writeFileSync(trustStore, ca.certificatePem);
  app = await startTestAppliance({ config: { pluginTrustStore: trustStore } });
});
test.after.always(async () => {
  await closeBrowser();
  await app?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test.serial(
  'a system administrator verifies a signed package, sees what it asks for, confirms and sees it installed as SIGNED',
  async (t) => {
    const { file } = packageFile('weather-1.0.0.tgz', files('weather', '1.0.0'), publisher);
    const ui = await openConsole(t, { app });
    await ui.signIn(ADMIN_TOKEN);
    const { page } = ui;
    await page.getByRole('heading', { name: 'Plugins', level: 1 }).waitFor();
    // The first-party plugins are listed, CORE, with the system administrator's policy.
    const http = page.getByRole('region', { name: 'http', exact: true });
    await http.getByRole('table').waitFor();
    t.true(await http.getByRole('row', { name: /CORE/ }).first().isVisible());
    t.true(await http.getByRole('group', { name: 'Policy for http' }).isVisible(), 'the policy is shown to system administrators');
    t.deepEqual(await installedVersions('weather'), []);

    await page.getByLabel('Plugin package').setInputFiles(file);
    const result = page.getByRole('region', { name: 'Verification result' });
    await result.waitFor();
    await result.getByRole('status').filter({ hasText: 'Verified' }).waitFor();
    const text = await result.innerText();
    t.regex(text, /Acme Integrations/, 'the publisher');
    t.regex(text, /api\.weather\.example/, 'the hosts it asks for');
    t.regex(text, /Memory\s+32 MB/, 'its memory limit');
    t.regex(text, /Timeout\s+5 s/, 'its timeout');
    t.regex(text, /weather\/forecast@1/, 'its action');
    t.regex(text, /SIGNED/);
    t.regex(text, /([0-9a-f]{2}:){31}[0-9a-f]{2}/, 'the full publisher fingerprint');
    t.deepEqual(await installedVersions('weather'), [], 'verifying installs nothing');
    await ui.screenshot('plugins-verification');

    await page.getByRole('button', { name: 'Install weather 1.0.0' }).click();
    await page.getByRole('status').filter({ hasText: 'Installed weather 1.0.0 (SIGNED).' }).waitFor();
    t.false(await result.isVisible(), 'the verification is done with');
    const weather = page.getByRole('region', { name: 'weather', exact: true });
    const row = weather.getByRole('row', { name: /1\.0\.0/ });
    await row.waitFor();
    t.is(await row.locator('.status').textContent(), 'SIGNED');
    t.regex(await row.innerText(), /Acme Integrations/);
    const fingerprint = row.locator('code.fingerprint');
    t.regex((await fingerprint.getAttribute('title')) ?? '', /^[0-9a-f]{64}$/, 'the full fingerprint is in the title');
    t.deepEqual(await installedVersions('weather'), [{ version: '1.0.0', trust: 'SIGNED' }]);
    await ui.screenshot('plugins');

    // The same package again: verified, said to be installed, nothing to confirm.
    await page.getByLabel('Plugin package').setInputFiles(file);
    await result.getByText(/weather 1\.0\.0 is already installed/).waitFor();
    t.is(await page.getByRole('button', { name: /^Install / }).count(), 0);
    await page.getByRole('button', { name: 'Choose another package' }).click();
    t.false(await result.isVisible());
    await assertCleanSession(t, ui, ADMIN_TOKEN);
  },
);

test.serial('a package signed by an untrusted publisher is refused with its code and offers no install', async (t) => {
  const { file } = packageFile('stranger-2.0.0.tgz', files('weather', '2.0.0'), stranger);
  const ui = await openConsole(t, { app });
  await ui.signIn(ADMIN_TOKEN);
  const { page } = ui;
  await page.getByLabel('Plugin package').setInputFiles(file);
  const result = page.getByRole('region', { name: 'Verification result' });
  const refusal = result.getByRole('alert');
  await refusal.waitFor();
  t.regex(await refusal.innerText(), /Refused: UNTRUSTED_PUBLISHER/);
  t.regex(await refusal.innerText(), /trust/);
  t.is(await page.getByRole('button', { name: /^Install / }).count(), 0, 'no install button');
  t.true(await page.getByRole('button', { name: 'Choose another package' }).isVisible());
  t.false(
    (await installedVersions('weather')).some((p) => p.version === '2.0.0'),
    'nothing installed',
  );
  await assertCleanSession(t, ui, ADMIN_TOKEN);
});

test.serial('a tenant viewer sees the installed plugins without policy or install control', async (t) => {
  const { bundle } = packageFile('tides-3.1.0.tgz', files('tides', '3.1.0'), publisher);
  t.falsy((await app.gql(ADMIN_TOKEN, 'mutation($b: String!) { installPlugin(input: { bundle: $b }) { id } }', { b: bundle })).errors);
  const tenant = await app.tenant(`plugins-viewer-${Date.now()}`, ['VIEWER']);
  const viewer = tenant.tokens['VIEWER']!;
  const ui = await openConsole(t, { app });
  await ui.signIn(viewer);
  const { page } = ui;
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Plugins' }).click();
  await page.getByRole('heading', { name: 'Plugins', level: 1 }).waitFor();
  const tides = page.getByRole('region', { name: 'tides', exact: true });
  const row = tides.getByRole('row', { name: /3\.1\.0/ });
  await row.waitFor();
  t.is(await row.locator('.status').textContent(), 'SIGNED');
  t.regex(await row.innerText(), /tides\/forecast@3/);
  t.true(await page.getByRole('region', { name: 'http', exact: true }).isVisible());
  t.is(await page.getByLabel('Plugin package').count(), 0, 'no install control');
  t.is(await page.getByRole('region', { name: 'Install a plugin' }).count(), 0);
  t.is(await page.getByRole('group', { name: /^Policy for / }).count(), 0, 'no policy for tenant roles');
  await assertCleanSession(t, ui, viewer);
});
