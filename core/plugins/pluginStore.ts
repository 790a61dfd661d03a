import type { Queryable } from '../db/database.js';
import type { InstalledPlugin, InstalledPluginWithScript, PluginPolicy, PluginTrust, VerifiedPluginPackage } from './types.js';

const COLUMNS = `id, name, version, major, publisher, trust, manifest, script_sha256 as "scriptSha256", package_sha256 as "packageSha256",
  publisher_fingerprint as "publisherFingerprint", certificate_not_after as "certificateNotAfter", installed_at as "installedAt",
  installed_by as "installedBy"`;

export async function insertPluginVersion(
  q: Queryable,
  id: string,
  pkg: VerifiedPluginPackage,
  trust: PluginTrust,
  installedBy: string | null,
): Promise<InstalledPlugin | null> {
  const m = pkg.manifest;
  const { rows } = await q.query<InstalledPlugin>(
    `insert into plugin_versions (id, name, version, major, publisher, trust, manifest, script, script_sha256, package_sha256,
                                  publisher_fingerprint, certificate_not_after, installed_by)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     on conflict (name, version) do nothing
     returning ${COLUMNS}`,
    [
      id,
      m.name,
      m.version,
      Number(m.version.split('.')[0]),
      m.publisher,
      trust,
      JSON.stringify(m),
      pkg.script,
      pkg.scriptSha256,
      pkg.packageSha256,
      pkg.publisherFingerprint,
      pkg.certificateNotAfter,
      installedBy,
    ],
  );
  return rows[0] ?? null;
}

export async function findPluginVersion(q: Queryable, name: string, version: string): Promise<InstalledPlugin | null> {
  const { rows } = await q.query<InstalledPlugin>(`select ${COLUMNS} from plugin_versions where name = $1 and version = $2`, [
    name,
    version,
  ]);
  return rows[0] ?? null;
}

export async function pluginVersionWithScript(q: Queryable, id: string): Promise<InstalledPluginWithScript | null> {
  const { rows } = await q.query<InstalledPluginWithScript>(`select ${COLUMNS}, script from plugin_versions where id = $1`, [id]);
  return rows[0] ?? null;
}

export async function listPluginVersions(q: Queryable): Promise<InstalledPlugin[]> {
  const { rows } = await q.query<InstalledPlugin>(`select ${COLUMNS} from plugin_versions order by name, major desc, installed_at desc`);
  return rows;
}

/** How many published workflow versions (of any tenant) run actions on this plugin version. */
export async function countWorkflowVersionsUsing(q: Queryable, pluginVersionId: string): Promise<number> {
  // Published versions of every tenant count; only this owner-run function may look across them.
  const { rows } = await q.query<{ n: number }>('select plugin_version_use_count($1) as n', [pluginVersionId]);
  return rows[0]!.n;
}

export async function deletePluginVersion(q: Queryable, id: string): Promise<void> {
  await q.query('delete from plugin_versions where id = $1', [id]);
}

export async function readPluginPolicy(q: Queryable, name: string): Promise<PluginPolicy | null> {
  const { rows } = await q.query<PluginPolicy>(
    `select allowed_hosts as "allowedHosts", allowed_private as "allowedPrivate", raw_secret_access_approved as "rawSecretAccessApproved"
       from plugin_policies where plugin_name = $1`,
    [name],
  );
  return rows[0] ?? null;
}

export async function writePluginPolicy(q: Queryable, name: string, policy: PluginPolicy, updatedBy: string | null): Promise<void> {
  await q.query(
    `insert into plugin_policies (plugin_name, allowed_hosts, allowed_private, raw_secret_access_approved, updated_by)
     values ($1, $2, $3, $4, $5)
     on conflict (plugin_name) do update set allowed_hosts = excluded.allowed_hosts, allowed_private = excluded.allowed_private,
       raw_secret_access_approved = excluded.raw_secret_access_approved, updated_at = now(), updated_by = excluded.updated_by`,
    [name, policy.allowedHosts, policy.allowedPrivate, policy.rawSecretAccessApproved, updatedBy],
  );
}
