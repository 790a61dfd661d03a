/**
 * What the domain knows of plugins. The package format and its signature checks live in
 * `plugins/package` and reach the domain through `PluginPackageVerifier`; the sandbox
 * reads installed versions through `PluginCatalog`.
 */

export interface PluginActionInfo {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  outputSchema: Record<string, unknown>;
}

/** The manifest fields the appliance acts on (the package format defines the whole). */
export interface PluginManifestData {
  name: string;
  version: string;
  publisher: string;
  minApplianceVersion: string;
  entry: string;
  actions: PluginActionInfo[];
  permissions: { hosts: string[]; credentialTypes: string[]; rawSecretAccess: boolean };
  resources: { memoryMb?: number; timeoutMs?: number; cpuMs?: number; maxRequests?: number; maxResponseBytes?: number };
}

/** CORE ships with the appliance; SIGNED was verified against the trust store; UNSIGNED came in under `allowUnsignedPlugins`. */
export type PluginTrust = 'CORE' | 'SIGNED' | 'UNSIGNED';

export interface InstalledPlugin {
  id: string;
  name: string;
  version: string;
  major: number;
  publisher: string;
  trust: PluginTrust;
  manifest: PluginManifestData;
  scriptSha256: string;
  packageSha256: string;
  publisherFingerprint: string | null;
  certificateNotAfter: Date | null;
  installedAt: Date;
  installedBy: string | null;
}

export interface InstalledPluginWithScript extends InstalledPlugin {
  script: string;
}

/** A package that passed verification, reduced to what installing it needs. */
export interface VerifiedPluginPackage {
  signed: boolean;
  manifest: PluginManifestData;
  script: string;
  scriptSha256: string;
  packageSha256: string;
  publisherFingerprint: string | null;
  certificateNotAfter: Date | null;
}

export type PackageCheck =
  | { ok: true; pkg: VerifiedPluginPackage }
  /** `code` is the verifier's stable refusal code (UNSIGNED, MODIFIED, UNTRUSTED_PUBLISHER, ...). */
  | { ok: false; code: string; reason: string };

export interface PluginPackageVerifier {
  verify(pkg: Buffer, options: { allowUnsigned: boolean }): Promise<PackageCheck>;
}

/** How the sandbox executor finds the code a step runs and the policy it runs under. */
export interface PluginCatalog {
  /** Versions never change, so this may be cached. */
  pluginVersion(id: string): Promise<InstalledPluginWithScript | null>;
  /** The current policy; changes apply to attempts that start after them. */
  pluginPolicy(name: string): Promise<PluginPolicy>;
}

/** The administrator's egress and secret policy for one plugin name (all versions). */
export interface PluginPolicy {
  /** Host patterns the administrator allows; `*` allows whatever the manifest asks for. */
  allowedHosts: string[];
  /** Hosts or CIDRs the plugin may reach although they are loopback, private or link-local. */
  allowedPrivate: string[];
  rawSecretAccessApproved: boolean;
}

export const DEFAULT_PLUGIN_POLICY: PluginPolicy = Object.freeze({
  allowedHosts: ['*'],
  allowedPrivate: [],
  rawSecretAccessApproved: false,
});

/** One run of an action, as host-side hooks see it. */
export interface ActionCall {
  tenantId: string;
  runId: string;
  stepId: string;
  /** The step's rendered `with`. */
  input: unknown;
  credentialName: string | null;
}

/**
 * Host-side duties of a first-party action that code in a sandbox cannot do (it has no
 * database): answering from a cache, checking an output, metering. Only CORE plugins get them.
 */
export interface ActionHooks {
  /** An output to answer with instead of running the action (a cache hit), or undefined. */
  before?(call: ActionCall): Promise<unknown>;
  /** Checks and records a successful output; returns the output the step keeps. Throws a StepError to fail the attempt. */
  after?(call: ActionCall, output: unknown): Promise<unknown>;
}
