import { Ajv, type ValidateFunction } from 'ajv';
import { StepDeferred, StepError, type StepExecutor, type StepRequest } from '../core/engine/executor.js';
import type { IntegrationGuardGate } from '../core/integrationGuards/gate.js';
import type {
  ActionCall,
  ActionHooks,
  InstalledPluginWithScript,
  PluginActionInfo,
  PluginCatalog,
  PluginPolicy,
} from '../core/plugins/types.js';
import { AppError } from '../core/errors.js';
import { parseUses } from '../core/workflows/definition.js';
import type { CredentialLeaser } from '../core/credentials/types.js';
import type { CredentialGrant, EgressGuard, EgressPolicy } from './egress/types.js';
import type { Logger } from '../core/logger.js';
import { recordHttpCallSpans } from '../core/tracing.js';
import type { SandboxInvocation, SandboxLimits, SandboxLogLine, SandboxResult } from './runtime/types.js';

/** What the executor needs of the sandbox runtime (SandboxSupervisor). */
export interface SandboxInvoker {
  invoke(invocation: SandboxInvocation, signal?: AbortSignal, guard?: EgressGuard): Promise<SandboxResult>;
}

/** Appliance-wide ceilings; a manifest's resource requests are clamped to them. */
export interface SandboxCeilings {
  maxMemoryMb: number;
  maxTimeoutMs: number;
  maxCpuMs: number;
  maxOutputBytes: number;
  maxRequests: number;
  maxResponseBytes: number;
  requestTimeoutMs: number;
}

export interface SandboxExecutorOptions {
  ceilings: SandboxCeilings;
  /** Host-side hooks of first-party actions, by `uses`; applied only to CORE plugin versions. */
  hooks?: Readonly<Record<string, ActionHooks>>;
  extraCaPem?: string;
  proxy?: EgressPolicy['proxy'];
  /** The tenants' integration guards (rate limits, circuit breakers); without it no request is guarded. */
  guards?: IntegrationGuardGate;
}

// What a plugin gets when its manifest asks for nothing more.
const DEFAULT_MEMORY_MB = 64;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_CPU_MS = 10_000;
const DEFAULT_MAX_REQUESTS = 10;
// A lease outlives the attempt's deadline by this much, for the host to finish the last request.
const LEASE_GRACE_MS = 5000;

/**
 * Runs every plugin action in the sandbox: finds the plugin version the workflow version
 * pinned, checks the step input against the action's schema, builds the invocation's
 * limits (the manifest's requests clamped to the appliance's ceilings and the step's own
 * timeout) and egress policy (the manifest's hosts intersected with the administrator's
 * policy), and maps the sandbox's typed failures to step errors.
 */
export class SandboxExecutor implements StepExecutor {
  private readonly ajv = new Ajv({ strict: false, allErrors: false });
  private readonly validators = new Map<string, { input: ValidateFunction; output: ValidateFunction }>();
  /** The step logger of each attempt in the sandbox, so plugin log lines carry tenant, workflow, run and step ids. */
  private readonly running = new Map<string, Logger>();

  constructor(
    private readonly sandbox: SandboxInvoker,
    private readonly catalog: PluginCatalog,
    private readonly leaser: CredentialLeaser,
    private readonly options: SandboxExecutorOptions,
  ) {}

  async execute(request: StepRequest, signal: AbortSignal): Promise<unknown> {
    const parsed = parseUses(request.uses);
    if (!parsed) throw new StepError('UNKNOWN_ACTION', `"${request.uses}" is not of the form plugin/action@major`);
    const plugin = request.pluginVersionId ? await this.catalog.pluginVersion(request.pluginVersionId) : null;
    if (!plugin) {
      throw new StepError('PLUGIN_MISSING', `the plugin version this workflow version pinned for ${request.uses} is no longer installed`);
    }
    const action = plugin.manifest.actions.find((a) => a.name === parsed.action);
    if (!action) throw new StepError('UNKNOWN_ACTION', `${plugin.name} ${plugin.version} has no action "${parsed.action}"`);
    const validators = this.validatorsFor(plugin, action);
    if (!validators.input(request.input)) {
      throw new StepError(
        'BAD_USER_INPUT',
        `with does not match the input schema of ${request.uses}: ${this.ajv.errorsText(validators.input.errors, { dataVar: 'with' })}`,
      );
    }
    const hooks = plugin.trust === 'CORE' ? this.options.hooks?.[request.uses] : undefined;
    const call: ActionCall = {
      tenantId: request.tenantId,
      runId: request.runId,
      stepId: request.stepId,
      input: request.input,
      credentialName: request.credential,
    };
    const answered = await hooks?.before?.(call);
    if (answered !== undefined) return answered;
    const policy = await this.catalog.pluginPolicy(plugin.name);
    const limits = this.limits(plugin, request);
    const { grants, credential, leaseId } = await this.lease(request, plugin, policy, limits);
    const invocationId = `${request.runId}:${request.stepId}:${request.attempt}`;
    const guardedHosts = (await this.options.guards?.guardedHosts(request.tenantId)) ?? [];
    const guard = guardedHosts.length > 0 ? this.options.guards!.forAttempt(request.tenantId) : undefined;
    this.running.set(invocationId, request.logger);
    const result = await this.sandbox
      .invoke(
        {
          invocationId,
          script: { sha256: plugin.scriptSha256, source: plugin.script, name: `${plugin.name}@${plugin.version}` },
          action: action.name,
          input:
            plugin.name === 'core' && action.name === 'code'
              ? { ...(request.input as Record<string, unknown>), input: request.runInput, steps: request.stepOutputs }
              : request.input,
          context: {
            tenantId: request.tenantId,
            runId: request.runId,
            stepId: request.stepId,
            attempt: request.attempt,
            idempotencyKey: request.idempotencyKey,
            credential,
          },
          limits,
          network: { ...this.network(plugin, policy), ...(guard ? { guardedHosts } : {}) },
          credentials: grants,
        },
        signal,
        guard,
      )
      .finally(() => this.running.delete(invocationId));
    // Failed attempts consumed CPU too (a CPU-limit kill most of all).
    request.usage.sandboxCpuMs += result.stats?.cpuMs ?? 0;
    const { httpCalls, ...stats } = result.stats ?? {};
    recordHttpCallSpans(httpCalls);
    const uses = credential ? (result.stats?.credentialUses?.[credential.handle] ?? 0) : 0;
    if (uses > 0 && leaseId !== null) {
      await this.leaser.recordLeaseUse({
        tenantId: request.tenantId,
        leaseId,
        credentialName: request.credential!,
        runId: request.runId,
        stepId: request.stepId,
        attempt: request.attempt,
        requests: uses,
      });
    }
    if (!result.ok) {
      // Held back by a guard (refused, or the host said 429): the step waits instead of failing.
      // The gate's own record decides this, never the plugin's error code, which a plugin could forge.
      const held = guard?.heldBack;
      if (held) throw new StepDeferred(new Date(held.until), held.code, held.message);
      request.logger.info({ code: result.error.code, retryable: result.error.retryable, ...stats }, 'sandboxed step attempt failed');
      throw new StepError(result.error.code, result.error.message, result.error.retryable);
    }
    request.logger.debug(stats, 'sandboxed step attempt succeeded');
    if (!validators.output(result.output)) {
      throw new StepError(
        'BAD_OUTPUT',
        `${plugin.name} ${plugin.version} returned output that does not match its schema: ${this.ajv.errorsText(validators.output.errors, { dataVar: 'output' })}`,
      );
    }
    return hooks?.after ? hooks.after(call, result.output) : result.output;
  }

  /**
   * A lease on the step's credential for this attempt, void shortly after the attempt's
   * deadline. The plugin sees the handle, type and settings; the secret stays on the host
   * side of the sandbox unless the manifest asks for raw access and an administrator approved it.
   */
  private async lease(
    request: StepRequest,
    plugin: InstalledPluginWithScript,
    policy: PluginPolicy,
    limits: SandboxLimits,
  ): Promise<{ grants: CredentialGrant[]; credential: SandboxInvocation['context']['credential']; leaseId: string | null }> {
    if (request.credential === null) return { grants: [], credential: null, leaseId: null };
    let lease;
    try {
      lease = await this.leaser.issueLease({
        tenantId: request.tenantId,
        runId: request.runId,
        stepId: request.stepId,
        attempt: request.attempt,
        pluginVersionId: plugin.id,
        pluginName: plugin.name,
        allowedTypes: plugin.manifest.permissions.credentialTypes,
        credentialName: request.credential,
        expiresAt: new Date(Date.now() + limits.timeoutMs + LEASE_GRACE_MS),
      });
    } catch (error) {
      if (error instanceof AppError && error.code === 'NOT_FOUND') throw new StepError('CREDENTIAL_NOT_FOUND', error.message);
      if (error instanceof AppError && error.code === 'FORBIDDEN') throw new StepError('CREDENTIAL_NOT_ALLOWED', error.message);
      throw error;
    }
    const raw = plugin.manifest.permissions.rawSecretAccess && policy.rawSecretAccessApproved;
    return {
      grants: [
        {
          handle: lease.handle,
          placement: lease.placement,
          secret: lease.secret,
          allowedHosts: lease.allowedHosts,
          expiresAt: lease.expiresAt.getTime(),
        },
      ],
      credential: { handle: lease.handle, type: lease.type, config: lease.config, ...(raw ? { secret: lease.secret } : {}) },
      leaseId: lease.leaseId,
    };
  }

  /** A log line a plugin wrote, to the log of the step that runs it. */
  pluginLog(line: SandboxLogLine): void {
    const logger = this.running.get(line.invocationId);
    if (!logger) return;
    logger[line.level]({ plugin: true, ...(line.fields ? { fields: line.fields } : {}) }, line.message);
  }

  private limits(plugin: InstalledPluginWithScript, request: StepRequest): SandboxLimits {
    const wanted = plugin.manifest.resources;
    const c = this.options.ceilings;
    return {
      memoryMb: Math.min(wanted.memoryMb ?? DEFAULT_MEMORY_MB, c.maxMemoryMb),
      timeoutMs: Math.min(request.timeoutMs ?? Infinity, wanted.timeoutMs ?? DEFAULT_TIMEOUT_MS, c.maxTimeoutMs),
      cpuMs: Math.min(wanted.cpuMs ?? DEFAULT_CPU_MS, c.maxCpuMs),
      maxOutputBytes: c.maxOutputBytes,
    };
  }

  private network(plugin: InstalledPluginWithScript, policy: PluginPolicy): EgressPolicy {
    const wanted = plugin.manifest.resources;
    const c = this.options.ceilings;
    return {
      allowedHosts: intersectHostPatterns(plugin.manifest.permissions.hosts, policy.allowedHosts),
      allowedPrivate: [...policy.allowedPrivate],
      maxRequests: Math.min(wanted.maxRequests ?? DEFAULT_MAX_REQUESTS, c.maxRequests),
      maxResponseBytes: Math.min(wanted.maxResponseBytes ?? c.maxResponseBytes, c.maxResponseBytes),
      requestTimeoutMs: c.requestTimeoutMs,
      ...(this.options.extraCaPem ? { extraCaPem: this.options.extraCaPem } : {}),
      ...(this.options.proxy ? { proxy: this.options.proxy } : {}),
    };
  }

  private validatorsFor(
    plugin: InstalledPluginWithScript,
    action: PluginActionInfo,
  ): { input: ValidateFunction; output: ValidateFunction } {
    const key = `${plugin.id}:${action.name}`;
    let validators = this.validators.get(key);
    if (!validators) {
      validators = { input: this.ajv.compile(action.inputSchema), output: this.ajv.compile(action.outputSchema) };
      this.validators.set(key, validators);
    }
    return validators;
  }
}

/**
 * The hosts a plugin may reach: what its manifest asks for and its administrator allows.
 * `*` on one side leaves the other side's list; otherwise a manifest pattern stays when
 * an administrator pattern covers it (the same pattern, a wildcard over its domain, or
 * its host without a port).
 */
export function intersectHostPatterns(manifest: readonly string[], admin: readonly string[]): string[] {
  if (manifest.includes('*')) return [...admin];
  if (admin.includes('*')) return [...manifest];
  return manifest.filter((wanted) => admin.some((allowed) => covers(allowed, wanted)));
}

function covers(allowed: string, wanted: string): boolean {
  if (allowed === wanted) return true;
  const [allowedHost, allowedPort] = splitPort(allowed);
  const [wantedHost, wantedPort] = splitPort(wanted);
  // No port means the default ports only, as in the egress layer's own matching.
  if (allowedPort !== undefined ? allowedPort !== wantedPort : wantedPort !== undefined && wantedPort !== '80' && wantedPort !== '443')
    return false;
  if (allowedHost === wantedHost) return true;
  return allowedHost.startsWith('*.') && wantedHost.endsWith(allowedHost.slice(1));
}

function splitPort(pattern: string): [string, string | undefined] {
  const m = /^(.*):([0-9]+)$/.exec(pattern);
  return m ? [m[1]!, m[2]] : [pattern, undefined];
}
