/**
 * OpenTelemetry: an appliance with an OTLP endpoint sends, to a real OTLP/HTTP receiver
 * on loopback, a root span per run (its trace id the run's id) with a child span per step
 * attempt, a client span per plugin HTTP call inside its step, and its step log lines
 * carry the trace id.
 * The tests run one at a time: the OpenTelemetry SDK registers once per process.
 */
import test, { type ExecutionContext } from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ADMIN_TOKEN, startTestAppliance, waitFor } from './support/appliance.js';
import { ScriptedExecutor } from './support/scriptedExecutor.js';
import { runSpanContext } from '../core/tracing.js';
import type { StepExecutor } from '../core/engine/executor.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano?: string;
  endTimeUnixNano?: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number };
}

/** A real OTLP/HTTP (JSON) receiver on loopback, keeping every span it is sent. */
async function startCollector(t: ExecutionContext): Promise<{ spans: OtlpSpan[]; contentTypes: Set<string>; endpoint: string }> {
  const spans: OtlpSpan[] = [];
  const contentTypes = new Set<string>();
  const collector = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      contentTypes.add(`${request.method} ${request.url} ${request.headers['content-type']}`);
      const parsed = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of parsed.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  t.teardown(() => collector.close());
  return { spans, contentTypes, endpoint: `http://127.0.0.1:${(collector.address() as AddressInfo).port}` };
}

const attr = (s: OtlpSpan, key: string) => Object.values(s.attributes.find((a) => a.key === key)?.value ?? {})[0];

test.serial('runs and steps arrive as spans at the OTLP collector, parented on the run, and step logs carry the trace id', async (t) => {
  const { spans, contentTypes, endpoint } = await startCollector(t);

  // As the sandbox does with a plugin's log lines: through the step's logger.
  const scripted = new ScriptedExecutor();
  const executor: StepExecutor = {
    execute: (request, signal) => {
      request.logger.info({ uses: request.uses }, 'calling upstream');
      return scripted.execute(request, signal);
    },
  };
  const app = await startTestAppliance({ executor, config: { otlpEndpoint: endpoint } });
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await app.stop();
  });
  const tenant = await app.tenant(`tracing-${Date.now()}`, ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  const workflowId = (
    await app.gql(token, 'mutation($d: JSON!) { createWorkflow(input: { name: "traced", definition: $d }) { id } }', {
      d: {
        steps: [
          { id: 'first', uses: 'http/request@1' },
          { id: 'second', uses: 'http/request@1', needs: ['first'], with: { mode: 'permanent' } },
        ],
      },
    })
  ).data.createWorkflow.id as string;
  const runId = (await app.gql(token, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', { w: workflowId })).data.startRun
    .id as string;
  await waitFor(
    async () => (await app.gql(token, 'query($r: ID!) { run(id: $r) { status } }', { r: runId })).data.run.status === 'FAILED',
    'the run to fail at its second step',
  );
  await app.stop();
  stopped = true;

  const ids = runSpanContext(runId);
  t.is(ids.traceId, runId.replace(/-/g, ''));
  const ofRun = spans.filter((s) => s.traceId === ids.traceId);
  const root = ofRun.find((s) => s.name === 'run');
  t.truthy(root, `the run's root span arrived (${[...contentTypes].join('; ')})`);
  t.is(root!.spanId, ids.spanId, 'with the span id its steps were parented on');
  t.is(root!.parentSpanId || undefined, undefined, 'a root');
  t.is(root!.status?.code, 2, 'a failed run is an error span');
  t.is(attr(root!, 'switchyard.workflow_id'), workflowId);
  t.is(attr(root!, 'switchyard.run_status'), 'FAILED');
  const steps = ofRun.filter((s) => s.name.startsWith('step ')).sort((a, b) => a.name.localeCompare(b.name));
  t.deepEqual(
    steps.map((s) => [s.name, s.parentSpanId, attr(s, 'switchyard.outcome')]),
    [
      ['step first', ids.spanId, 'ok'],
      ['step second', ids.spanId, 'UPSTREAM_REJECTED'],
    ],
  );
  t.true([...contentTypes].every((c) => c.startsWith('POST /v1/traces application/json')));
  const stepLines = app.logs.filter((line) => line.includes(`"runId":"${runId}"`) && line.includes('"stepId"'));
  t.is(stepLines.filter((line) => line.includes('calling upstream')).length, 2, 'both steps logged');
  t.true(
    stepLines.every((line) => line.includes(`"traceId":"${ids.traceId}"`)),
    'every step line carries the trace id',
  );
});

test.serial(
  "a plugin's HTTP calls are client spans inside its step's span, timed by the sandbox, their URLs without the query",
  async (t) => {
    const { spans, endpoint } = await startCollector(t);
    const upstream = http.createServer((request, response) => {
      request.resume();
      // Slow enough that the span's duration is visibly the call's.
      setTimeout(
        () =>
          response.writeHead(request.url?.startsWith('/missing') ? 404 : 200, { 'content-type': 'application/json' }).end('{"ok":true}'),
        120,
      );
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    t.teardown(() => upstream.close());
    const port = (upstream.address() as AddressInfo).port;

    const app = await startTestAppliance({ config: { otlpEndpoint: endpoint, sandboxPoolSize: 1 } });
    let stopped = false;
    t.teardown(async () => {
      if (!stopped) await app.stop();
    });
    const policy = await app.gql(
      ADMIN_TOKEN,
      'mutation($h: [String!]) { setPluginPolicy(input: { name: "http", allowedHosts: $h, allowedPrivate: ["127.0.0.1"] }) { allowedHosts } }',
      { h: [`127.0.0.1:${port}`] },
    );
    t.falsy(policy.errors, JSON.stringify(policy.errors));
    const tenant = await app.tenant(`http-spans-${Date.now()}`, ['ADMIN']);
    const token = tenant.tokens['ADMIN']!;
    const workflowId = (
      await app.gql(token, 'mutation($d: JSON!) { createWorkflow(input: { name: "calls", definition: $d }) { id } }', {
        d: {
          steps: [
            { id: 'fetch', uses: 'http/request@1', with: { url: `http://127.0.0.1:${port}/orders/7?api_key=s3cret-in-query` } },
            // One after another: a step failing while another's call is in flight would cancel that attempt.
            {
              id: 'lost',
              uses: 'http/request@1',
              needs: ['fetch'],
              retry: { maxAttempts: 1 },
              onError: 'continue',
              with: { url: `http://127.0.0.1:${port}/missing` },
            },
            {
              id: 'denied',
              uses: 'http/request@1',
              needs: ['lost'],
              retry: { maxAttempts: 1 },
              with: { url: 'http://192.0.2.1/elsewhere' },
            },
          ],
        },
      })
    ).data.createWorkflow.id as string;
    const runId = (await app.gql(token, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', { w: workflowId })).data
      .startRun.id as string;
    await waitFor(
      async () => (await app.gql(token, 'query($r: ID!) { run(id: $r) { status } }', { r: runId })).data.run.status === 'FAILED',
      'the run to fail at its refused call',
    );
    await app.stop();
    stopped = true;

    const ofRun = spans.filter((s) => s.traceId === runSpanContext(runId).traceId);
    // A loaded machine may retry an attempt (a cold isolate past its deadline): judge each step by its last attempt.
    const stepSpans = ofRun.filter((s) => s.name.startsWith('step '));
    const stepSpan = (name: string) =>
      stepSpans
        .filter((s) => s.name === `step ${name}`)
        .sort((a, b) => Number(attr(a, 'switchyard.attempt')) - Number(attr(b, 'switchyard.attempt')))
        .at(-1);
    const fetchStep = stepSpan('fetch');
    t.truthy(fetchStep, "the fetch step's span arrived");
    const calls = ofRun.filter((s) => s.name === 'GET');
    const seen = JSON.stringify(
      ofRun.map((s) => [s.name, attr(s, 'switchyard.attempt') ?? attr(s, 'http.response.status_code') ?? attr(s, 'error.type')]),
    );
    t.deepEqual([...new Set(stepSpans.map((s) => s.name))].sort(), ['step denied', 'step fetch', 'step lost'], seen);
    t.deepEqual(
      stepSpans.map((step) => calls.filter((c) => c.parentSpanId === step.spanId).length),
      stepSpans.map(() => 1),
      `one client span per attempt, inside it: ${seen}`,
    );
    t.is(calls.length, stepSpans.length, `and none elsewhere: ${seen}`);
    const [fetched, missing] = [
      calls.find((s) => s.parentSpanId === fetchStep!.spanId),
      calls.find((s) => s.parentSpanId === stepSpan('lost')?.spanId),
    ];
    t.truthy(fetched, "the fetch call is a child of its step's span");
    t.is(fetched!.kind, 3, 'a client span');
    t.is(attr(fetched!, 'url.full'), `http://127.0.0.1:${port}/orders/7`, 'the query (which may hold a secret) is not recorded');
    t.is(attr(fetched!, 'http.request.method'), 'GET');
    t.is(attr(fetched!, 'http.response.status_code'), 200);
    t.is(attr(fetched!, 'server.port'), port);
    t.false(JSON.stringify(spans).includes('s3cret'), "no span anywhere carries the query's secret");
    const durationMs = Number(BigInt(fetched!.endTimeUnixNano!) - BigInt(fetched!.startTimeUnixNano!)) / 1e6;
    t.true(durationMs >= 100, `the span lasts as long as the call took (${durationMs} ms)`);
    const stepStart = BigInt(fetchStep!.startTimeUnixNano!);
    const stepEnd = BigInt(fetchStep!.endTimeUnixNano!);
    t.true(
      BigInt(fetched!.startTimeUnixNano!) >= stepStart && BigInt(fetched!.endTimeUnixNano!) <= stepEnd,
      "and lies within its step's span",
    );
    t.truthy(missing, "the second step's call is a child of that step");
    t.is(attr(missing!, 'http.response.status_code'), 404);
    t.is(missing!.status?.code, 2, 'a 404 is an error span');
    const refused = calls.find((s) => s.parentSpanId === stepSpan('denied')?.spanId);
    t.truthy(refused, 'a call the egress policy refused has its span too');
    t.is(attr(refused!, 'error.type'), 'EGRESS_DENIED');
    t.is(attr(refused!, 'http.response.status_code'), undefined, 'it got no response');
  },
);
