/**
 * Plugin-supplied request headers and the response headers handed back.
 *
 * Framing, routing and connection headers belong to the egress layer: a plugin that could
 * set `host`, `content-length` or `transfer-encoding` could smuggle a second request or
 * reach a virtual host the allow list never saw.
 */
import { validateHeaderName, validateHeaderValue, type IncomingHttpHeaders } from 'node:http';
import { EgressError } from './types.js';

export const FORBIDDEN_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  // 100-continue handling is not offered; the body is always sent at once.
  'expect',
  // Responses are returned as text, so compression is never negotiated.
  'accept-encoding',
  'http2-settings',
]);

/** Lower-cases and checks plugin headers; any refused one fails the whole request. */
export function pluginHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (FORBIDDEN_HEADERS.has(lower) || lower.startsWith('proxy-')) {
      throw new EgressError('EGRESS_DENIED', `header "${lower}" may not be set by a plugin`);
    }
    if (typeof value !== 'string') throw new EgressError('EGRESS_DENIED', `header "${lower}" must be a string`);
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch {
      throw new EgressError('EGRESS_DENIED', `header "${lower.slice(0, 100)}" has an invalid name or value`);
    }
    if (Object.hasOwn(result, lower)) throw new EgressError('EGRESS_DENIED', `header "${lower}" is set twice`);
    result[lower] = value;
  }
  return result;
}

/** Response headers as a plugin sees them: lower-case names, one string each. */
export function responseHeaders(headers: IncomingHttpHeaders, redact: (text: string) => string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    // Joined like the Fetch API's `Headers.get('set-cookie')`.
    result[name] = redact(Array.isArray(value) ? value.join(', ') : value);
  }
  return result;
}
