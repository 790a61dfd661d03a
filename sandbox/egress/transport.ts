/**
 * One HTTP exchange (one hop of a plugin request) on a connection pinned to an address
 * that has already been checked.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import tls from 'node:tls';
import { describeTarget, type Target } from './hostPatterns.js';
import { openTunnel, proxyAuthorization, proxyEndpoint } from './proxy.js';
import { HopAborted, type ResolvedAddress } from './resolve.js';
import { EgressError } from './types.js';

export interface Hop {
  /** The URL as sent, credential included. */
  url: URL;
  target: Target;
  method: string;
  /** Final request headers, lower-case, `host` excluded. */
  headers: Record<string, string>;
  body: Buffer | undefined;
  /** The checked address the connection must go to (ignored when a proxy carries the request). */
  address: ResolvedAddress;
  proxy: URL | undefined;
  /** Trusted roots; undefined means Node's defaults. */
  ca: string[] | undefined;
  maxResponseBytes: number;
  signal: AbortSignal;
}

export interface HopReply {
  status: number;
  headers: IncomingHttpHeaders;
  /** Reads the whole body, failing as soon as it grows past the cap. */
  readBody(): Promise<Buffer>;
  /** Drops the response without reading it (a redirect about to be followed). */
  discard(): void;
}

/** Answers every lookup with the checked address, whatever name Node asks for. */
function pinnedLookup(pinned: ResolvedAddress): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
    else callback(null, pinned.address, pinned.family);
  }) as unknown as LookupFunction;
}

/** SNI and certificate name: the original host, never the address (SNI must not be an IP). */
function serverName(target: Target): string | undefined {
  return isIP(target.host) ? undefined : target.host.replace(/\.$/, '');
}

async function requestOptions(hop: Hop): Promise<{ options: https.RequestOptions; tunnel?: Socket }> {
  const { url, target, proxy } = hop;
  const headers = { ...hop.headers, host: url.host };
  const servername = serverName(target);
  const tlsOptions = { rejectUnauthorized: true, ...(hop.ca ? { ca: hop.ca } : {}), ...(servername ? { servername } : {}) };
  if (proxy === undefined) {
    const options: https.RequestOptions = {
      ...tlsOptions,
      host: target.host,
      port: target.port,
      method: hop.method,
      path: `${url.pathname}${url.search}`,
      headers,
      // A fresh connection per hop: a pooled socket could be connected to another hop's address.
      agent: false,
      lookup: pinnedLookup(hop.address),
    };
    return { options };
  }
  if (target.protocol === 'http:') {
    return {
      options: {
        ...proxyEndpoint(proxy),
        method: hop.method,
        path: `${url.origin}${url.pathname}${url.search}`,
        headers: { ...headers, ...proxyAuthorization(proxy) },
        agent: false,
      },
    };
  }
  const tunnel = await openTunnel(proxy, target, hop.signal);
  // Failures surface on the TLS socket layered on top; this keeps a raw socket error from going unhandled.
  tunnel.on('error', () => undefined);
  const options: https.RequestOptions = {
    method: hop.method,
    path: `${url.pathname}${url.search}`,
    headers,
    // Without an agent, the request runs over exactly this connection: TLS inside the tunnel.
    createConnection: () => tls.connect({ ...tlsOptions, socket: tunnel, host: target.host }),
  };
  return { options, tunnel };
}

export async function sendHop(hop: Hop): Promise<HopReply> {
  const { options, tunnel } = await requestOptions(hop);
  const send = hop.target.protocol === 'https:' ? https.request : http.request;
  const where =
    hop.proxy === undefined ? `${describeTarget(hop.target)} (${hop.address.address})` : `${describeTarget(hop.target)} via the proxy`;
  return new Promise<HopReply>((resolve, reject) => {
    let settled = false;
    let fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    const request = send(options);
    const onAbort = (): void => {
      fail(new HopAborted());
      request.destroy();
    };
    // Listeners first: destroying a request emits 'error', which must never go unhandled.
    request.on('error', (error) => fail(new EgressError('EGRESS_FAILED', `request to ${where} failed: ${error.message}`)));
    request.once('close', () => {
      hop.signal.removeEventListener('abort', onAbort);
      tunnel?.destroy();
    });
    if (hop.signal.aborted) return onAbort();
    hop.signal.addEventListener('abort', onAbort, { once: true });
    request.once('response', (response: IncomingMessage) => {
      settled = true;
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        discard: () => request.destroy(),
        readBody: () =>
          new Promise<Buffer>((resolveBody, rejectBody) => {
            settled = false;
            fail = (error) => {
              if (settled) return;
              settled = true;
              rejectBody(error);
              request.destroy();
            };
            response.on('error', (error) =>
              fail(new EgressError('EGRESS_FAILED', `the response from ${where} broke off: ${error.message}`)),
            );
            if (hop.signal.aborted) return onAbort();
            const tooLarge = (): void =>
              fail(
                new EgressError(
                  'EGRESS_LIMIT',
                  `the response from ${describeTarget(hop.target)} is larger than ${hop.maxResponseBytes} bytes`,
                ),
              );
            const declared = Number(response.headers['content-length']);
            if (Number.isFinite(declared) && declared > hop.maxResponseBytes) return tooLarge();
            const chunks: Buffer[] = [];
            let received = 0;
            response.on('data', (chunk: Buffer) => {
              received += chunk.length;
              // Count before keeping: never hold more than the cap.
              if (received > hop.maxResponseBytes) return tooLarge();
              chunks.push(chunk);
            });
            response.once('end', () => {
              if (settled) return;
              settled = true;
              resolveBody(Buffer.concat(chunks, received));
            });
            response.once('close', () => {
              if (!response.complete) fail(new EgressError('EGRESS_FAILED', `the response from ${where} broke off`));
            });
          }),
      });
    });
    request.end(hop.body);
  });
}
