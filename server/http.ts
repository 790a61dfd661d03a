import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import Hapi from '@hapi/hapi';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { GraphQLContext } from '../core/graphql/context.js';
import type { TransportContext } from './graphql.js';
import { adminUiRoutes } from './adminUi.js';
import { webhookRoute } from './webhookRoute.js';
import type { DeliveryAccepted, InboundDelivery } from '../core/triggers/webhooks.js';

export interface HttpOptions {
  host: string;
  port: number;
  /** HTTPS with this certificate chain and key (PEM); null: plain HTTP. */
  tls: { cert: Buffer; key: Buffer } | null;
  maxBodyBytes: number;
  /** Readiness: database reachable, migrations applied, job runner running (where this process runs one). */
  isReady: () => Promise<{ ready: boolean; checks: Record<string, boolean> }>;
  metrics: Registry;
  /** Verifies a webhook delivery and starts its run (`POST /hooks/{id}`). */
  receiveWebhook: (delivery: InboundDelivery) => Promise<DeliveryAccepted>;
  onWebhookDelivery: (outcome: string) => void;
  /** An audit export bundle the bearer may download (`GET /audit-exports/{id}`), or a typed error. */
  auditExportFile: (
    authorization: string | undefined,
    id: string,
    client: { requestId: string; sourceAddress: string; userAgent?: string },
  ) => Promise<{ file: string; sha256: string }>;
}

const DOWNLOAD_STATUS: Record<string, number> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, RATE_LIMITED: 429 };

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** hapi serves GraphQL (through graphql-yoga's fetch interface), health, readiness and metrics. */
/** `yoga` null: probes and metrics only (a worker process). */
export async function createHttpServer(
  yoga: YogaServerInstance<TransportContext, GraphQLContext> | null,
  options: HttpOptions,
  logger: Logger,
): Promise<Hapi.Server> {
  const server = Hapi.server({
    host: options.host,
    port: options.port,
    ...(options.tls ? { tls: { cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' as const } } : {}),
    routes: { timeout: { server: false, socket: false } },
    router: { stripTrailingSlash: true },
  });

  const handleGraphQL: Hapi.Lifecycle.Method = async (request, h) => {
    const requestId = requestIdOf(request);
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (typeof value === 'string') headers.set(name, value);
    }
    const body = request.method === 'post' && Buffer.isBuffer(request.payload) ? (request.payload as Buffer) : undefined;
    // yoga answers unparsable JSON with HTTP 200 for application/json clients; refuse it here with 400.
    if (body && String(request.headers['content-type'] ?? '').includes('application/json')) {
      try {
        JSON.parse(body.toString('utf8'));
      } catch {
        return h
          .response({ errors: [{ message: 'the request body is not valid JSON', extensions: { code: 'BAD_USER_INPUT' } }] })
          .code(400)
          .header('x-request-id', requestId);
      }
    }
    const url = `http://${request.info.host || 'localhost'}${request.url.pathname}${request.url.search}`;
    const abort = new AbortController();
    request.raw.req.once('close', () => abort.abort());
    // Only routed when there is an API (apiRoutes below).
    const response = await yoga!.handleRequest(
      new Request(url, {
        method: request.method.toUpperCase(),
        headers,
        ...(body ? { body: new Uint8Array(body) } : {}),
        signal: abort.signal,
      }),
      { requestId, sourceAddress: request.info.remoteAddress, userAgent: request.headers['user-agent'] as string | undefined },
    );
    const isStream = (response.headers.get('content-type') ?? '').includes('text/event-stream');
    // A subscriber that leaves before the stream is first read makes yoga's cancel fail on the
    // Node stream under the ponyfill, with no listener: an uncaught error that would end the process.
    if (isStream)
      (response.body as unknown as { readable?: Readable } | null)?.readable?.on('error', (error) =>
        logger.debug({ err: error, requestId }, 'subscription stream ended early'),
      );
    // yoga's body is a whatwg-node ponyfill stream, not Node's ReadableStream: read it as an async iterable.
    const payload =
      isStream && response.body
        ? Readable.from(response.body as unknown as AsyncIterable<Uint8Array>, { objectMode: false })
        : Buffer.from(await response.arrayBuffer());
    const reply = h.response(payload).code(response.status);
    response.headers.forEach((value, name) => {
      if (name !== 'content-length') reply.header(name, value);
    });
    reply.header('x-request-id', requestId);
    return reply;
  };

  const apiRoutes: Hapi.ServerRoute[] = [
    {
      method: 'POST',
      path: '/graphql',
      options: {
        payload: {
          parse: false,
          output: 'data',
          maxBytes: options.maxBodyBytes,
          allow: [
            'application/json',
            'application/graphql-response+json',
            'multipart/form-data',
            'application/x-www-form-urlencoded',
            'text/plain',
          ],
        },
      },
      handler: handleGraphQL,
    },
    { method: 'GET', path: '/graphql', handler: handleGraphQL },
    webhookRoute(
      { receive: options.receiveWebhook, onOutcome: options.onWebhookDelivery, maxBodyBytes: options.maxBodyBytes, requestIdOf },
      logger,
    ),
    {
      method: 'GET',
      path: '/audit-exports/{id}',
      handler: async (request, h) => {
        const requestId = requestIdOf(request);
        const userAgent = request.headers['user-agent'] as string | undefined;
        try {
          const { file, sha256 } = await options.auditExportFile(
            request.headers['authorization'] as string | undefined,
            String(request.params['id']),
            {
              requestId,
              sourceAddress: request.info.remoteAddress,
              ...(userAgent ? { userAgent } : {}),
            },
          );
          return h
            .response(fs.createReadStream(file))
            .type('application/gzip')
            .header('content-disposition', `attachment; filename="${path.basename(file)}"`)
            .header('x-content-sha256', sha256)
            .header('x-request-id', requestId);
        } catch (error) {
          const code = error instanceof AppError ? error.code : 'INTERNAL';
          if (!(error instanceof AppError)) logger.error({ err: error, requestId }, 'audit export download failed');
          return h
            .response({ errors: [{ message: error instanceof AppError ? error.message : 'internal error', extensions: { code } }] })
            .code(DOWNLOAD_STATUS[code] ?? 500)
            .header('x-request-id', requestId);
        }
      },
    },
  ];
  server.route([
    ...(yoga ? [...apiRoutes, ...adminUiRoutes()] : []),
    { method: 'GET', path: '/health', handler: () => ({ status: 'ok' }) },
    {
      method: 'GET',
      path: '/ready',
      handler: async (_request, h) => {
        const result = await options.isReady().catch(() => ({ ready: false, checks: {} }));
        return h.response({ status: result.ready ? 'ready' : 'not ready', checks: result.checks }).code(result.ready ? 200 : 503);
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handler: async (_request, h) => h.response(await options.metrics.metrics()).type(options.metrics.contentType),
    },
  ]);

  // Errors hapi raises itself (body too large, unsupported media type, unknown route) get the API's error shape.
  server.ext('onPreResponse', (request, h) => {
    const response = request.response;
    if (!('isBoom' in response) || !response.isBoom) return h.continue;
    const status = response.output.statusCode;
    const code = status === 401 ? 'UNAUTHENTICATED' : status === 404 ? 'NOT_FOUND' : status >= 500 ? 'INTERNAL' : 'BAD_USER_INPUT';
    if (status >= 500) logger.error({ err: response, requestId: requestIdOf(request) }, 'request failed');
    const message =
      status === 413
        ? `request body is larger than the limit of ${options.maxBodyBytes} bytes`
        : status >= 500
          ? 'Internal server error'
          : response.output.payload.message;
    return h
      .response({ errors: [{ message, extensions: { code } }] })
      .code(status)
      .header('x-request-id', requestIdOf(request));
  });

  server.events.on('response', (request) => {
    const status = 'statusCode' in request.response ? request.response.statusCode : undefined;
    logger.debug(
      { requestId: requestIdOf(request), method: request.method, path: request.path, status, ms: Date.now() - request.info.received },
      'request',
    );
  });

  return server;
}

function requestIdOf(request: Hapi.Request): string {
  const app = request.app as { requestId?: string };
  if (!app.requestId) {
    const given = request.headers['x-request-id'];
    app.requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  }
  return app.requestId;
}
