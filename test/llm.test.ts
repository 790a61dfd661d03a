import test from 'ava';
import { ADMIN_TOKEN, startTestAppliance, waitFor, RUN_FIELDS, type TestAppliance } from './support/appliance.js';
import { FakeOpenAi } from './support/fakeOpenAi.js';

const API_KEY = 'sk-test-llm-6b1f0c2a9e';

let app: TestAppliance;
let fake: FakeOpenAi;
let token: string;
let otherToken: string;

test.before(async () => {
  fake = await FakeOpenAi.start(API_KEY);
  app = await startTestAppliance({ config: { sandboxPoolSize: 1 } });
  token = (await app.tenant('llm', ['ADMIN'])).tokens['ADMIN']!;
  otherToken = (await app.tenant('llm-other', ['ADMIN'])).tokens['ADMIN']!;
  const policy = await app.gql(
    ADMIN_TOKEN,
    'mutation($h: [String!]) { setPluginPolicy(input: { name: "llm", allowedHosts: $h, allowedPrivate: ["127.0.0.1"] }) { allowedHosts } }',
    { h: ['*', fake.hostPort] },
  );
  if (policy.errors) throw new Error(JSON.stringify(policy.errors));
  for (const t of [token, otherToken]) {
    const set = await app.gql(t, 'mutation($i: SetCredentialInput!) { setCredential(input: $i) { id } }', {
      i: { name: 'models', type: 'openai', secret: { token: API_KEY }, config: { baseUrl: fake.baseUrl }, allowedHosts: [fake.hostPort] },
    });
    if (set.errors) throw new Error(JSON.stringify(set.errors));
  }
});

test.after.always(async () => {
  await app?.stop();
  await fake?.stop();
});

let counter = 0;
async function chat(
  withInput: Record<string, unknown>,
  options: { as?: string; credential?: string | null; retry?: unknown } = {},
): Promise<any> {
  const as = options.as ?? token;
  const stepDef = {
    id: 'ask',
    uses: 'llm/chat@1',
    with: { model: 'test-model', ...withInput },
    ...(options.credential === null ? {} : { credential: options.credential ?? 'models' }),
    ...(options.retry ? { retry: options.retry } : {}),
  };
  const created = await app.gql(as, 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }', {
    n: `llm-${++counter}`,
    d: { steps: [stepDef] },
  });
  if (!created.data) throw new Error(JSON.stringify(created.errors));
  const started = await app.gql(as, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', {
    w: created.data.createWorkflow.id,
  });
  const id = started.data.startRun.id;
  const run = await waitFor(
    async () => {
      const r = (await app.gql(as, `query($id: ID!) { run(id: $id) { ${RUN_FIELDS} } }`, { id })).data.run;
      return ['SUCCEEDED', 'FAILED'].includes(r.status) ? r : undefined;
    },
    `run ${id}`,
    30_000,
  );
  return run.steps[0];
}

test.serial('a prompt goes to the model server named by the credential and the answer comes back with its usage', async (t) => {
  const step = await chat({ prompt: 'hello there', temperature: 0.2 });
  t.is(step.status, 'SUCCEEDED', JSON.stringify(step.error));
  t.deepEqual(step.output, { text: 'echo: hello there', json: null, usage: { promptTokens: 3, completionTokens: 7 }, cached: false });
  const call = fake.calls.at(-1)!;
  t.is(call.authorization, `Bearer ${API_KEY}`);
  t.deepEqual(call.body, { model: 'test-model', messages: [{ role: 'user', content: 'hello there' }], temperature: 0.2 });
  t.false(JSON.stringify(step).includes(API_KEY));
});

test.serial('responseSchema asks for structured output and checks the answer against it', async (t) => {
  const schema = { type: 'object', required: ['sentiment'], properties: { sentiment: { enum: ['positive', 'negative'] } } };
  const ok = await chat({ prompt: 'classify: great product', responseSchema: schema });
  t.deepEqual(ok.output.json, { sentiment: 'positive' });
  t.deepEqual(fake.calls.at(-1)!.body.response_format, { type: 'json_schema', json_schema: { name: 'response', schema, strict: true } });
  const wrong = await chat(
    { prompt: 'wrong-shape please', responseSchema: schema },
    { retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 20 } },
  );
  t.is(wrong.error.code, 'LLM_SCHEMA_MISMATCH');
  t.regex(wrong.error.message, /answer\/sentiment must be equal to one of the allowed values/);
  t.is(wrong.attempts, 2, 'a mismatching answer is worth another try');
  const notJson = await chat({ prompt: 'bad-json please', responseSchema: schema }, { retry: { maxAttempts: 1 } });
  t.is(notJson.error.code, 'LLM_INVALID_JSON');
  const calls = fake.calls.length;
  const badSchema = await chat({ prompt: 'x', responseSchema: { type: 'no-such-type' } });
  t.is(badSchema.error.code, 'BAD_USER_INPUT');
  t.is(fake.calls.length, calls, 'refused before the model was asked');
});

test.serial('the opt-in cache answers a repeated request of the same tenant without calling the model; never another tenant', async (t) => {
  const before = fake.calls.length;
  const first = await chat({ prompt: 'cache me', cacheTtlSeconds: 60 });
  const second = await chat({ prompt: 'cache me', cacheTtlSeconds: 60 });
  t.is(first.output.cached, false);
  t.deepEqual(second.output, { ...first.output, cached: true });
  t.is(fake.calls.length - before, 1, 'the model was asked once');
  const other = await chat({ prompt: 'cache me', cacheTtlSeconds: 60 }, { as: otherToken });
  t.is(other.output.cached, false, "another tenant's cache is its own");
  t.is(fake.calls.length - before, 2);
  const uncached = await chat({ prompt: 'cache me' });
  t.is(uncached.output.cached, false, 'without cacheTtlSeconds the cache is not read');
});

test.serial('token usage is metered per tenant, day and model; cached answers count as calls without tokens', async (t) => {
  const res = await app.gql(token, '{ llmUsage { day model calls cachedCalls promptTokens completionTokens } }');
  t.falsy(res.errors);
  t.is(res.data.llmUsage.length, 1);
  const usage = res.data.llmUsage[0];
  t.is(usage.day, new Date().toISOString().slice(0, 10));
  t.is(usage.model, 'test-model');
  // Answers of this tenant's model so far: hello, classify, wrong-shape twice (metered though refused),
  // cache me (first), cache me (no cache). bad-json failed inside the plugin, before the host saw its usage.
  t.is(usage.calls, 6);
  t.is(usage.cachedCalls, 1);
  t.is(usage.completionTokens, 6 * 7);
  const other = await app.gql(otherToken, '{ llmUsage { calls cachedCalls } }');
  t.deepEqual(other.data.llmUsage, [{ calls: 1, cachedCalls: 0 }]);
});

test.serial('an overloaded model server is transient; a missing credential is a clear permanent error', async (t) => {
  const overloaded = await chat({ prompt: 'overloaded' }, { retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 20 } });
  t.is(overloaded.error.code, 'LLM_UNAVAILABLE');
  t.is(overloaded.attempts, 2);
  const noCredential = await chat({ prompt: 'hi' }, { credential: null });
  t.is(noCredential.error.code, 'LLM_CREDENTIAL_REQUIRED');
  t.is(noCredential.attempts, 1);
  const neither = await chat({});
  t.is(neither.error.code, 'BAD_USER_INPUT', 'a prompt or messages is required');
});
