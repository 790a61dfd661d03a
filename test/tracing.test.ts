/**
 * OpenTelemetry: an appliance with an OTLP endpoint sends, to a real OTLP/HTTP receiver
 * on loopback, a root span per run (its trace id the run's id) with a child span per step
 * attempt, and its step log lines carry the trace id.
 */
import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestAppliance, waitFor } from './support/appliance.js';
import { ScriptedExecutor } from './support/scriptedExecutor.js';
import { runSpanContext } from '../core/tracing.js';
import type { StepExecutor } from '../core/engine/executor.js';

interface OtlpSpan { traceId: string; spanId: string; parentSpanId?: string; name: string; attributes: { key: string; value: Record<string, unknown> }[]; status?: { code?: number } }

test('runs and steps arrive as spans at the OTLP collector, parented on the run, and step logs carry the trace id', async (t) => {
  const spans: OtlpSpan[] = [];
  const contentTypes = new Set<string>();
  const collector = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', () => {
      contentTypes.add(`${request.method} ${request.url} ${request.headers['content-type']}`);
      const parsed = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of parsed.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  t.teardown(() => collector.close());
  const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;

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
  t.teardown(async () => { if (!stopped) await app.stop(); });
  const tenant = await app.tenant(`tracing-${Date.now()}`, ['ADMIN']);
  const token = tenant.tokens['ADMIN']!;
  const workflowId = (await app.gql(token, 'mutation($d: JSON!) { createWorkflow(input: { name: "traced", definition: $d }) { id } }', {
    d: { steps: [{ id: 'first', uses: 'http/request@1' }, { id: 'second', uses: 'http/request@1', needs: ['first'], with: { mode: 'permanent' } }] },
  })).data.createWorkflow.id as string;
  const runId = (await app.gql(token, 'mutation($w: ID!) { startRun(input: { workflowId: $w }) { id } }', { w: workflowId })).data.startRun.id as string;
  await waitFor(async () => (await app.gql(token, 'query($r: ID!) { run(id: $r) { status } }', { r: runId })).data.run.status === 'FAILED', 'the run to fail at its second step');
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
  const attr = (s: OtlpSpan, key: string) => Object.values(s.attributes.find((a) => a.key === key)?.value ?? {})[0];
  t.is(attr(root!, 'switchyard.workflow_id'), workflowId);
  t.is(attr(root!, 'switchyard.run_status'), 'FAILED');
  const steps = ofRun.filter((s) => s.name.startsWith('step ')).sort((a, b) => a.name.localeCompare(b.name));
  t.deepEqual(steps.map((s) => [s.name, s.parentSpanId, attr(s, 'switchyard.outcome')]), [['step first', ids.spanId, 'ok'], ['step second', ids.spanId, 'UPSTREAM_REJECTED']]);
  t.true([...contentTypes].every((c) => c.startsWith('POST /v1/traces application/json')));
  const stepLines = app.logs.filter((line) => line.includes(`"runId":"${runId}"`) && line.includes('"stepId"'));
  t.is(stepLines.filter((line) => line.includes('calling upstream')).length, 2, 'both steps logged');
  t.true(stepLines.every((line) => line.includes(`"traceId":"${ids.traceId}"`)), 'every step line carries the trace id');
});
