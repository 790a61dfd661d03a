/**
 * Webhook triggers against a real appliance on loopback with a real HTTP client: signed
 * deliveries start runs, and every way a delivery can be wrong (signature, replay, size,
 * source, duplicate, quota, load) is answered with its status and changes nothing.
 */
import test from 'ava';
import pg from 'pg';
import { webhookSignatureHeader } from '../core/triggers/webhookSignature.js';
import { ADMIN_TOKEN, startTestAppliance, waitFor, type TestAppliance } from './support/appliance.js';

let app: TestAppliance;
let db: pg.Pool;
let admin: string;
let editor: string;
let viewer: string;
let tenantId: string;
let workflowId: string;

const TRIGGER =
  'id name version enabled url maxBodyBytes replayWindowSeconds allowedSources deliveryIdHeader inputMapping secretRotatedAt previousSecretExpiresAt workflow { id }';

test.before(async () => {
  app = await startTestAppliance({ config: { apiRateLimitPerSecond: 1_000_000, apiRateLimitBurst: 1_000_000 } });
  db = new pg.Pool({ connectionString: app.databaseUrl, max: 2 });
  const tenant = await app.tenant('hooks', ['ADMIN', 'EDITOR', 'VIEWER']);
  tenantId = tenant.id;
  admin = tenant.tokens['ADMIN']!;
  editor = tenant.tokens['EDITOR']!;
  viewer = tenant.tokens['VIEWER']!;
  const wf = await app.gql(admin, 'mutation($d: JSON!) { createWorkflow(input: { name: "on-event", definition: $d }) { id } }', {
    d: { steps: [{ id: 'echo', uses: 'core/noop@1', with: { got: '{{ input }}' } }] },
  });
  workflowId = wf.data.createWorkflow.id;
});

test.after.always(async () => {
  await db?.end();
  await app?.stop();
});

async function createTrigger(settings: Record<string, unknown> = {}, token = editor): Promise<{ trigger: any; secret: string }> {
  const res = await app.gql(
    token,
    `mutation($i: CreateWebhookTriggerInput!) { createWebhookTrigger(input: $i) { secret trigger { ${TRIGGER} } } }`,
    {
      i: { workflowId, name: `hook-${Math.random().toString(36).slice(2, 8)}`, ...settings },
    },
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.createWebhookTrigger;
}

interface Sent {
  status: number;
  body: any;
  retryAfter: string | null;
}

async function deliver(
  url: string,
  secret: string | null,
  body: unknown,
  options: { headers?: Record<string, string>; timestamp?: number; raw?: Buffer; contentType?: string } = {},
): Promise<Sent> {
  const bytes = options.raw ?? Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json', ...options.headers };
  if (secret) headers['switchyard-signature'] = webhookSignatureHeader(secret, options.timestamp ?? Math.floor(Date.now() / 1000), bytes);
  const response = await fetch(url, { method: 'POST', headers, body: new Uint8Array(bytes) });
  return { status: response.status, body: await response.json(), retryAfter: response.headers.get('retry-after') };
}

async function runsOf(triggerId: string): Promise<any[]> {
  const { rows } = await db.query("select id, input, origin, status from runs where origin->>'triggerId' = $1 order by created_at", [
    triggerId,
  ]);
  return rows;
}

const code = (sent: Sent) => sent.body.error?.code;

test('a signed delivery starts a run with the mapped input, acknowledged 202 once queued; the run says how it started', async (t) => {
  const { trigger, secret } = await createTrigger({
    inputMapping: { order: '{{ body.order.id }}', source: '{{ headers["x-source"] }}', region: '{{ query.region }}' },
  });
  t.regex(trigger.url, new RegExp(`^${app.url}/hooks/[A-Za-z0-9_-]{32}$`));
  t.is(trigger.deliveryIdHeader, 'x-delivery-id');
  const sent = await deliver(
    `${trigger.url}?region=eu`,
    secret,
    { order: { id: 'A-17' } },
    { headers: { 'x-source': 'erp', 'x-delivery-id': 'evt-1' } },
  );
  t.is(sent.status, 202, JSON.stringify(sent.body));
  t.false(sent.body.duplicate);
  const runs = await runsOf(trigger.id);
  t.is(runs.length, 1);
  t.is(runs[0].id, sent.body.runId);
  t.deepEqual(runs[0].input, { order: 'A-17', source: 'erp', region: 'eu' });
  const run = await waitFor(async () => {
    const res = await app.gql(
      viewer,
      'query($id: ID!) { run(id: $id) { status output origin { kind webhookTriggerId deliveryId tokenId } } }',
      { id: sent.body.runId },
    );
    return res.data.run.status === 'SUCCEEDED' ? res.data.run : undefined;
  }, 'the webhook run to finish');
  t.deepEqual(run.origin, { kind: 'WEBHOOK', webhookTriggerId: trigger.id, deliveryId: 'evt-1', tokenId: null });
  t.deepEqual(run.output, { echo: { got: { order: 'A-17', source: 'erp', region: 'eu' } } });
  const { rows } = await db.query(
    "select actor_name, actor_role, source_address, details from audit_events where action = 'run.started' and target_id = $1",
    [sent.body.runId],
  );
  t.like(rows[0], { actor_name: 'system', actor_role: 'SYSTEM', source_address: '127.0.0.1' });
  t.like(rows[0].details.origin, { kind: 'WEBHOOK', triggerId: trigger.id, deliveryId: 'evt-1' });
});

test('the default mapping is the JSON body; headers with credentials are never mapped', async (t) => {
  const { trigger, secret } = await createTrigger();
  const sent = await deliver(trigger.url, secret, { hello: 'world' });
  t.is(sent.status, 202);
  t.deepEqual((await runsOf(trigger.id))[0].input, { hello: 'world' });
  const leaky = await createTrigger({
    inputMapping: {
      auth: '{{ headers.authorization }}',
      sig: '{{ headers["switchyard-signature"] }}',
      agent: '{{ headers["user-agent"] }}',
    },
  });
  const second = await deliver(
    leaky.trigger.url,
    leaky.secret,
    {},
    { headers: { authorization: 'Bearer sender-secret', 'user-agent': 'erp/1.0' } },
  );
  t.is(second.status, 202);
  t.deepEqual((await runsOf(leaky.trigger.id))[0].input, { auth: null, sig: null, agent: 'erp/1.0' });
});

test('wrong, missing, malformed and stale signatures are refused with 401 and start nothing', async (t) => {
  const { trigger, secret } = await createTrigger();
  const other = await createTrigger();
  const wrong = await deliver(trigger.url, other.secret, { a: 1 });
  t.is(wrong.status, 401);
  t.is(code(wrong), 'SIGNATURE_INVALID');
  const missing = await deliver(trigger.url, null, { a: 1 });
  t.is(missing.status, 401);
  t.is(code(missing), 'SIGNATURE_MISSING');
  const malformed = await deliver(trigger.url, null, { a: 1 }, { headers: { 'switchyard-signature': 'sha256=abc' } });
  t.is(code(malformed), 'SIGNATURE_MALFORMED');
  // Signed correctly, but over different bytes than were sent.
  const bytes = Buffer.from('{"a":1}');
  const tampered = await fetch(trigger.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'switchyard-signature': webhookSignatureHeader(secret, Math.floor(Date.now() / 1000), bytes),
    },
    body: '{"a":2}',
  });
  t.is(tampered.status, 401);
  // The appliance reads its own clock a moment later than this one, so these stay clear of the
  // window's edge by 10 s; test/unit/webhookSignature.test.ts holds the exact edges on a fixed clock.
  const now = Math.floor(Date.now() / 1000);
  const stale = await deliver(trigger.url, secret, { a: 1 }, { timestamp: now - 310 });
  t.is(stale.status, 401);
  t.is(code(stale), 'TIMESTAMP_OUTSIDE_WINDOW');
  t.regex(stale.body.error.message, /more than 300 s/);
  const future = await deliver(trigger.url, secret, { a: 1 }, { timestamp: now + 310 });
  t.is(code(future), 'TIMESTAMP_OUTSIDE_WINDOW');
  const atEdge = await deliver(trigger.url, secret, { a: 1 }, { timestamp: now - 290 });
  t.is(atEdge.status, 202, 'inside the window is accepted');
  t.is((await runsOf(trigger.id)).length, 1, 'only the valid delivery started a run');
  t.false(JSON.stringify([wrong, missing, stale]).includes(secret), 'no answer holds the secret');
  const metrics = await (await fetch(`${app.url}/metrics`)).text();
  t.regex(metrics, /switchyard_webhook_deliveries_total\{outcome="SIGNATURE_INVALID"\} [1-9]/);
  t.regex(metrics, /switchyard_webhook_deliveries_total\{outcome="TIMESTAMP_OUTSIDE_WINDOW"\} [1-9]/);
  t.false(metrics.includes(secret));
});

test("each trigger has the API's rate limit: past its burst a delivery is answered 429 with Retry-After", async (t) => {
  const api = await startTestAppliance({
    databaseUrl: app.databaseUrl,
    config: { role: 'api', apiRateLimitPerSecond: 1, apiRateLimitBurst: 2 },
  });
  t.teardown(() => api.stop());
  const tenant = await api.tenant('hooks-rate', ['ADMIN']);
  const made = await api.gql(
    tenant.tokens['ADMIN']!,
    'mutation($d: JSON!) { createWorkflow(input: { name: "r", definition: $d }) { id } }',
    { d: { steps: [{ id: 'a', uses: 'core/noop@1' }] } },
  );
  const hook = await api.gql(
    tenant.tokens['ADMIN']!,
    'mutation($i: CreateWebhookTriggerInput!) { createWebhookTrigger(input: $i) { secret trigger { id url } } }',
    { i: { workflowId: made.data.createWorkflow.id, name: 'r' } },
  );
  const { trigger, secret } = hook.data.createWebhookTrigger;
  const unsigned = await deliver(trigger.url, null, { n: 0 });
  t.is(unsigned.status, 401, "unsigned requests do not use up the sender's allowance");
  t.is((await deliver(trigger.url, secret, { n: 1 })).status, 202);
  t.is((await deliver(trigger.url, secret, { n: 2 })).status, 202, 'the burst of 2 is allowed');
  const limited = await deliver(trigger.url, secret, { n: 3 });
  t.is(limited.status, 429);
  t.is(code(limited), 'RATE_LIMITED');
  t.is(limited.retryAfter, '1');
  t.is((await runsOf(trigger.id)).length, 2);
});

test('a replayed signed request and a repeated delivery id return the same run', async (t) => {
  const { trigger, secret } = await createTrigger();
  const bytes = Buffer.from(JSON.stringify({ n: 1 }));
  const headers = {
    'content-type': 'application/json',
    'switchyard-signature': webhookSignatureHeader(secret, Math.floor(Date.now() / 1000), bytes),
  };
  const first = await fetch(trigger.url, { method: 'POST', headers, body: bytes });
  const replay = await fetch(trigger.url, { method: 'POST', headers, body: bytes });
  t.is(first.status, 202);
  t.is(replay.status, 200);
  const [a, b] = [await first.json(), await replay.json()] as any[];
  t.is(b.runId, a.runId);
  t.true(b.duplicate);

  const once = await deliver(trigger.url, secret, { n: 2 }, { headers: { 'x-delivery-id': 'd-42' } });
  const again = await deliver(trigger.url, secret, { n: 2, resent: true }, { headers: { 'x-delivery-id': 'd-42' } });
  const concurrent = await Promise.all(
    Array.from({ length: 5 }, () => deliver(trigger.url, secret, { n: 3 }, { headers: { 'x-delivery-id': 'd-43' } })),
  );
  t.is(once.status, 202);
  t.is(again.status, 200);
  t.is(again.body.runId, once.body.runId, 'a redelivery with the same id is the same run, even re-signed with another body');
  t.is(new Set(concurrent.map((c) => c.body.runId)).size, 1, `concurrent redeliveries start one run: ${JSON.stringify(concurrent)}`);
  t.is(concurrent.filter((c) => c.status === 202).length, 1);
  t.is((await runsOf(trigger.id)).length, 3);
  const custom = await createTrigger({ deliveryIdHeader: 'X-GitHub-Delivery' });
  t.is(custom.trigger.deliveryIdHeader, 'x-github-delivery');
  const g1 = await deliver(custom.trigger.url, custom.secret, { a: 1 }, { headers: { 'x-github-delivery': 'gh-1' } });
  const g2 = await deliver(custom.trigger.url, custom.secret, { a: 1 }, { headers: { 'x-github-delivery': 'gh-1' } });
  t.is(g2.body.runId, g1.body.runId);
  const tooLong = await deliver(custom.trigger.url, custom.secret, { a: 1 }, { headers: { 'x-github-delivery': 'x'.repeat(129) } });
  t.is(tooLong.status, 400);
  t.is(code(tooLong), 'DELIVERY_ID_INVALID');
});

test('a body of exactly maxBodyBytes is accepted, one byte more is refused 413', async (t) => {
  const { trigger, secret } = await createTrigger({ maxBodyBytes: 1000 });
  const exact = `{"p":"${'x'.repeat(1000 - 8)}"}`;
  t.is(Buffer.byteLength(exact), 1000);
  t.is((await deliver(trigger.url, secret, null, { raw: Buffer.from(exact) })).status, 202);
  const over = await deliver(trigger.url, secret, null, { raw: Buffer.from(`{"p":"${'x'.repeat(1000 - 7)}"}`) });
  t.is(over.status, 413);
  t.is(code(over), 'PAYLOAD_TOO_LARGE');
  t.is((await runsOf(trigger.id)).length, 1);
  const notJson = await deliver(trigger.url, secret, null, { raw: Buffer.from('{nope') });
  t.is(notJson.status, 400);
  t.is(code(notJson), 'BODY_NOT_JSON');
  const text = await deliver(trigger.url, secret, null, { raw: Buffer.from('hello'), contentType: 'text/plain' });
  t.is(text.status, 415);
  // Over the appliance's own limit (SWITCHYARD_MAX_BODY_BYTES, 1 MiB here) hapi refuses it before the route: the same answer.
  const huge = await deliver(trigger.url, secret, null, { raw: Buffer.alloc(1024 * 1024 + 1, 0x20) });
  t.is(huge.status, 413);
  t.is(code(huge), 'PAYLOAD_TOO_LARGE');
  t.regex(huge.body.error.message, /appliance's limit of 1048576 bytes/);
  t.is((await runsOf(trigger.id)).length, 1);
});

test('a mapping whose input the run refuses is answered 422 and starts nothing', async (t) => {
  // Each copy of the body fits SWITCHYARD_MAX_INPUT_BYTES (256 KiB); the two the mapping makes do not.
  const { trigger, secret } = await createTrigger({
    maxBodyBytes: 200 * 1024,
    inputMapping: { first: '{{ body.p }}', second: '{{ body.p }}' },
  });
  const refused = await deliver(trigger.url, secret, { p: 'x'.repeat(150 * 1024) });
  t.is(refused.status, 422);
  t.is(code(refused), 'INPUT_INVALID');
  t.regex(refused.body.error.message, /the limit is 262144/);
  t.is((await runsOf(trigger.id)).length, 0);
  t.is((await deliver(trigger.url, secret, { p: 'small' })).status, 202);
});

test('a source outside the allow list is refused 403; inside it is accepted', async (t) => {
  const closed = await createTrigger({ allowedSources: ['10.0.0.0/8', '2001:db8::/32'] });
  const refused = await deliver(closed.trigger.url, closed.secret, {});
  t.is(refused.status, 403);
  t.is(code(refused), 'SOURCE_NOT_ALLOWED');
  t.is((await runsOf(closed.trigger.id)).length, 0);
  const open = await createTrigger({ allowedSources: ['10.0.0.0/8', '127.0.0.1'] });
  t.is((await deliver(open.trigger.url, open.secret, {})).status, 202);
  const subnet = await createTrigger({ allowedSources: ['127.0.0.0/8'] });
  t.is((await deliver(subnet.trigger.url, subnet.secret, {})).status, 202);
});

test('over IPv6 the peer ::1 is matched against IPv6 entries of the allow list', async (t) => {
  // A second API process on the same database, listening on the IPv6 loopback only.
  const v6 = await startTestAppliance({ databaseUrl: app.databaseUrl, config: { role: 'api', host: '::1' } });
  t.teardown(() => v6.stop());
  const urlOn = (trigger: { url: string }) => `${v6.url}${new URL(trigger.url).pathname}`;
  t.regex(v6.url, /^http:\/\/\[::1\]:\d+$/);
  const closed = await createTrigger({ allowedSources: ['127.0.0.1', '2001:db8::/32'] });
  const refused = await deliver(urlOn(closed.trigger), closed.secret, {});
  t.is(refused.status, 403);
  t.is(code(refused), 'SOURCE_NOT_ALLOWED');
  t.is((await runsOf(closed.trigger.id)).length, 0);
  const open = await createTrigger({ allowedSources: ['10.0.0.0/8', '::1/128'] });
  const accepted = await deliver(urlOn(open.trigger), open.secret, {});
  t.is(accepted.status, 202);
  t.deepEqual(
    (await runsOf(open.trigger.id)).map((r) => r.id),
    [accepted.body.runId],
  );
  t.is((await deliver(open.trigger.url, open.secret, { over: 'ipv4' })).status, 403, 'the same list refuses the IPv4 loopback');
});

test('unknown and disabled triggers answer 404 alike', async (t) => {
  const { trigger, secret } = await createTrigger();
  const unknownUrl = trigger.url.replace(/[A-Za-z0-9_-]{32}$/, 'A'.repeat(32));
  const unknown = await deliver(unknownUrl, secret, {});
  t.is(unknown.status, 404);
  const disabled = await app.gql(editor, `mutation($i: UpdateWebhookTriggerInput!) { updateWebhookTrigger(input: $i) { ${TRIGGER} } }`, {
    i: { id: trigger.id, enabled: false },
  });
  t.false(disabled.data.updateWebhookTrigger.enabled);
  t.is(disabled.data.updateWebhookTrigger.maxBodyBytes, trigger.maxBodyBytes, 'omitted settings are unchanged');
  const refused = await deliver(trigger.url, secret, {});
  t.is(refused.status, 404);
  t.deepEqual(refused.body, unknown.body);
  t.is((await runsOf(trigger.id)).length, 0);
});

test('rotation: the new secret is shown once; the old one works during the grace period only', async (t) => {
  const { trigger, secret: first } = await createTrigger();
  const rotate = (seconds?: number) =>
    app.gql(
      editor,
      `mutation($i: RotateWebhookTriggerSecretInput!) { rotateWebhookTriggerSecret(input: $i) { secret trigger { ${TRIGGER} } } }`,
      { i: { id: trigger.id, previousSecretValidSeconds: seconds } },
    );
  const graced = await rotate(3600);
  const second = graced.data.rotateWebhookTriggerSecret.secret;
  t.not(second, first);
  t.truthy(graced.data.rotateWebhookTriggerSecret.trigger.previousSecretExpiresAt);
  t.is((await deliver(trigger.url, first, { v: 1 })).status, 202, 'the previous secret still verifies during the grace period');
  t.is((await deliver(trigger.url, second, { v: 2 })).status, 202);
  const hard = await rotate();
  const third = hard.data.rotateWebhookTriggerSecret.secret;
  t.is(hard.data.rotateWebhookTriggerSecret.trigger.previousSecretExpiresAt, null);
  t.is(code(await deliver(trigger.url, second, { v: 3 })), 'SIGNATURE_INVALID', 'without grace the old secret stops at once');
  t.is(code(await deliver(trigger.url, first, { v: 4 })), 'SIGNATURE_INVALID');
  t.is((await deliver(trigger.url, third, { v: 5 })).status, 202);
  // A short grace: the previous secret verifies until it expires, then it is refused.
  const brief = await rotate(1);
  const fourth = brief.data.rotateWebhookTriggerSecret.secret;
  const expiresAt = Date.parse(brief.data.rotateWebhookTriggerSecret.trigger.previousSecretExpiresAt);
  const expired = await waitFor(async () => {
    const sent = await deliver(trigger.url, third, { v: 'expiring' });
    return sent.status === 401 ? sent : undefined;
  }, 'the previous secret to expire');
  t.is(code(expired), 'SIGNATURE_INVALID');
  t.true(Date.now() >= expiresAt, 'refused only once expired');
  t.is((await deliver(trigger.url, fourth, { v: 'after' })).status, 202);
  const bad = await rotate(8 * 24 * 3600);
  t.is(bad.errors?.[0]?.extensions.code, 'BAD_USER_INPUT');
  t.is(bad.errors?.[0]?.extensions['inputPath'], 'input.previousSecretValidSeconds');
  t.is(code(await deliver(trigger.url, fourth, { v: 6 })), undefined, 'a refused rotation changed nothing');

  // Audited, and no secret is in any record, answer or stored column in the clear.
  const { rows: audit } = await db.query('select action, details from audit_events where target_id = $1 order by seq', [trigger.id]);
  t.deepEqual(
    audit.map((r) => r.action),
    ['webhook_trigger.created', 'webhook_trigger.secret_rotated', 'webhook_trigger.secret_rotated', 'webhook_trigger.secret_rotated'],
  );
  const listed = await app.gql(
    viewer,
    `query($w: ID!) { webhookTriggers(workflowId: $w) { ${TRIGGER} } workflow(id: $w) { webhookTriggers { id } } }`,
    { w: workflowId },
  );
  const everything = JSON.stringify([audit, listed]);
  for (const s of [first, second, third, fourth]) t.false(everything.includes(s));
  const { rows: stored } = await db.query('select * from webhook_triggers where id = $1', [trigger.id]);
  for (const s of [first, second, third, fourth])
    t.false(JSON.stringify(stored).includes(s) || stored[0].secret_ciphertext.includes(Buffer.from(s)));
  t.true(listed.data.workflow.webhookTriggers.some((w: any) => w.id === trigger.id));

  const deleted = await app.gql(admin, 'mutation($id: ID!) { deleteWebhookTrigger(id: $id) { id } }', { id: trigger.id });
  t.is(deleted.data.deleteWebhookTrigger.id, trigger.id);
  t.is((await deliver(trigger.url, fourth, {})).status, 404);
  const {
    rows: [gone],
  } = await db.query("select count(*)::int as n from audit_events where target_id = $1 and action = 'webhook_trigger.deleted'", [
    trigger.id,
  ]);
  t.is(gone.n, 1);
});

test('a tenant over its quota is answered 429 with Retry-After and no run', async (t) => {
  const tenant = await app.tenant('hooks-quota', ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  const wf = await app.gql(token, 'mutation($d: JSON!) { createWorkflow(input: { name: "slow", definition: $d }) { id } }', {
    d: { steps: [{ id: 'wait', uses: 'core/approval@1' }] },
  });
  const made = await app.gql(
    token,
    'mutation($i: CreateWebhookTriggerInput!) { createWebhookTrigger(input: $i) { secret trigger { id url } } }',
    { i: { workflowId: wf.data.createWorkflow.id, name: 'q' } },
  );
  const { trigger, secret } = made.data.createWebhookTrigger;
  const quota = await app.gql(ADMIN_TOKEN, 'mutation($i: SetTenantQuotaInput!) { setTenantQuota(input: $i) { id } }', {
    i: { tenantId: tenant.id, maxConcurrentRuns: 2 },
  });
  t.falsy(quota.errors);
  t.is((await deliver(trigger.url, secret, { n: 1 })).status, 202);
  t.is((await deliver(trigger.url, secret, { n: 2 })).status, 202, 'exactly at the limit is accepted');
  const over = await deliver(trigger.url, secret, { n: 3 });
  t.is(over.status, 429);
  t.is(code(over), 'QUOTA_EXCEEDED');
  t.regex(over.body.error.message, /maxConcurrentRuns/);
  t.truthy(over.retryAfter);
  t.true(Number(over.retryAfter) >= 1);
  t.is((await runsOf(trigger.id)).length, 2);
});

test('a tenant out of its daily runs is told to retry when the UTC day turns', async (t) => {
  const tenant = await app.tenant('hooks-daily', ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  const wf = await app.gql(token, 'mutation($d: JSON!) { createWorkflow(input: { name: "daily", definition: $d }) { id } }', {
    d: { steps: [{ id: 'a', uses: 'core/noop@1' }] },
  });
  const made = await app.gql(
    token,
    'mutation($i: CreateWebhookTriggerInput!) { createWebhookTrigger(input: $i) { secret trigger { id url } } }',
    { i: { workflowId: wf.data.createWorkflow.id, name: 'd' } },
  );
  const { trigger, secret } = made.data.createWebhookTrigger;
  t.falsy(
    (
      await app.gql(ADMIN_TOKEN, 'mutation($i: SetTenantQuotaInput!) { setTenantQuota(input: $i) { id } }', {
        i: { tenantId: tenant.id, maxRunsPerDay: 1 },
      })
    ).errors,
  );
  t.is((await deliver(trigger.url, secret, { n: 1 })).status, 202);
  const over = await deliver(trigger.url, secret, { n: 2 });
  const now = new Date();
  const untilMidnight = Math.ceil((Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime()) / 1000);
  t.is(over.status, 429);
  t.is(code(over), 'QUOTA_EXCEEDED');
  t.regex(over.body.error.message, /maxRunsPerDay/);
  t.true(
    Number(over.retryAfter) >= 1 && Number(over.retryAfter) <= untilMidnight + 1,
    `Retry-After ${over.retryAfter} is the time left in the UTC day`,
  );
  t.is((await runsOf(trigger.id)).length, 1);
});

test('an overloaded appliance answers 503 with Retry-After, and accepts again once drained', async (t) => {
  // API only: nothing drains the queue, so three one-step runs fill it past the threshold of 2.
  const api = await startTestAppliance({
    databaseUrl: app.databaseUrl,
    config: { role: 'api', admissionMaxQueueDepth: 2, admissionSampleIntervalMs: 50 },
  });
  t.teardown(() => api.stop());
  const tenant = await api.tenant('hooks-load', ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  const wf = await api.gql(token, 'mutation($d: JSON!) { createWorkflow(input: { name: "one", definition: $d }) { id } }', {
    d: { steps: [{ id: 'a', uses: 'core/delay@1', with: { ms: 60_000 } }] },
  });
  const made = await api.gql(
    token,
    'mutation($i: CreateWebhookTriggerInput!) { createWebhookTrigger(input: $i) { secret trigger { id url } } }',
    { i: { workflowId: wf.data.createWorkflow.id, name: 'load' } },
  );
  const { trigger, secret } = made.data.createWebhookTrigger;
  // The shared database has a worker (the suite's appliance), so the queue is filled with steps of another kind: waits for a worker that the api process lacks.
  const drain = () =>
    db.query(
      "delete from graphile_worker._private_jobs where task_id = (select id from graphile_worker._private_tasks where identifier = 'sy_nothing_runs_this')",
    );
  await db.query("select graphile_worker.add_job('sy_nothing_runs_this', '{}'::json, run_at := now()) from generate_series(1, 3)");
  t.teardown(drain);
  await new Promise((r) => setTimeout(r, 300));
  const refused = await deliver(trigger.url, secret, {}, { headers: { 'x-delivery-id': 'load-1' } });
  t.is(refused.status, 503);
  t.is(code(refused), 'OVERLOADED');
  t.is(refused.retryAfter, '5');
  t.is((await runsOf(trigger.id)).length, 0);
  await drain();
  // The sender retries after Retry-After with the same delivery: accepted once the queue drained.
  const retried = await waitFor(async () => {
    const sent = await deliver(trigger.url, secret, {}, { headers: { 'x-delivery-id': 'load-1' } });
    return sent.status === 202 ? sent : undefined;
  }, 'the retried delivery to be accepted');
  t.is((await runsOf(trigger.id)).map((r) => r.id).join(), retried.body.runId);
});

test('bad trigger settings are refused naming the field, and create nothing', async (t) => {
  const other = await app.tenant('hooks-other', ['ADMIN']);
  const foreign = await app.gql(
    other.tokens['ADMIN']!,
    'mutation($d: JSON!) { createWorkflow(input: { name: "theirs", definition: $d }) { id } }',
    { d: { steps: [{ id: 'a', uses: 'core/noop@1' }] } },
  );
  const cases: [Record<string, unknown>, string, string][] = [
    [{ allowedSources: ['10.0.0.0/33'] }, 'BAD_USER_INPUT', 'input.allowedSources[0]'],
    [{ allowedSources: ['example.com'] }, 'BAD_USER_INPUT', 'input.allowedSources[0]'],
    [{ inputMapping: { x: '{{ input.a }}' } }, 'BAD_USER_INPUT', 'input.inputMapping.x'],
    [{ inputMapping: { x: '{{ body. }}' } }, 'BAD_USER_INPUT', 'input.inputMapping.x'],
    [{ maxBodyBytes: 2 * 1024 * 1024 }, 'BAD_USER_INPUT', 'input.maxBodyBytes'],
    [{ maxBodyBytes: 0 }, 'BAD_USER_INPUT', 'input.maxBodyBytes'],
    [{ replayWindowSeconds: 0 }, 'BAD_USER_INPUT', 'input.replayWindowSeconds'],
    [{ deliveryIdHeader: 'authorization' }, 'BAD_USER_INPUT', 'input.deliveryIdHeader'],
    // An explicit null is no header name (it once became a header called "null").
    [{ deliveryIdHeader: null }, 'BAD_USER_INPUT', 'input.deliveryIdHeader'],
    [{ version: 9 }, 'BAD_USER_INPUT', 'input.version'],
    [{ name: '' }, 'BAD_USER_INPUT', 'input.name'],
    [{ workflowId: foreign.data.createWorkflow.id }, 'NOT_FOUND', ''],
  ];
  const bad = "select count(*)::int as n from webhook_triggers where name = 'bad'";
  const before = (await db.query(bad)).rows[0].n;
  for (const [settings, expected, path] of cases) {
    const res = await app.gql(editor, 'mutation($i: CreateWebhookTriggerInput!) { createWebhookTrigger(input: $i) { secret } }', {
      i: { workflowId, name: 'bad', ...settings },
    });
    t.is(res.errors?.[0]?.extensions.code, expected, JSON.stringify(settings));
    if (path) t.is(res.errors?.[0]?.extensions['inputPath'], path, JSON.stringify(settings));
  }
  t.is((await db.query(bad)).rows[0].n, before);
  const dup = await createTrigger({ name: 'same-name' });
  const again = await app.gql(editor, 'mutation($i: CreateWebhookTriggerInput!) { createWebhookTrigger(input: $i) { secret } }', {
    i: { workflowId, name: 'same-name' },
  });
  t.is(again.errors?.[0]?.extensions.code, 'CONFLICT');
  t.truthy(dup.trigger.id);
  const viewing = await app.gql(viewer, 'mutation($i: CreateWebhookTriggerInput!) { createWebhookTrigger(input: $i) { secret } }', {
    i: { workflowId, name: 'v' },
  });
  t.is(viewing.errors?.[0]?.extensions.code, 'FORBIDDEN');
  const theirs = await app.gql(other.tokens['ADMIN']!, 'query($id: ID!) { webhookTrigger(id: $id) { id } }', { id: dup.trigger.id });
  t.is(theirs.errors?.[0]?.extensions.code, 'NOT_FOUND', "another tenant's trigger is not found");
  t.is((await db.query('select count(*)::int as n from webhook_triggers where tenant_id = $1', [tenantId])).rows[0].n > 0, true);
});
