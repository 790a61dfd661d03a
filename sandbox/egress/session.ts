/**
 * An egress session: the HTTP requests of one plugin invocation, under one policy and one
 * set of credential grants. Every hop (the first request and each redirect) is counted,
 * checked against the allow list, resolved, address-checked and pinned on its own.
 */
import tls from 'node:tls';
import { PrivateAllowance } from './addresses.js';
import { CredentialVault, applyCredential } from './credentials.js';
import { pluginHeaders, responseHeaders } from './headers.js';
import { HostAllowList, defaultPort, describeTarget, unbracket, type Target } from './hostPatterns.js';
import { ProxySettings } from './proxy.js';
import { HopAborted, resolveChecked, systemResolver, type Resolver } from './resolve.js';
import { sendHop } from './transport.js';
import { GuardedHosts } from './guardedHosts.js';
import {
  EgressError,
  type CredentialGrant,
  type EgressGuard,
  type EgressPolicy,
  type EgressSession,
  type GuardedHopResult,
  type PluginHttpRequest,
  type PluginHttpResponse,
} from './types.js';

export interface EgressSessionOptions {
  /** Clock for credential expiry; default `Date.now`. */
  now?: () => number;
  /** Host name resolver; default `dns.promises.lookup(host, { all: true })`. */
  resolver?: Resolver;
  /** Admits hops to `policy.guardedHosts` and takes their results; without it those hosts are not guarded. */
  guard?: EgressGuard;
}

/** Redirects followed per plugin request (the hops still count against `maxRequests`). */
export const MAX_REDIRECTS = 5;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
/** Plugin headers that must not follow a redirect to another origin. */
const ORIGIN_BOUND_HEADERS = ['authorization', 'cookie'];

function checkCap(name: string, value: number, minimum: number): void {
  if (!Number.isSafeInteger(value) || value < minimum) throw new TypeError(`egress policy.${name} must be an integer >= ${minimum}`);
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new EgressError('EGRESS_DENIED', 'the URL is not a valid absolute URL');
  }
  checkUrl(url);
  return url;
}

function checkUrl(url: URL): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new EgressError('EGRESS_DENIED', `scheme "${url.protocol.slice(0, 20)}" is not allowed; only http: and https:`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new EgressError('EGRESS_DENIED', 'URLs with embedded credentials (user:password@) are not allowed; use a credential handle');
  }
}

function targetOf(url: URL): Target {
  return { protocol: url.protocol, host: unbracket(url.hostname), port: url.port ? Number(url.port) : defaultPort(url.protocol) };
}

function followable(method: string, status: number): boolean {
  return status === 303 || method === 'GET' || method === 'HEAD';
}

export function createEgressSession(policy: EgressPolicy, grants: CredentialGrant[], options: EgressSessionOptions = {}): EgressSession {
  checkCap('maxRequests', policy.maxRequests, 0);
  checkCap('maxResponseBytes', policy.maxResponseBytes, 0);
  checkCap('requestTimeoutMs', policy.requestTimeoutMs, 1);
  const now = options.now ?? Date.now;
  const resolver = options.resolver ?? systemResolver;
  const allowList = new HostAllowList(policy.allowedHosts);
  const allowance = new PrivateAllowance(policy.allowedPrivate);
  const vault = new CredentialVault(grants);
  const proxies = new ProxySettings(policy.proxy);
  const guard = options.guard;
  const guarded = new GuardedHosts(guard ? (policy.guardedHosts ?? []) : []);
  // Passing `ca` replaces Node's roots, so they are listed explicitly next to the extra ones.
  const ca = policy.extraCaPem ? [...tls.rootCertificates, policy.extraCaPem] : undefined;
  let requestCount = 0;
  const credentialUses: Record<string, number> = {};

  function countHop(): void {
    requestCount += 1;
    if (requestCount > policy.maxRequests)
      throw new EgressError('EGRESS_LIMIT', `more than ${policy.maxRequests} requests in this invocation`);
  }

  /** A permit for a hop to a guarded host (null: not guarded), or the guard's refusal as an EgressError. */
  async function admit(target: Target, signal: AbortSignal): Promise<string | null> {
    const host = guarded.match(target);
    if (host === undefined || guard === undefined) return null;
    const admission = await untilAborted(guard.admit(host), signal);
    if (admission.ok) return admission.permit;
    const seconds = Math.ceil(admission.retryAfterMs / 1000);
    throw new EgressError(
      admission.code,
      `${describeTarget(target)} is held back by its integration guard: ${admission.message}; retry in ${seconds} s`,
      admission.retryAfterMs,
    );
  }

  function report(permit: string | null, result: GuardedHopResult): Promise<void> {
    // Losing one result (the invocation ended meanwhile) must not turn into the plugin's error.
    return permit === null || guard === undefined ? Promise.resolve() : guard.report(permit, result).catch(() => undefined);
  }

  /** `callerSignal` is the invocation's own: a hop it cut short says nothing about the host. */
  async function perform(
    request: PluginHttpRequest,
    signal: AbortSignal,
    callerSignal: AbortSignal | undefined,
  ): Promise<PluginHttpResponse> {
    // Counted before anything is checked: refused requests use up the budget too, which also bounds probing.
    countHop();
    let method = String(request.method ?? '').toUpperCase();
    let url = parseUrl(String(request.url));
    if (!METHODS.has(method)) throw new EgressError('EGRESS_DENIED', `method "${method.slice(0, 20)}" is not allowed`);
    const headers = pluginHeaders(request.headers);
    let body = request.body === undefined ? undefined : Buffer.from(String(request.body), 'utf8');
    let credential = request.credential;
    const origin = url.origin;

    for (let redirects = 0; ; redirects += 1) {
      if (redirects > 0) countHop();
      checkUrl(url);
      const target = targetOf(url);
      const allowed = allowList.matches(target);
      const hopUrl = new URL(url.href);
      hopUrl.hash = '';
      const hopHeaders: Record<string, string> = { ...headers, 'accept-encoding': 'identity' };
      // A credential is checked before the host so that a credential outside either list is reported as such.
      if (credential !== undefined) {
        applyCredential(vault.authorise(credential, target, allowed, now()), hopUrl, hopHeaders);
        credentialUses[credential] = (credentialUses[credential] ?? 0) + 1;
      }
      if (!allowed) throw new EgressError('EGRESS_DENIED', `${describeTarget(target)} is not in the plugin's allowed hosts`);
      const address = await resolveChecked(target, resolver, allowance, signal);
      if (body !== undefined) hopHeaders['content-length'] = String(body.length);
      else if (BODY_METHODS.has(method)) hopHeaders['content-length'] = '0';

      const permit = await admit(target, signal);
      let reply;
      try {
        reply = await sendHop({
          url: hopUrl,
          target,
          method,
          headers: hopHeaders,
          body,
          address,
          proxy: proxies.for(target),
          ca,
          maxResponseBytes: policy.maxResponseBytes,
          signal,
        });
      } catch (error) {
        if (!callerSignal?.aborted) await report(permit, { status: null });
        throw error;
      }
      await report(permit, { status: reply.status, retryAfter: firstHeader(reply.headers['retry-after']) });
      const location = reply.headers.location;
      if (REDIRECTS.has(reply.status) && location !== undefined && followable(method, reply.status)) {
        reply.discard();
        if (redirects >= MAX_REDIRECTS) throw new EgressError('EGRESS_FAILED', `more than ${MAX_REDIRECTS} redirects`);
        let next: URL;
        try {
          // Relative to the URL without the credential, so a bare `?x` cannot carry a query secret along.
          next = new URL(location, url);
        } catch {
          throw new EgressError('EGRESS_FAILED', `${describeTarget(target)} redirected to an invalid URL`);
        }
        if (next.origin !== origin) {
          // Once the request has left its origin the credential stays off, even if a later hop returns.
          credential = undefined;
          for (const name of ORIGIN_BOUND_HEADERS) delete headers[name];
        }
        if (reply.status === 303 && method !== 'HEAD') {
          method = 'GET';
          body = undefined;
          delete headers['content-type'];
        }
        url = next;
        continue;
      }
      const bytes = await reply.readBody();
      return {
        status: reply.status,
        headers: responseHeaders(reply.headers, (text) => vault.redact(text)),
        body: vault.redact(bytes.toString('utf8')),
      };
    }
  }

  return {
    get requestCount() {
      return requestCount;
    },
    get credentialUses() {
      return { ...credentialUses };
    },

    async request(request, signal) {
      if (signal?.aborted) throw new EgressError('EGRESS_FAILED', 'the request was aborted');
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(), policy.requestTimeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
      try {
        return await perform(request, combined, signal);
      } catch (error) {
        if (error instanceof HopAborted || combined.aborted) {
          if (signal?.aborted) throw new EgressError('EGRESS_FAILED', 'the request was aborted');
          throw new EgressError('EGRESS_TIMEOUT', `no complete response within ${policy.requestTimeoutMs} ms`);
        }
        // The last guard: whatever a message quotes (a URL, a server's words), no secret leaves.
        if (error instanceof EgressError) throw new EgressError(error.code, vault.redact(error.message), error.retryAfterMs);
        throw new EgressError('EGRESS_FAILED', vault.redact(error instanceof Error ? error.message : String(error)));
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function firstHeader(value: string | string[] | undefined): string | null {
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

/** Waits for `promise` unless `signal` aborts first (then HopAborted, as for any other step of a hop). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new HopAborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new HopAborted());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
