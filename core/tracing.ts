/**
 * OpenTelemetry spans of runs and steps, through the vendor-neutral API only: without a
 * registered SDK (no OTLP endpoint configured) every call here is a no-op.
 *
 * A run outlives processes, so its root span cannot be an open span object. Its ids are
 * derived from the run's id instead (trace id: the run id's 128 bits; span id: the first
 * 64 bits of its SHA-256), every step span names that root as its parent from the start,
 * and the root itself is emitted, with those ids, by whichever process finishes the run.
 */
import { createHash, randomBytes } from 'node:crypto';
import { context, SpanKind, SpanStatusCode, trace, TraceFlags, type Span, type SpanContext } from '@opentelemetry/api';

const TRACER = 'switchyard';

export function runSpanContext(runId: string): SpanContext {
  return {
    traceId: runId.replace(/-/g, '').toLowerCase(),
    spanId: createHash('sha256').update(runId).digest('hex').slice(0, 16),
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
  };
}

// The ids the next root span must get (set only around recordRunSpan's startSpan, which is synchronous).
let pendingRoot: { traceId: string; spanId: string } | null = null;

/** The SDK's id generator (server/tracing.ts): random ids, except for a run's root span. */
export const RUN_AWARE_ID_GENERATOR = {
  generateTraceId: (): string => pendingRoot?.traceId ?? randomBytes(16).toString('hex'),
  // Either may be asked first (the SDK asks for the span id before the trace id); recordRunSpan clears both.
  generateSpanId: (): string => pendingRoot?.spanId ?? randomBytes(8).toString('hex'),
};

export interface FinishedRun {
  id: string;
  tenantId: string;
  workflowId: string;
  status: string;
  createdAt: string | Date;
  finishedAt: string | Date | null;
}

/** Emits a finished run's root span, from its creation to its end. */
export function recordRunSpan(run: FinishedRun): void {
  const ids = runSpanContext(run.id);
  pendingRoot = { traceId: ids.traceId, spanId: ids.spanId };
  let span: Span;
  try {
    span = trace.getTracer(TRACER).startSpan('run', {
      root: true,
      startTime: new Date(run.createdAt),
      attributes: {
        'switchyard.tenant_id': run.tenantId,
        'switchyard.workflow_id': run.workflowId,
        'switchyard.run_id': run.id,
        'switchyard.run_status': run.status,
      },
    });
  } finally {
    pendingRoot = null;
  }
  if (run.status !== 'SUCCEEDED') span.setStatus({ code: SpanStatusCode.ERROR, message: run.status });
  span.end(run.finishedAt ? new Date(run.finishedAt) : new Date());
}

/** Runs a step attempt inside its span (a child of its run's root), active for everything the attempt calls. */
export function traceStepAttempt<T>(
  step: { runId: string; tenantId: string; workflowId: string; stepId: string; uses: string; attempt: number },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = trace.setSpanContext(context.active(), runSpanContext(step.runId));
  return trace.getTracer(TRACER).startActiveSpan(
    `step ${step.stepId}`,
    {
      attributes: {
        'switchyard.tenant_id': step.tenantId,
        'switchyard.workflow_id': step.workflowId,
        'switchyard.run_id': step.runId,
        'switchyard.step_id': step.stepId,
        'switchyard.uses': step.uses,
        'switchyard.attempt': step.attempt,
      },
    },
    parent,
    async (span) => {
      try {
        return await fn(span);
      } finally {
        span.end();
      }
    },
  );
}

/** A plugin HTTP call as the sandbox measured it; `url` has no query or fragment, which may carry secrets. */
export interface OutboundHttpCall {
  method: string;
  url: string;
  /** Epoch milliseconds (fractional). */
  startedAt: number;
  durationMs: number;
  /** The final response's status, when there was one. */
  status?: number;
  /** The egress code when the call failed. */
  code?: string;
}

/**
 * Emits a client span per plugin HTTP call, as children of the active (step) span. The
 * calls were made in the sandbox process, which exports nothing itself: it hands back
 * their timings with the attempt's result, and the spans are written here afterwards.
 */
export function recordHttpCallSpans(calls: readonly OutboundHttpCall[] | undefined): void {
  if (!calls?.length) return;
  const tracer = trace.getTracer(TRACER);
  for (const call of calls) {
    let server: URL | undefined;
    try {
      server = new URL(call.url);
    } catch {
      server = undefined;
    }
    const span = tracer.startSpan(call.method, {
      kind: SpanKind.CLIENT,
      startTime: call.startedAt,
      attributes: {
        'http.request.method': call.method,
        'url.full': call.url,
        ...(server
          ? { 'server.address': server.hostname, 'server.port': Number(server.port || (server.protocol === 'https:' ? 443 : 80)) }
          : {}),
        ...(call.status !== undefined ? { 'http.response.status_code': call.status } : {}),
        ...(call.code !== undefined ? { 'error.type': call.code } : {}),
      },
    });
    if (call.code !== undefined || (call.status !== undefined && call.status >= 400)) {
      span.setStatus({ code: SpanStatusCode.ERROR, ...(call.code !== undefined ? { message: call.code } : {}) });
    }
    span.end(call.startedAt + call.durationMs);
  }
}
