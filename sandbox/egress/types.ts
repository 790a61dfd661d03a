/**
 * The contract between the isolate's host bridge (`http.request` inside a plugin) and the
 * egress layer that performs requests for plugins. Everything here is plain data: the
 * isolate never sees these objects, only copies of requests and responses.
 */
import type { GuardRefusalCode } from '../../core/integrationGuards/model.js';
import type { StepFailureCodeOf } from '../../core/runs/stepFailures.js';

/** What one invocation may reach. Built by the engine from the manifest and the administrator's policy. */
export interface EgressPolicy {
  /** `host[:port]` patterns the plugin may call; a leading `*.` matches subdomains. No port means 443 and 80. */
  allowedHosts: string[];
  /**
   * Hosts or CIDRs (`10.0.0.0/8`, `fd00::/8`, `intranet.example`) the administrator allowed
   * this plugin to reach although they resolve to loopback, private, link-local,
   * unique-local or unspecified addresses. Empty: every such address is refused.
   */
  allowedPrivate: string[];
  /** Most requests in one invocation. */
  maxRequests: number;
  /** Largest response body in bytes; a larger one fails the request. */
  maxResponseBytes: number;
  /** Per-request timeout, connect to last byte. */
  requestTimeoutMs: number;
  /** Extra PEM CA certificates (corporate TLS inspection), trusted in addition to Node's. */
  extraCaPem?: string;
  /** Proxy settings; when unset, taken from HTTPS_PROXY / HTTP_PROXY / NO_PROXY by the caller. */
  proxy?: { httpsProxy?: string; httpProxy?: string; noProxy?: string };
  /**
   * Host patterns with an integration guard (the tenant's rate limit and circuit breaker):
   * each hop to one is admitted by the session's `EgressGuard` first, and its result
   * reported back. Hops to other hosts are not checked.
   */
  guardedHosts?: string[];
}

/** How a credential's secret is placed into an outgoing request. */
export type CredentialPlacement =
  { kind: 'bearer' } | { kind: 'basic' } | { kind: 'header'; name: string } | { kind: 'query'; name: string };

/** A credential the invocation holds a lease on; the isolate knows only `handle`. */
export interface CredentialGrant {
  /** Opaque, unguessable; what the plugin passes as `credential` in a request. */
  handle: string;
  placement: CredentialPlacement;
  /** `token` for bearer/header/query; `username` and `password` for basic. */
  secret: Record<string, string>;
  /** Hosts the credential may be sent to (intersected with the policy's hosts). */
  allowedHosts: string[];
  /** Epoch milliseconds after which the lease is void. */
  expiresAt: number;
}

/** A request as a plugin asks for it. */
export interface PluginHttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** Text body; plugins JSON.stringify their own payloads. */
  body?: string;
  /** A credential handle to apply to this request. */
  credential?: string;
}

/** A response as a plugin sees it. */
export interface PluginHttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What a plugin's request fails with: the catalogue's EGRESS codes (core/runs/stepFailures.ts says what each means). */
export type EgressErrorCode = StepFailureCodeOf<'EGRESS'>;

export class EgressError extends Error {
  /** For guard refusals: how long until a request may be admitted. */
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly code: EgressErrorCode,
    message: string,
    retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'EgressError';
    this.retryAfterMs = retryAfterMs;
  }
}

/** The answer of a guard to one hop: a permit (returned with the hop's result), or a refusal. */
export type GuardAdmission =
  { ok: true; permit: string | null } | { ok: false; code: GuardRefusalCode; retryAfterMs: number; message: string };

/** What a hop to a guarded host came to: its status and Retry-After, or `status: null` for no answer (connection error, timeout). */
export type GuardedHopResult = { status: number; retryAfter: string | null } | { status: null };

/**
 * The appliance's integration guard as one invocation sees it (in the sandbox process,
 * a round trip to the engine). The egress layer, never plugin code, calls it: a plugin
 * cannot report a result it did not get, so it can neither close a breaker nor refill a bucket.
 */
export interface EgressGuard {
  /** `host` is the guarded pattern the hop's target matched. */
  admit(host: string): Promise<GuardAdmission>;
  report(permit: string, result: GuardedHopResult): Promise<void>;
}

/** The requests of one invocation, under one policy and one set of grants. */
export interface EgressSession {
  request(request: PluginHttpRequest, signal?: AbortSignal): Promise<PluginHttpResponse>;
  /** Requests attempted so far (refused ones included). */
  readonly requestCount: number;
  /** Requests that carried each credential, by handle: what the appliance audits as lease uses. */
  readonly credentialUses: Readonly<Record<string, number>>;
}
