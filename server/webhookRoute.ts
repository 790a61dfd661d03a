import type Hapi from '@hapi/hapi';
import type { Logger } from '../core/logger.js';
import { DeliveryRefused, type DeliveryAccepted, type DeliveryRefusalCode, type InboundDelivery } from '../core/triggers/webhooks.js';

/** How each refusal is answered: senders retry on 429 and 503 (after Retry-After) and give up on the rest. */
const STATUS: Record<DeliveryRefusalCode, number> = {
  TRIGGER_NOT_FOUND: 404,
  SOURCE_NOT_ALLOWED: 403,
  PAYLOAD_TOO_LARGE: 413,
  SIGNATURE_MISSING: 401,
  SIGNATURE_MALFORMED: 401,
  SIGNATURE_INVALID: 401,
  TIMESTAMP_OUTSIDE_WINDOW: 401,
  DELIVERY_ID_INVALID: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  BODY_NOT_JSON: 400,
  INPUT_INVALID: 422,
  WORKFLOW_UNAVAILABLE: 409,
  QUOTA_EXCEEDED: 429,
  RATE_LIMITED: 429,
  OVERLOADED: 503,
};

export interface WebhookRouteOptions {
  receive: (delivery: InboundDelivery) => Promise<DeliveryAccepted>;
  /** Counts each delivery by outcome (`accepted`, `duplicate`, or the refusal code). */
  onOutcome: (outcome: string) => void;
  /** The appliance's body limit; a trigger's own limit is checked by the domain. */
  maxBodyBytes: number;
  requestIdOf: (request: Hapi.Request) => string;
}

/**
 * `POST /hooks/{id}`: the body is taken raw (the signature covers its exact bytes) and
 * answered 202 only after the run is committed, 200 for a repeated delivery.
 */
export function webhookRoute(options: WebhookRouteOptions, logger: Logger): Hapi.ServerRoute {
  return {
    method: 'POST',
    path: '/hooks/{id}',
    options: {
      payload: {
        parse: false,
        output: 'data',
        maxBytes: options.maxBodyBytes,
        // A body over the appliance's limit never reaches the handler; the sender still gets a webhook answer.
        failAction: (request, h, error) => {
          const status = error && 'output' in error ? (error as { output: { statusCode: number } }).output.statusCode : 400;
          const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST';
          options.onOutcome(code);
          logger.info(
            { requestId: options.requestIdOf(request), code, sourceAddress: request.info.remoteAddress },
            'webhook delivery refused',
          );
          const message =
            status === 413
              ? `the body is larger than the appliance's limit of ${options.maxBodyBytes} bytes`
              : 'the request body could not be read';
          return h.response({ error: { code, message } }).code(status).header('x-request-id', options.requestIdOf(request)).takeover();
        },
      },
    },
    handler: async (request, h) => {
      const requestId = options.requestIdOf(request);
      const headers: Record<string, string | undefined> = {};
      for (const [name, value] of Object.entries(request.headers))
        headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : typeof value === 'string' ? value : undefined;
      const query: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.query)) query[name] = Array.isArray(value) ? value.join(',') : String(value);
      const userAgent = headers['user-agent'];
      try {
        const accepted = await options.receive({
          publicId: String(request.params['id']),
          body: Buffer.isBuffer(request.payload) ? request.payload : Buffer.alloc(0),
          headers,
          query,
          sourceAddress: request.info.remoteAddress,
          requestId,
          ...(userAgent ? { userAgent } : {}),
        });
        options.onOutcome(accepted.duplicate ? 'duplicate' : 'accepted');
        logger.info(
          { requestId, triggerId: accepted.triggerId, runId: accepted.runId, duplicate: accepted.duplicate },
          'webhook delivery accepted',
        );
        return h
          .response({ runId: accepted.runId, status: accepted.status, duplicate: accepted.duplicate })
          .code(accepted.duplicate ? 200 : 202)
          .header('x-request-id', requestId);
      } catch (error) {
        if (!(error instanceof DeliveryRefused)) {
          logger.error({ err: error, requestId }, 'webhook delivery failed');
          options.onOutcome('INTERNAL');
          return h
            .response({ error: { code: 'INTERNAL', message: 'internal error; the delivery was not accepted, retry it' } })
            .code(500)
            .header('x-request-id', requestId);
        }
        options.onOutcome(error.code);
        // Never the body or a header value: they may hold what the sender considers secret.
        logger.info(
          { requestId, triggerId: error.triggerId, code: error.code, sourceAddress: request.info.remoteAddress },
          'webhook delivery refused',
        );
        const reply = h
          .response({ error: { code: error.code, message: error.message } })
          .code(STATUS[error.code])
          .header('x-request-id', requestId);
        if (error.retryAfterSeconds !== null) reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterSeconds))));
        return reply;
      }
    },
  };
}
