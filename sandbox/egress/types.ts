/**
 * The contract between the isolate's host bridge (`http.request` inside a plugin) and the
 * egress layer that performs requests for plugins. Everything here is plain data: the
 * isolate never sees these objects, only copies of requests and responses.
 */

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
}

/** How a credential's secret is placed into an outgoing request. */
export type CredentialPlacement =
  | { kind: 'bearer' }
  | { kind: 'basic' }
  | { kind: 'header'; name: string }
  | { kind: 'query'; name: string };

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

export type EgressErrorCode =
  /** Host not allowed, address in a refused range, scheme not http(s). */
  | 'EGRESS_DENIED'
  /** Request count or response size over the invocation's caps. */
  | 'EGRESS_LIMIT'
  | 'EGRESS_TIMEOUT'
  /** DNS failure, connection refused, TLS failure. */
  | 'EGRESS_FAILED'
  /** Unknown, expired or foreign credential handle, or a host the credential may not reach. */
  | 'CREDENTIAL_DENIED';

export class EgressError extends Error {
  constructor(readonly code: EgressErrorCode, message: string) {
    super(message);
    this.name = 'EgressError';
  }
}

/** The requests of one invocation, under one policy and one set of grants. */
export interface EgressSession {
  request(request: PluginHttpRequest, signal?: AbortSignal): Promise<PluginHttpResponse>;
  /** Requests attempted so far (refused ones included). */
  readonly requestCount: number;
  /** Requests that carried each credential, by handle: what the appliance audits as lease uses. */
  readonly credentialUses: Readonly<Record<string, number>>;
}
