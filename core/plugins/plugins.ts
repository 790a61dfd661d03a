import { isIP } from 'node:net';
import type { Database, Queryable } from '../db/database.js';
import { AppError, badInput } from '../errors.js';
import { newId } from '../ids.js';
import { compareVersions } from '../versions.js';
import { isHostName, isHostPattern } from '../hostPatterns.js';
import type { Logger } from '../logger.js';
import { recordAudit } from '../audit/audit.js';
import { authorize, type RequestContext } from '../auth/roles.js';
import { parseUses, type ActionCatalog } from '../workflows/definition.js';
import {
  countWorkflowVersionsUsing,
  deletePluginVersion,
  findPluginVersion,
  insertPluginVersion,
  listPluginVersions,
  pluginVersionWithScript,
  readPluginPolicy,
  writePluginPolicy,
} from './pluginStore.js';
import {
  DEFAULT_PLUGIN_POLICY,
  type InstalledPlugin,
  type InstalledPluginWithScript,
  type PluginCatalog,
  type PluginPackageVerifier,
  type PluginPolicy,
  type VerifiedPluginPackage,
} from './types.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBundle(bundle: string, path: string): Buffer {
  if (typeof bundle !== 'string' || bundle.length === 0 || bundle.length % 4 !== 0 || !BASE64.test(bundle)) {
    throw badInput(path, 'must be the base64 of a plugin package');
  }
  return Buffer.from(bundle, 'base64');
}

/** The outcome of verifying a package without installing it. */
export interface PackageVerification {
  ok: boolean;
  /** Why it would be refused: the verifier's code, RESERVED_NAME or VERSION_CONFLICT. */
  refusal: string | null;
  reason: string | null;
  /** The package as verified (absent when it could not be read or its signature failed). */
  package: VerifiedPluginPackage | null;
  /** The same name and version when already installed. */
  installed: InstalledPlugin | null;
}

export interface InstallPolicy {
  /** Appliance-wide development switch; every package installed under it is audited. */
  allowUnsignedPlugins: boolean;
}

// Policies change rarely and are read on every plugin step; a short cache keeps that off
// the database while a change still reaches every process within seconds.
const POLICY_CACHE_MS = 2000;
const MAX_POLICY_ENTRIES = 100;

/**
 * Installed plugin versions: install after verification, list, remove, and the action
 * catalog that workflow validation and publication resolve `name/action@major` against.
 */
export class PluginService implements PluginCatalog {
  // Plugin versions never change once installed, so a process may keep them.
  private readonly byId = new Map<string, InstalledPluginWithScript>();
  private readonly policies = new Map<string, { policy: PluginPolicy; at: number }>();
  /** Names a third-party package may not take: `core` and every first-party plugin's (its host-side hooks trust the name). */
  private readonly reservedNames = new Set(['core']);

  constructor(
    private readonly db: Database,
    private readonly verifier: PluginPackageVerifier,
    private readonly installPolicy: InstallPolicy,
    private readonly engineActions: ReadonlySet<string>,
    private readonly logger: Logger,
  ) {}

  /**
   * What installing the package would find, without installing it or recording anything:
   * the administrator reviews the publisher and permissions before confirming.
   */
  async verifyPackage(ctx: RequestContext, bundle: string): Promise<PackageVerification> {
    authorize(ctx.actor, 'plugin:manage');
    const check = await this.verifier.verify(decodeBundle(bundle, 'bundle'), { allowUnsigned: this.installPolicy.allowUnsignedPlugins });
    if (!check.ok) return { ok: false, refusal: check.code, reason: check.reason, package: null, installed: null };
    const pkg = check.pkg;
    if (this.reservedNames.has(pkg.manifest.name)) {
      return {
        ok: false,
        refusal: 'RESERVED_NAME',
        reason: `plugin name "${pkg.manifest.name}" is reserved for the appliance's own plugins`,
        package: pkg,
        installed: null,
      };
    }
    const existing = await this.db.tx('system', (q) => findPluginVersion(q, pkg.manifest.name, pkg.manifest.version));
    if (existing && existing.packageSha256 !== pkg.packageSha256) {
      return {
        ok: false,
        refusal: 'VERSION_CONFLICT',
        reason: `${pkg.manifest.name} ${pkg.manifest.version} is already installed with different content; publish a new version`,
        package: pkg,
        installed: existing,
      };
    }
    return { ok: true, refusal: null, reason: null, package: pkg, installed: existing };
  }

  async install(ctx: RequestContext, bundle: string): Promise<InstalledPlugin> {
    authorize(ctx.actor, 'plugin:manage');
    const check = await this.verifier.verify(decodeBundle(bundle, 'input.bundle'), {
      allowUnsigned: this.installPolicy.allowUnsignedPlugins,
    });
    if (!check.ok) {
      await this.db.tx('system', (q) =>
        recordAudit(q, ctx, {
          action: 'plugin.install_refused',
          targetType: 'plugin',
          outcome: 'DENIED',
          reason: `${check.code}: ${check.reason}`,
          tenantId: null,
        }),
      );
      throw new AppError('BAD_USER_INPUT', `plugin package refused (${check.code}): ${check.reason}`, {
        path: 'input.bundle',
        details: { refusal: check.code },
      });
    }
    const pkg = check.pkg;
    if (this.reservedNames.has(pkg.manifest.name)) {
      throw badInput('input.bundle', `plugin name "${pkg.manifest.name}" is reserved for the appliance's own plugins`);
    }
    return this.db.tx('system', async (q) => {
      const installed = await insertPluginVersion(q, newId(), pkg, pkg.signed ? 'SIGNED' : 'UNSIGNED', ctx.actor.tokenId);
      if (!installed) return this.alreadyInstalled(q, pkg);
      const details = {
        name: installed.name,
        version: installed.version,
        trust: installed.trust,
        packageSha256: installed.packageSha256,
        publisherFingerprint: installed.publisherFingerprint,
      };
      if (!pkg.signed) {
        await recordAudit(q, ctx, {
          action: 'plugin.unsigned_override_used',
          targetType: 'plugin',
          targetId: installed.id,
          details,
          tenantId: null,
        });
      }
      await recordAudit(q, ctx, { action: 'plugin.installed', targetType: 'plugin', targetId: installed.id, details, tenantId: null });
      return installed;
    });
  }

  /** Installing the same package again is a no-op; other content under the same version is a conflict. */
  private async alreadyInstalled(q: Queryable, pkg: VerifiedPluginPackage): Promise<InstalledPlugin> {
    const existing = await findPluginVersion(q, pkg.manifest.name, pkg.manifest.version);
    if (existing && existing.packageSha256 === pkg.packageSha256) return existing;
    throw new AppError(
      'CONFLICT',
      `plugin ${pkg.manifest.name} ${pkg.manifest.version} is already installed with different content; publish a new version`,
    );
  }

  /** The plugins that ship with the appliance; installed at start, trusted without a signature, sandboxed like any other. */
  async installBundled(packages: readonly VerifiedPluginPackage[]): Promise<void> {
    for (const pkg of packages) this.reservedNames.add(pkg.manifest.name);
    await this.db.tx('system', async (q) => {
      for (const pkg of packages) {
        const installed = await insertPluginVersion(q, newId(), pkg, 'CORE', null);
        if (installed) {
          await recordAudit(q, null, {
            action: 'plugin.installed',
            targetType: 'plugin',
            targetId: installed.id,
            tenantId: null,
            details: { name: installed.name, version: installed.version, trust: 'CORE' },
          });
          continue;
        }
        const existing = await findPluginVersion(q, pkg.manifest.name, pkg.manifest.version);
        if (existing && existing.packageSha256 !== pkg.packageSha256) {
          this.logger.warn(
            { plugin: pkg.manifest.name, version: pkg.manifest.version },
            'bundled plugin differs from the installed copy of the same version; the installed copy stays (bump the version to ship a change)',
          );
        }
      }
    });
  }

  async list(ctx: RequestContext): Promise<InstalledPlugin[]> {
    authorize(ctx.actor, 'plugin:read');
    return listPluginVersions(this.db.pool);
  }

  async remove(ctx: RequestContext, name: string, version: string, force: boolean): Promise<InstalledPlugin> {
    authorize(ctx.actor, 'plugin:manage');
    return this.db.tx('system', async (q) => {
      const existing = await findPluginVersion(q, name, version);
      if (!existing) throw new AppError('NOT_FOUND', `plugin ${name} ${version} is not installed`);
      if (existing.trust === 'CORE') throw new AppError('CONFLICT', `plugin ${name} ships with the appliance and cannot be removed`);
      const users = await countWorkflowVersionsUsing(q, existing.id);
      if (users > 0 && !force) {
        throw new AppError(
          'CONFLICT',
          `plugin ${name} ${version} is used by ${users} published workflow version(s); remove it with force to break them`,
        );
      }
      await deletePluginVersion(q, existing.id);
      await recordAudit(q, ctx, {
        action: 'plugin.removed',
        targetType: 'plugin',
        targetId: existing.id,
        tenantId: null,
        details: { name, version, forced: force, workflowVersionsUsing: users },
      });
      this.byId.delete(existing.id);
      return existing;
    });
  }

  /** Sets the administrator's policy for a plugin (all its versions). */
  async setPolicy(ctx: RequestContext, name: string, input: Partial<PluginPolicy>): Promise<PluginPolicy> {
    authorize(ctx.actor, 'plugin:manage');
    const current = await this.pluginPolicy(name);
    const policy: PluginPolicy = {
      allowedHosts: input.allowedHosts ?? current.allowedHosts,
      allowedPrivate: input.allowedPrivate ?? current.allowedPrivate,
      rawSecretAccessApproved: input.rawSecretAccessApproved ?? current.rawSecretAccessApproved,
    };
    checkPolicyList(
      'input.allowedHosts',
      policy.allowedHosts,
      (h) => isHostPattern(h, { allowAnyHost: true }),
      'must be "*" or a lowercase host or host:port (port 1-65535), optionally starting with "*."',
    );
    checkPolicyList(
      'input.allowedPrivate',
      policy.allowedPrivate,
      isHostOrCidr,
      'must be a lowercase host name, an IP address or a CIDR such as 10.0.0.0/8',
    );
    return this.db.tx('system', async (q) => {
      const installed = await q.query('select 1 from plugin_versions where name = $1 limit 1', [name]);
      if (installed.rowCount === 0)
        throw new AppError('NOT_FOUND', `plugin ${JSON.stringify(name)} is not installed`, { path: 'input.name' });
      await writePluginPolicy(q, name, policy, ctx.actor.tokenId);
      await recordAudit(q, ctx, {
        action: 'plugin.policy_changed',
        targetType: 'plugin',
        targetId: name,
        tenantId: null,
        details: { ...policy },
      });
      this.policies.delete(name);
      return policy;
    });
  }

  async pluginPolicy(name: string): Promise<PluginPolicy> {
    const cached = this.policies.get(name);
    if (cached && Date.now() - cached.at < POLICY_CACHE_MS) return cached.policy;
    const policy = (await readPluginPolicy(this.db.pool, name)) ?? DEFAULT_PLUGIN_POLICY;
    this.policies.set(name, { policy, at: Date.now() });
    return policy;
  }

  async pluginVersion(id: string): Promise<InstalledPluginWithScript | null> {
    const cached = this.byId.get(id);
    if (cached) return cached;
    const row = await pluginVersionWithScript(this.db.pool, id);
    if (row) {
      if (this.byId.size > 1000) this.byId.clear();
      this.byId.set(id, row);
    }
    return row;
  }

  /**
   * The actions workflows may name, as installed now: engine actions, and for each plugin
   * and major version the newest installed version that has the action.
   */
  async catalog(q: Queryable): Promise<ActionCatalog> {
    const installed = await listPluginVersions(q);
    const newest = new Map<string, InstalledPlugin>();
    for (const plugin of installed) {
      for (const action of plugin.manifest.actions) {
        const uses = `${plugin.name}/${action.name}@${plugin.major}`;
        const current = newest.get(uses);
        if (!current || compareVersions(plugin.version, current.version) > 0) newest.set(uses, plugin);
      }
    }
    const engineActions = this.engineActions;
    const available = () => [...engineActions, ...newest.keys()].sort().join(', ');
    return {
      checkAction(uses) {
        if (engineActions.has(uses) || newest.has(uses)) return undefined;
        const parsed = parseUses(uses);
        if (!parsed) return `"${uses}" is not of the form plugin/action@major`;
        const sameAction = [...newest.keys()].filter((k) => k.startsWith(`${parsed.plugin}/${parsed.action}@`));
        if (sameAction.length > 0)
          return `no installed version of ${parsed.plugin} has major version ${parsed.major} with action "${parsed.action}" (installed: ${sameAction.join(', ')})`;
        return `unknown action "${uses}" (available: ${available()})`;
      },
      resolve: (uses) => newest.get(uses)?.id ?? null,
    };
  }
}

function checkPolicyList(path: string, values: unknown, valid: (value: string) => boolean, rule: string): void {
  if (!Array.isArray(values)) throw badInput(path, 'must be a list');
  if (values.length > MAX_POLICY_ENTRIES) throw badInput(path, `at most ${MAX_POLICY_ENTRIES} entries`);
  values.forEach((value, i) => {
    if (typeof value !== 'string' || !valid(value)) throw badInput(`${path}[${i}]`, `${JSON.stringify(value)} ${rule}`);
  });
}

function isHostOrCidr(value: string): boolean {
  const [address, bits, extra] = value.split('/');
  if (extra !== undefined || address === undefined) return false;
  const family = isIP(address);
  if (bits === undefined) return family !== 0 || isHostName(value);
  if (family === 0 || !/^[0-9]{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}
