/**
 * Outbound HTTP proxies: HTTP CONNECT tunnels for https targets, absolute-form requests for
 * http targets.
 *
 * The egress layer resolves and checks the target itself before it uses a proxy, but the
 * final connection is made by the proxy, which resolves the name again: pinning ends at the
 * proxy. The CONNECT line names the host (not the checked address) because corporate
 * proxies apply their own host-based policy.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { NoProxyList, describeTarget, type Target } from './hostPatterns.js';
import { HopAborted } from './resolve.js';
import { EgressError } from './types.js';

export interface ProxyPolicy {
  httpsProxy?: string;
  httpProxy?: string;
  noProxy?: string;
}

function parseProxyUrl(name: string, value: string | undefined): URL | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new TypeError(`egress proxy.${name}: not a URL`);
  }
  // Only plain-HTTP proxies: TLS to the proxy itself is not supported.
  if (url.protocol !== 'http:') throw new TypeError(`egress proxy.${name}: only http:// proxies are supported`);
  return url;
}

/** Which proxy, if any, carries a request. */
export class ProxySettings {
  private readonly https: URL | undefined;
  private readonly http: URL | undefined;
  private readonly noProxy: NoProxyList;

  constructor(policy: ProxyPolicy | undefined) {
    this.https = parseProxyUrl('httpsProxy', policy?.httpsProxy);
    this.http = parseProxyUrl('httpProxy', policy?.httpProxy);
    this.noProxy = new NoProxyList(policy?.noProxy);
  }

  for(target: Target): URL | undefined {
    const proxy = target.protocol === 'https:' ? this.https : this.http;
    return proxy === undefined || this.noProxy.bypasses(target) ? undefined : proxy;
  }
}

/** Where to open the TCP connection to a proxy. */
export function proxyEndpoint(proxy: URL): { host: string; port: number } {
  const host = proxy.hostname.startsWith('[') ? proxy.hostname.slice(1, -1) : proxy.hostname;
  return { host, port: proxy.port ? Number(proxy.port) : 80 };
}

/** `proxy-authorization` for a proxy URL with `user:password@`, if any. */
export function proxyAuthorization(proxy: URL): Record<string, string> {
  if (proxy.username === '' && proxy.password === '') return {};
  const pair = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(pair, 'utf8').toString('base64')}` };
}

/** Opens a CONNECT tunnel to the target through the proxy; resolves with the raw socket. */
export function openTunnel(proxy: URL, target: Target, signal: AbortSignal): Promise<Socket> {
  const authority = describeTarget(target);
  return new Promise<Socket>((resolve, reject) => {
    if (signal.aborted) {
      reject(new HopAborted());
      return;
    }
    const request = http.request({
      ...proxyEndpoint(proxy),
      method: 'CONNECT',
      path: authority,
      headers: { host: authority, ...proxyAuthorization(proxy) },
      agent: false,
    });
    const onAbort = (): void => {
      request.destroy();
      reject(new HopAborted());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    request.once('connect', (response, socket, head) => {
      signal.removeEventListener('abort', onAbort);
      if (response.statusCode !== 200) {
        socket.destroy();
        reject(new EgressError('EGRESS_FAILED', `the proxy refused to connect to ${authority} (status ${response.statusCode})`));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    request.on('error', (error) => {
      signal.removeEventListener('abort', onAbort);
      reject(new EgressError('EGRESS_FAILED', `could not reach the proxy for ${authority}: ${error.message}`));
    });
    request.end();
  });
}
