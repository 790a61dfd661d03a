/**
 * OpenTelemetry for this process when an OTLP endpoint is configured: spans of runs and
 * steps (core/tracing.ts) exported in batches over OTLP/HTTP (JSON) to `<endpoint>/v1/traces`.
 * Without an endpoint nothing is registered and the domain's tracing calls are no-ops.
 */
import os from 'node:os';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Config } from '../core/config.js';
import { RUN_AWARE_ID_GENERATOR } from '../core/tracing.js';
import { applianceVersion } from './version.js';

export interface Tracing {
  /** Exports what is pending and unregisters. */
  shutdown(): Promise<void>;
}

export function startTracing(config: Config): Tracing | null {
  if (!config.otlpEndpoint) return null;
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'switchyard',
      'service.version': applianceVersion(),
      'service.instance.id': `${os.hostname()}:${process.pid}`,
      'switchyard.role': config.role,
    }),
    idGenerator: RUN_AWARE_ID_GENERATOR,
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${config.otlpEndpoint.replace(/\/$/, '')}/v1/traces` }), {
        scheduledDelayMillis: 1000,
      }),
    ],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  return {
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}
