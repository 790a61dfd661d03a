/**
 * The Workflows pages in a real browser against a real appliance: creating a workflow
 * through the form (a JSON mistake and a definition the API refuses explained on the
 * field), publishing a second version, the graph of its steps, the comparison of two
 * versions, starting a run with input, paging the list, what each role is offered, and
 * workflows that are not the tenant's.
 */
import test from 'ava';
import type { Page } from 'playwright-core';
import { startTestAppliance, type TestAppliance } from '../support/appliance.js';
import { ScriptedExecutor } from '../support/scriptedExecutor.js';
import { ARTIFACTS, assertCleanSession, closeBrowser, openConsole, type Console } from './browser.js';

let app: TestAppliance;
let tenant: { id: string; tokens: Record<string, string> };

test.before(async () => {
  app = await startTestAppliance({ executor: new ScriptedExecutor() });
  tenant = await app.tenant(`workflows-${Date.now()}`, ['ADMIN', 'EDITOR', 'OPERATOR', 'VIEWER']);
});
test.after.always(async () => {
  await closeBrowser();
  await app?.stop();
});

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

async function createWorkflow(token: string, name: string, steps: unknown[]): Promise<string> {
  const res = await app.gql(token, 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }', {
    n: name,
    d: { steps },
  });
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data.createWorkflow.id as string;
}

async function workflowNames(token: string): Promise<string[]> {
  const res = await app.gql(token, '{ workflows(first: 100) { nodes { name } } }');
  return (res.data.workflows.nodes as { name: string }[]).map((n) => n.name);
}

/** Opens a page of the console by its address, as following a link does (no reload). */
async function go(ui: Console, hash: string): Promise<void> {
  await ui.page.evaluate((h) => {
    location.hash = h;
  }, hash);
}

const hash = (page: Page) => page.evaluate(() => location.hash);
const section = (page: Page, name: string) => page.getByRole('region', { name, exact: true });

test.serial('an administrator creates a workflow through the form, publishes v2, reads its graph and diff, and starts a run', async (t) => {
  const admin = tenant.tokens['ADMIN']!;
  const name = `order sync ${Date.now()}`;
  const ui = await openConsole(t, { app });
  const { page } = ui;
  await ui.signIn(admin);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Workflows' }).click();
  await page.getByRole('heading', { name: 'Workflows', level: 1 }).waitFor();
  await page.getByRole('button', { name: 'New workflow' }).click();
  const form = page.getByRole('form', { name: 'New workflow' });
  const definition = form.getByLabel('Definition (JSON)');
  t.true(await form.getByLabel('Name').evaluate((e) => e === document.activeElement), 'the name field has focus');
  // The field starts with a small definition that the API accepts as it stands.
  const example = JSON.parse(await definition.inputValue());
  t.deepEqual(example.steps, [{ id: 'hello', uses: 'core/noop@1' }]);

  // 1. Not JSON: refused on the field before anything is sent.
  await form.getByLabel('Name').fill(name);
  await definition.fill('{ "steps": [ { "id": "fetch", ');
  await form.getByRole('button', { name: 'Create workflow' }).click();
  t.is(await definition.getAttribute('aria-invalid'), 'true');
  const fieldError = form.locator('.field.invalid .field-error');
  t.regex((await fieldError.textContent()) ?? '', /The definition is not valid JSON/);
  t.is(await definition.getAttribute('aria-describedby'), await fieldError.getAttribute('id'), 'the error describes the field');

  // 2. A step that needs an unknown step: the API's message, naming the path, on the field and in an alert.
  await definition.fill(
    JSON.stringify(
      {
        steps: [
          { id: 'fetch', uses: 'core/noop@1' },
          { id: 'parse', uses: 'core/noop@1', needs: ['missing'] },
        ],
      },
      null,
      2,
    ),
  );
  await form.getByRole('button', { name: 'Create workflow' }).click();
  const alert = form.getByRole('alert');
  await alert.waitFor();
  t.regex((await alert.textContent()) ?? '', /The workflow was not created\..*steps\[1\]\.needs\[0\]: unknown step "missing"/);
  t.regex((await fieldError.textContent()) ?? '', /^steps\[1\]\.needs\[0\]: unknown step "missing"$/);
  t.is(await definition.getAttribute('aria-invalid'), 'true');
  t.false((await workflowNames(admin)).includes(name), 'nothing was created');
  await ui.screenshot('workflow-create-refused');

  // 3. A valid definition: created, and the page of the new workflow opens.
  const v1 = {
    steps: [
      { id: 'fetch', uses: 'http/request@1', with: { value: '{{ input.customer }}' } },
      { id: 'parse', uses: 'core/noop@1', needs: ['fetch'] },
    ],
  };
  await definition.fill(JSON.stringify(v1, null, 2));
  await form.getByRole('button', { name: 'Create workflow' }).click();
  await page.getByRole('heading', { name, level: 1 }).waitFor();
  const id = new RegExp(`^#/workflows/(${UUID})$`).exec(await hash(page))?.[1];
  t.truthy(id, 'the address names the new workflow');
  const api = await app.gql(admin, 'query($i: ID!) { workflow(id: $i) { name latestVersion { version definition } } }', { i: id });
  t.is(api.data.workflow.name, name);
  t.is(api.data.workflow.latestVersion.version, 1);
  t.deepEqual(
    api.data.workflow.latestVersion.definition.steps.map((s: { id: string }) => s.id),
    ['fetch', 'parse'],
  );
  t.true(await section(page, 'Compare versions').getByText('only one version').isVisible());

  // Publish v2 with an added step; the editor starts from the latest definition.
  const publish = page.getByRole('form', { name: 'Publish new version' });
  const editor = publish.getByLabel('Definition (JSON)');
  t.deepEqual(JSON.parse(await editor.inputValue()), api.data.workflow.latestVersion.definition, 'prefilled with v1 as stored');
  const v2 = { steps: [...v1.steps, { id: 'notify', uses: 'core/noop@1', needs: ['fetch', 'parse'] }] };
  await editor.fill(JSON.stringify(v2, null, 2));
  await publish.getByRole('button', { name: 'Publish version' }).click();
  await publish.getByRole('status').filter({ hasText: 'Published v2' }).waitFor();
  t.is(await hash(page), `#/workflows/${id}?version=2&compare=1`);
  t.is(
    (await app.gql(admin, 'query($i: ID!) { workflow(id: $i) { latestVersion { version } } }', { i: id })).data.workflow.latestVersion
      .version,
    2,
  );

  // The graph: a node per step, an arrow per needs entry, columns by longest path.
  const graph = section(page, 'Graph of v2');
  const picture = graph.getByRole('img');
  await picture.waitFor();
  t.regex((await picture.getAttribute('aria-label')) ?? '', /3 steps and 3 dependencies \(needs\) in 3 stages; starts with fetch/);
  t.is(await graph.locator('svg g.node').count(), 3);
  t.deepEqual(
    await graph
      .locator('svg g.node')
      .evaluateAll((nodes) => nodes.map((n) => [...n.querySelectorAll('text')].map((x) => x.textContent).join(' '))),
    ['fetch http/request@1', 'parse core/noop@1', 'notify core/noop@1'],
  );
  const edges = await graph
    .locator('svg path.edge')
    .evaluateAll((paths) => paths.map((p) => `${p.getAttribute('data-from')}->${p.getAttribute('data-to')}`));
  t.deepEqual(edges.sort(), ['fetch->notify', 'fetch->parse', 'parse->notify']);
  const xOf = async (step: string) => (await graph.locator(`svg g.node[data-step="${step}"]`).boundingBox())!.x;
  t.true((await xOf('fetch')) < (await xOf('parse')) && (await xOf('parse')) < (await xOf('notify')), 'left to right by longest path');
  t.deepEqual(await graph.getByRole('list').getByRole('listitem').allTextContents(), [
    'fetch uses http/request@1; needs no other step.',
    'parse uses core/noop@1; needs fetch.',
    'notify uses core/noop@1; needs fetch, parse.',
  ]);

  // The comparison of v1 and v2: exactly the added step's lines are added.
  const compare = section(page, 'Compare versions');
  const added = [
    '    },',
    '    {',
    '      "id": "notify",',
    '      "needs": [',
    '        "fetch",',
    '        "parse"',
    '      ],',
    '      "uses": "core/noop@1"',
  ];
  await compare.getByText('From v1 to v2: 8 lines added, 0 removed').waitFor();
  t.is(await compare.getByLabel('From version').inputValue(), '1');
  t.is(await compare.getByLabel('To version').inputValue(), '2');
  const lineTexts = (kind: string) =>
    compare.locator(`.diff .${kind}`).evaluateAll((lines) => lines.map((l) => l.textContent!.replace(/^(Added|Removed): /, '')));
  t.deepEqual(await lineTexts('added'), added);
  t.deepEqual(await lineTexts('removed'), []);
  // Unchanged stretches fold, around three lines of context; the checkbox shows them all.
  t.deepEqual(await lineTexts('same'), [
    '… 13 unchanged lines …',
    '        "fetch"',
    '      ],',
    '      "uses": "core/noop@1"',
    '    }',
    '  ]',
    '}',
  ]);
  await ui.screenshot('workflow');
  await compare.getByLabel('Show unchanged lines').check();
  t.is((await lineTexts('same')).length, 19);
  t.true((await lineTexts('same')).includes('      "id": "parse",'));

  // The selects, the other way round: v2 to v1 removes those lines.
  await compare.getByLabel('To version').selectOption('1');
  await compare.getByText('Both selects name v1').waitFor();
  await compare.getByLabel('From version').selectOption('2');
  await compare.getByText('From v2 to v1: 0 lines added, 8 removed').waitFor();
  t.is(await hash(page), `#/workflows/${id}?version=1&compare=2`);
  t.deepEqual(await lineTexts('removed'), added);
  t.is(await section(page, 'Graph of v1').locator('svg g.node').count(), 2);
  await compare.getByLabel('From version').selectOption('1');
  await compare.getByLabel('To version').selectOption('2');
  await compare.getByText('From v1 to v2: 8 lines added, 0 removed').waitFor();

  // Start a run with JSON input (a mistake in it is explained first).
  const start = page.getByRole('form', { name: 'Start run' });
  const input = start.getByLabel('Input (JSON, optional)');
  await input.fill('{ customer: 1 }');
  await start.getByRole('button', { name: 'Start run' }).click();
  t.regex((await start.locator('.field.invalid .field-error').textContent()) ?? '', /The input is not valid JSON/);
  t.is(await start.getByLabel('Version').inputValue(), '2', 'the latest version by default');
  await input.fill('{ "customer": "c-42", "amount": 5 }');
  await start.getByLabel('Idempotency key (optional)').fill('ui-workflows-1');
  await start.getByRole('button', { name: 'Start run' }).click();
  await page.waitForFunction((pattern) => new RegExp(pattern).test(location.hash), `^#/runs/${UUID}$`);
  const runId = (await hash(page)).slice('#/runs/'.length);
  const run = (
    await app.gql(admin, 'query($r: ID!) { run(id: $r) { input idempotencyKey workflowVersion { version workflow { id } } } }', {
      r: runId,
    })
  ).data.run;
  t.deepEqual(run.input, { customer: 'c-42', amount: 5 });
  t.is(run.idempotencyKey, 'ui-workflows-1');
  t.is(run.workflowVersion.version, 2);
  t.is(run.workflowVersion.workflow.id, id);

  // The list shows it with its latest version and links to it.
  await go(ui, '#/workflows');
  const row = page.getByRole('row', { name: new RegExp(name) });
  await row.waitFor();
  t.is(await row.getByRole('link', { name }).getAttribute('href'), `#/workflows/${id}`);
  t.true(await row.getByRole('cell', { name: 'v2', exact: true }).isVisible());
  await ui.screenshot('workflows');
  await assertCleanSession(t, ui, admin);
});

test.serial('the list pages with Load more', async (t) => {
  const paging = await app.tenant(`workflow-paging-${Date.now()}`, ['VIEWER', 'EDITOR']);
  const names: string[] = [];
  for (let i = 1; i <= 27; i++) {
    names.push(`paged ${String(i).padStart(2, '0')}`);
    await createWorkflow(paging.tokens['EDITOR']!, names[i - 1]!, [{ id: 'only', uses: 'core/noop@1' }]);
  }
  const ui = await openConsole(t, { app });
  await ui.signIn(paging.tokens['VIEWER']!);
  await go(ui, '#/workflows');
  const links = ui.page.getByRole('table', { name: 'Workflows' }).getByRole('link');
  await ui.page.getByRole('status').filter({ hasText: '25 workflows shown, more available.' }).waitFor();
  t.is(await links.count(), 25);
  t.is(await links.first().textContent(), 'paged 27', 'newest first');
  await ui.page.getByRole('button', { name: 'Load more' }).click();
  await ui.page
    .getByRole('status')
    .filter({ hasText: /^27 workflows shown\.$/ })
    .waitFor();
  t.deepEqual(await links.allTextContents(), [...names].reverse());
  t.is(await ui.page.getByRole('button', { name: 'Load more' }).count(), 0, 'nothing more to load');
  await assertCleanSession(t, ui, paging.tokens['VIEWER']!);
});

test.serial(
  'each role is offered only what it may do: a viewer reads, an operator starts runs, an editor creates and publishes',
  async (t) => {
    // A wider graph: two roots, a fan-out, a join and an arrow that skips two columns.
    const steps = [
      { id: 'fetch_orders', uses: 'http/request@1' },
      { id: 'fetch_customers', uses: 'http/request@1' },
      { id: 'match', uses: 'core/noop@1', needs: ['fetch_orders', 'fetch_customers'] },
      { id: 'review', uses: 'core/approval@1', needs: ['match'] },
      { id: 'invoice', uses: 'http/request@1', needs: ['review'] },
      { id: 'ship', uses: 'http/request@1', needs: ['review'] },
      { id: 'report', uses: 'core/noop@1', needs: ['invoice', 'ship', 'fetch_orders'] },
    ];
    const id = await createWorkflow(tenant.tokens['ADMIN']!, `roles ${Date.now()}`, steps);
    const expectations: [string, { create: boolean; publish: boolean; start: boolean }][] = [
      ['VIEWER', { create: false, publish: false, start: false }],
      ['OPERATOR', { create: false, publish: false, start: true }],
      ['EDITOR', { create: true, publish: true, start: false }],
    ];
    for (const [role, offered] of expectations) {
      const token = tenant.tokens[role]!;
      const ui = await openConsole(t, { app });
      await ui.signIn(token);
      await go(ui, '#/workflows');
      await ui.page.getByRole('table', { name: 'Workflows' }).waitFor();
      t.is(await ui.page.getByRole('button', { name: 'New workflow' }).count(), offered.create ? 1 : 0, `${role}: New workflow`);
      await go(ui, `#/workflows/${id}`);
      await section(ui.page, 'Graph of v1').getByRole('img').waitFor();
      t.is(await section(ui.page, 'Graph of v1').locator('svg path.edge').count(), 8, `${role} reads the graph`);
      t.is(await ui.page.getByRole('form', { name: 'Publish new version' }).count(), offered.publish ? 1 : 0, `${role}: publish`);
      t.is(await ui.page.getByRole('form', { name: 'Start run' }).count(), offered.start ? 1 : 0, `${role}: start`);
      t.is(await ui.page.getByRole('button', { name: /Publish|Start run/ }).count(), (offered.publish ? 1 : 0) + (offered.start ? 1 : 0));
      if (role === 'VIEWER') {
        const graph = section(ui.page, 'Graph of v1');
        t.regex(
          (await graph.getByRole('img').getAttribute('aria-label')) ?? '',
          /7 steps and 8 dependencies \(needs\) in 5 stages; starts with fetch_orders, fetch_customers\./,
        );
        const columns = await graph
          .locator('svg g.node')
          .evaluateAll((nodes) =>
            Object.fromEntries(nodes.map((n) => [n.getAttribute('data-step'), Math.round(n.getBoundingClientRect().x)])),
          );
        t.is(columns['fetch_orders'], columns['fetch_customers']);
        t.is(columns['invoice'], columns['ship']);
        t.true(columns['match']! < columns['review']! && columns['review']! < columns['ship']! && columns['ship']! < columns['report']!);
        await graph.screenshot({ path: `${ARTIFACTS}/workflow-dag.png` });
        await ui.screenshot('workflow-viewer');
      }
      await assertCleanSession(t, ui, token);
    }
  },
);

test.serial("another tenant's workflow, a mistyped id and a missing version are shown as not found", async (t) => {
  const other = await app.tenant(`workflow-other-${Date.now()}`, ['ADMIN']);
  const foreign = await createWorkflow(other.tokens['ADMIN']!, 'not yours', [{ id: 'a', uses: 'core/noop@1' }]);
  const own = await createWorkflow(tenant.tokens['ADMIN']!, `own ${Date.now()}`, [{ id: 'a', uses: 'core/noop@1' }]);
  const token = tenant.tokens['VIEWER']!;
  const ui = await openConsole(t, { app });
  await ui.signIn(token);
  for (const id of [foreign, 'no-such-workflow']) {
    await go(ui, `#/workflows/${id}`);
    await ui.page.getByRole('heading', { name: 'Workflow not found', level: 1 }).waitFor();
    t.regex(
      (await ui.page.getByRole('status').filter({ hasText: 'There is no workflow' }).textContent()) ?? '',
      new RegExp(`There is no workflow ${id} in this tenant`),
    );
    t.is(await ui.page.getByText('not yours').count(), 0, 'nothing of the other tenant shows');
    t.is(await ui.page.getByRole('link', { name: 'See all workflows' }).getAttribute('href'), '#/workflows');
  }
  await go(ui, `#/workflows/${own}?version=7`);
  await ui.page.getByRole('alert').filter({ hasText: 'This workflow has no version 7.' }).waitFor();
  t.is(await ui.page.getByRole('link', { name: 'Show the latest (v1)' }).getAttribute('href'), `#/workflows/${own}`);
  await go(ui, `#/workflows/${own}?version=x`);
  await ui.page.getByRole('alert').filter({ hasText: '“x” in the address is not a version number; showing v1.' }).waitFor();
  await assertCleanSession(t, ui, token);
});
