/**
 * Configuration changes in the audit log. The appliance reads its configuration once, at
 * start; each start compares what it runs with (secrets left out) against the last
 * recorded configuration and records `config.changed` with what differs, in the
 * appliance's chain. An unchanged restart records nothing.
 */
import { canonicalJson } from '../canonicalJson.js';
import type { Database } from '../db/database.js';
import { recordAudit } from './audit.js';

export type ConfigSnapshot = Record<string, string | number | boolean | null>;

export interface ConfigurationChanges {
  /** True when no configuration was recorded before: the whole snapshot is the first record. */
  initial: boolean;
  changed: string[];
}

/** Records what changed since the last recorded configuration. */
export async function recordConfigurationChanges(
  db: Database,
  snapshot: ConfigSnapshot,
  source: { host: string; pid: number },
): Promise<ConfigurationChanges> {
  return db.tx('system', async (q) => {
    // Processes starting together take turns, so a change is recorded once.
    await q.query(`select pg_advisory_xact_lock(hashtext('switchyard.config_audit'))`);
    const { rows } = await q.query<{ details: { after: ConfigSnapshot } }>(
      `select details from audit_events where tenant_id is null and action = 'config.changed' order by chain_seq desc limit 1`,
    );
    const before = rows[0]?.details.after ?? null;
    const keys = [...new Set([...Object.keys(before ?? {}), ...Object.keys(snapshot)])].sort();
    const changed = keys.filter((k) => canonicalJson(before?.[k] ?? null) !== canonicalJson(snapshot[k] ?? null));
    if (changed.length === 0) return { initial: false, changed: [] };
    const diff = Object.fromEntries(
      changed.map((k) => [k, { before: before === null ? null : (before[k] ?? null), after: snapshot[k] ?? null }]),
    );
    await recordAudit(q, null, {
      action: 'config.changed',
      targetType: 'configuration',
      targetId: null,
      tenantId: null,
      details: { initial: before === null, changed: diff, after: snapshot, host: source.host, pid: source.pid },
    });
    return { initial: before === null, changed };
  });
}
