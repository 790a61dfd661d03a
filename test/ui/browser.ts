/**
 * Browser tests of the admin UI: Debian's Chromium (`/usr/bin/chromium`, or
 * SWITCHYARD_CHROMIUM) driven by playwright-core against a real appliance on loopback.
 * Every page load is watched: a console error, an uncaught exception, a content-security
 * violation or a request to anywhere but the appliance fails the test, and so does
 * anything in the browser's storage besides the session token.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestAppliance, type TestAppliance } from '../support/appliance.js';
import type { StepExecutor } from '../../core/engine/executor.js';
import type { Config } from '../../core/config.js';

export const ARTIFACTS = path.resolve('test/artifacts');
const CHROMIUM = process.env['SWITCHYARD_CHROMIUM'] ?? '/usr/bin/chromium';

export interface Console {
  app: TestAppliance;
  page: Page;
  /** Signs in through the form and waits for the navigation to show. */
  signIn(token: string): Promise<void>;
  /** Saves a full-page PNG as test/artifacts/<name>.png. */
  screenshot(name: string): Promise<void>;
  /** Problems seen so far (console errors, page errors, CSP reports, foreign requests). */
  problems: string[];
}

let browser: Promise<Browser> | null = null;

function launch(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package (apt-get install chromium) or set SWITCHYARD_CHROMIUM`);
  }
  // One browser per test file; --no-sandbox because CI runs as root, where Chromium refuses its own sandbox.
  browser ??= chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  return browser;
}

export async function closeBrowser(): Promise<void> {
  const b = browser;
  browser = null;
  await (await b)?.close();
}

/** An appliance and a fresh browser context (1280 × 800) on its console. */
export async function openConsole(
  t: ExecutionContext,
  options: { config?: Partial<Config>; executor?: StepExecutor; app?: TestAppliance; viewport?: { width: number; height: number } } = {},
): Promise<Console> {
  const app =
    options.app ??
    (await startTestAppliance({
      ...(options.config ? { config: options.config } : {}),
      ...(options.executor ? { executor: options.executor } : {}),
    }));
  if (!options.app) t.teardown(() => app.stop());
  const context = await (await launch()).newContext({ viewport: options.viewport ?? { width: 1280, height: 800 }, acceptDownloads: true });
  t.teardown(() => context.close());
  const page = await context.newPage();
  const problems: string[] = [];
  const origin = new URL(app.url).origin;
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:'))
      problems.push(`request outside the appliance: ${url}`);
  });
  await page.goto(`${app.url}/`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const console: Console = {
    app,
    page,
    problems,
    async signIn(token) {
      await page.getByLabel('API token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
    },
    async screenshot(name) {
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
    },
  };
  return console;
}

/** What a test asserts at its end: no problem seen, and only the session token stored. */
export async function assertCleanSession(t: ExecutionContext, console: Console, token: string | null): Promise<void> {
  const storage = await console.page.evaluate(() => ({
    local: { ...localStorage },
    session: { ...sessionStorage },
    cookies: document.cookie,
  }));
  t.deepEqual(storage.local, {}, 'nothing in localStorage');
  t.is(storage.cookies, '', 'no cookies');
  t.deepEqual(storage.session, token ? { 'switchyard.token': token } : {}, 'sessionStorage holds the session token and nothing else');
  t.deepEqual(console.problems, [], 'no console error, page error or request outside the appliance');
}
