/**
 * Credential handles: the plugin names a grant, the host places its secret into the
 * outgoing request. The secret never travels back: it is kept out of error messages and
 * redacted from what the response echoes.
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { EgressError, type CredentialGrant } from './types.js';
import { HostAllowList, describeTarget, type Target } from './hostPatterns.js';
import { FORBIDDEN_HEADERS } from './headers.js';

const REDACTED = '[redacted]';

interface Lease {
  grant: CredentialGrant;
  hosts: HostAllowList;
}

/** The grants of one invocation, keyed by handle. */
export class CredentialVault {
  private readonly leases = new Map<string, Lease>();
  /** Every string whose appearance in a response or message would reveal a secret; longest first. */
  private readonly sensitive: string[];

  constructor(grants: readonly CredentialGrant[]) {
    const sensitive = new Set<string>();
    for (const grant of grants) {
      if (this.leases.has(grant.handle)) throw new TypeError('egress credential grants: duplicate handle');
      checkPlacement(grant);
      this.leases.set(grant.handle, { grant, hosts: new HostAllowList(grant.allowedHosts) });
      for (const value of secretForms(grant)) if (value !== '') sensitive.add(value);
    }
    this.sensitive = [...sensitive].sort((a, b) => b.length - a.length);
  }

  /**
   * The grant for a handle, if it may be used for this target now. `policyAllows` is the
   * policy's own verdict on the target, so a host must be in both lists.
   */
  authorise(handle: string, target: Target, policyAllows: boolean, now: number): CredentialGrant {
    const lease = this.leases.get(handle);
    if (!lease) throw new EgressError('CREDENTIAL_DENIED', 'unknown credential handle');
    if (lease.grant.expiresAt <= now) throw new EgressError('CREDENTIAL_DENIED', 'the credential lease has expired');
    if (!lease.hosts.matches(target) || !policyAllows) {
      throw new EgressError('CREDENTIAL_DENIED', `the credential may not be sent to ${describeTarget(target)}`);
    }
    return lease.grant;
  }

  /** Replaces every secret (and its encoded forms) in a text; best effort against echoing servers. */
  redact(text: string): string {
    let result = text;
    for (const value of this.sensitive) if (result.includes(value)) result = result.split(value).join(REDACTED);
    return result;
  }
}

/** The literal strings a placement puts on the wire, plus the raw secret values. */
function secretForms(grant: CredentialGrant): string[] {
  const { token = '', password = '' } = grant.secret;
  switch (grant.placement.kind) {
    case 'basic':
      // The username alone is not secret; the password and the encoded pair are.
      return [password, basicValue(grant)];
    case 'query':
      return [token, encodeURIComponent(token), new URLSearchParams({ t: token }).toString().slice(2)];
    default:
      return [token];
  }
}

function basicValue(grant: CredentialGrant): string {
  return Buffer.from(`${grant.secret.username ?? ''}:${grant.secret.password ?? ''}`, 'utf8').toString('base64');
}

/** Refuses a grant that could not be placed safely; grants are host configuration, so this is a setup error. */
function checkPlacement(grant: CredentialGrant): void {
  const { placement, secret } = grant;
  const needs = placement.kind === 'basic' ? ['username', 'password'] : ['token'];
  for (const key of needs)
    if (typeof secret[key] !== 'string') throw new TypeError(`egress credential grant: ${placement.kind} needs secret.${key}`);
  if (placement.kind === 'header') {
    validateHeaderName(placement.name);
    if (FORBIDDEN_HEADERS.has(placement.name.toLowerCase()) || placement.name.toLowerCase().startsWith('proxy-')) {
      throw new TypeError(`egress credential grant: header "${placement.name}" cannot carry a credential`);
    }
  }
  if (placement.kind === 'query' && placement.name === '') throw new TypeError('egress credential grant: empty query parameter name');
}

/**
 * Places the secret into the request. `headers` are already lower-cased and checked; a
 * request that sets the credential's own header or parameter is refused rather than
 * letting one of the two values win silently.
 */
export function applyCredential(grant: CredentialGrant, url: URL, headers: Record<string, string>): void {
  const { placement, secret } = grant;
  const header =
    placement.kind === 'bearer' || placement.kind === 'basic'
      ? 'authorization'
      : placement.kind === 'header'
        ? placement.name.toLowerCase()
        : undefined;
  if (header !== undefined && Object.hasOwn(headers, header)) {
    throw new EgressError('CREDENTIAL_DENIED', `the request sets the "${header}" header itself while a credential is applied`);
  }
  switch (placement.kind) {
    case 'bearer':
      headers.authorization = `Bearer ${secret.token}`;
      break;
    case 'basic':
      headers.authorization = `Basic ${basicValue(grant)}`;
      break;
    case 'header':
      headers[placement.name.toLowerCase()] = secret.token!;
      break;
    case 'query':
      if (url.searchParams.has(placement.name)) {
        throw new EgressError(
          'CREDENTIAL_DENIED',
          `the request sets the "${placement.name}" query parameter itself while a credential is applied`,
        );
      }
      url.searchParams.append(placement.name, secret.token!);
      return;
  }
  try {
    validateHeaderValue(header!, headers[header!] ?? '');
  } catch {
    // Node's message would quote the value, which is the secret.
    throw new EgressError('CREDENTIAL_DENIED', 'the credential contains characters not allowed in a header');
  }
}
