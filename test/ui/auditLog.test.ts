/**
 * The audit page in a real browser: an auditor reads the tenant's events, narrows them by
 * action, exports a report whose verification summary is shown, and downloads the bundle,
 * whose SHA-256 is the one shown and the one the API returned.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { startTestAppliance, type TestAppliance } from '../support/appliance.js';
import { ARTIFACTS, assertCleanSession, closeBrowser, openConsole } from './browser.js';

let app: TestAppliance;
test.before(async () => {
  app = await startTestAppliance();
});
test.after.always(async () => {
  await closeBrowser();
  await app?.stop();
});

test("an auditor filters the tenant's events, exports a verified report and downloads the very bundle the API signed", async (t) => {
  const tenant = await app.tenant(`audited-${Date.now()}`, ['ADMIN', 'AUDITOR']);
  const admin = tenant.tokens['ADMIN']!;
  for (const name of ['orders', 'invoices', 'refunds']) {
    const res = await app.gql(admin, 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }', {
      n: name,
      d: { steps: [{ id: 'a', uses: 'core/noop@1' }] },
    });
    t.falsy(res.errors);
  }
  const ui = await openConsole(t, { app });
  const { page } = ui;
  await ui.signIn(tenant.tokens['AUDITOR']!);
  await page.getByRole('heading', { name: 'Audit', level: 1 }).waitFor();
  const table = page.getByRole('table', { name: 'Audit events' });
  await table.getByText('workflow.created').first().waitFor();
  const allRows = await table.getByRole('row').count();
  t.true(allRows - 1 > 3, 'tenant creation, tokens and workflows are all listed');

  await page.getByLabel('Action', { exact: true }).fill('workflow.created');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.waitForFunction(() => document.querySelectorAll('table tbody tr').length === 3);
  t.deepEqual(
    [
      ...new Set(
        await table
          .locator('tbody code')
          .filter({ hasText: /^workflow\./ })
          .allTextContents(),
      ),
    ],
    ['workflow.created'],
  );

  await page.getByRole('button', { name: 'Export report' }).click();
  const summary = page.getByRole('status', { name: 'Export verification' });
  await summary.waitFor();
  t.regex((await summary.textContent()) ?? '', /Verified: every link of the chain checked out/);
  const shownSha = (await summary.getByLabel('Bundle SHA-256').textContent())!;
  t.regex(shownSha, /^[0-9a-f]{64}$/);
  const listed = (await app.gql(tenant.tokens['AUDITOR']!, '{ auditEvents(first: 100) { nodes { seq action } pageInfo { hasNextPage } } }'))
    .data.auditEvents;
  t.false(listed.pageInfo.hasNextPage);
  // The export holds the whole chain up to its last link: every event from 1 to that link.
  // Sign-ins are recorded in batches (core/auth/signInAudit.ts), so the console's own sign-in
  // and the export's record may land after it; nothing else may.
  const exported = /Events(\d+)Sequence1 to (\d+)/.exec((await summary.textContent()) ?? '');
  t.truthy(exported, 'the summary gives the event count and the sequence range');
  const last = Number(exported![2]);
  t.is(Number(exported![1]), last, "the event count is the chain's up to the export");
  const seqs = (listed.nodes as { seq: number; action: string }[]).map((n) => n.seq).sort((a, b) => a - b);
  t.deepEqual(
    seqs.filter((seq) => seq <= last),
    Array.from({ length: last }, (_, i) => i + 1),
  );
  t.deepEqual(
    (listed.nodes as { seq: number; action: string }[]).filter(
      (n) => n.seq > last && !['auth.signed_in', 'audit.exported'].includes(n.action),
    ),
    [],
    'nothing but sign-ins and the export itself came after the exported chain',
  );
  await ui.screenshot('audit');

  const [download] = await Promise.all([page.waitForEvent('download'), summary.getByRole('button', { name: 'Download bundle' }).click()]);
  const saved = path.join(ARTIFACTS, 'audit-export.tar.gz');
  await download.saveAs(saved);
  const bytes = fs.readFileSync(saved);
  t.is(createHash('sha256').update(bytes).digest('hex'), shownSha, 'the downloaded file is the bundle the page said it was');
  t.is(bytes[0], 0x1f, 'a gzip file');
  const fingerprint = await page.getByLabel('Signing certificate fingerprint').textContent();
  t.is(
    fingerprint,
    (await app.gql(tenant.tokens['AUDITOR']!, '{ auditSigningCertificate { fingerprint } }')).data.auditSigningCertificate.fingerprint,
  );
  await assertCleanSession(t, ui, tenant.tokens['AUDITOR']!);
});
