/** How a credential's secret goes into a request; the sandbox's egress layer applies it. */
export type CredentialPlacement =
  { kind: 'bearer' } | { kind: 'basic' } | { kind: 'header'; name: string } | { kind: 'query'; name: string };

interface CredentialTypeSpec {
  /** Fields of the secret (write-only). */
  secret: readonly string[];
  /** Fields of the non-secret settings plugins may read. */
  config: readonly string[];
  placement(config: Record<string, string>): CredentialPlacement;
  checkConfig?(config: Record<string, string>): string | undefined;
}

const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;

/** The credential types the appliance knows; a plugin's manifest lists the types it may be handed. */
export const CREDENTIAL_TYPES: Readonly<Record<string, CredentialTypeSpec>> = {
  bearer: { secret: ['token'], config: [], placement: () => ({ kind: 'bearer' }) },
  basic: { secret: ['username', 'password'], config: [], placement: () => ({ kind: 'basic' }) },
  header: {
    secret: ['token'],
    config: ['headerName'],
    placement: (c) => ({ kind: 'header', name: c['headerName']! }),
    checkConfig: (c) =>
      HEADER_NAME.test(c['headerName'] ?? '') &&
      !/^(host|authorization|cookie|content-length|transfer-encoding|connection)$/i.test(c['headerName']!)
        ? undefined
        : 'headerName must be a header name such as X-Api-Key (not Host, Authorization, Cookie or a hop-by-hop header)',
  },
  query: {
    secret: ['token'],
    config: ['paramName'],
    placement: (c) => ({ kind: 'query', name: c['paramName']! }),
    checkConfig: (c) =>
      /^[A-Za-z0-9_.-]{1,64}$/.test(c['paramName'] ?? '') ? undefined : 'paramName must be a query parameter name such as api_key',
  },
  // An OpenAI-compatible model server (api.openai.com or one on the enterprise's own network).
  openai: {
    secret: ['token'],
    config: ['baseUrl'],
    placement: () => ({ kind: 'bearer' }),
    checkConfig: (c) => {
      try {
        const url = new URL(c['baseUrl'] ?? '');
        return (url.protocol === 'https:' || url.protocol === 'http:') && !url.username && !url.password && !url.search && !url.hash
          ? undefined
          : 'baseUrl must be an http(s) URL without credentials, query or fragment';
      } catch {
        return 'baseUrl must be a URL such as https://api.openai.com';
      }
    },
  },
};

/** A credential as the API shows it: never the secret. */
export interface Credential {
  id: string;
  tenantId: string;
  name: string;
  type: string;
  config: Record<string, string>;
  allowedHosts: string[];
  createdAt: Date;
  updatedAt: Date;
}

/** A step attempt's use of a credential, as the executor hands it to the sandbox. */
export interface CredentialLease {
  leaseId: string;
  /** Opaque and unguessable; the only thing plugin code sees besides type and config. */
  handle: string;
  type: string;
  config: Record<string, string>;
  secret: Record<string, string>;
  placement: CredentialPlacement;
  allowedHosts: string[];
  expiresAt: Date;
}

export interface LeaseRequest {
  tenantId: string;
  runId: string;
  stepId: string;
  attempt: number;
  pluginVersionId: string;
  pluginName: string;
  /** Credential types the plugin's manifest may be handed. */
  allowedTypes: readonly string[];
  credentialName: string;
  expiresAt: Date;
}

/** What an attempt did with its lease: how many requests carried the secret. */
export interface LeaseUse {
  tenantId: string;
  leaseId: string;
  credentialName: string;
  runId: string;
  stepId: string;
  attempt: number;
  requests: number;
}

/** How the sandbox executor obtains leases and reports their use (the domain issues and audits both). */
export interface CredentialLeaser {
  issueLease(request: LeaseRequest): Promise<CredentialLease>;
  recordLeaseUse(use: LeaseUse): Promise<void>;
}
