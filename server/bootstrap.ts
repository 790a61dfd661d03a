import type { Database } from '../core/db/database.js';
import { insertToken } from '../core/auth/tokens.js';
import { recordAudit } from '../core/audit/audit.js';

// Serialises first initialisation across processes starting together.
const BOOTSTRAP_LOCK_KEY = 0x5357_0002;

/**
 * On first initialisation (no system-admin token yet) installs the configured admin
 * token, or generates one and returns it so the caller can print it once.
 */
export async function ensureSystemAdminToken(
  db: Database,
  configuredToken: string | undefined,
): Promise<{ generatedToken: string | null; created: boolean }> {
  return db.tx('system', async (q) => {
    await q.query('select pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK_KEY]);
    const { rowCount } = await q.query("select 1 from api_tokens where role = 'SYSTEM_ADMIN' limit 1");
    if (rowCount) return { generatedToken: null, created: false };
    const created = await insertToken(q, {
      tenantId: null,
      role: 'SYSTEM_ADMIN',
      name: 'initial system admin',
      expiresInSeconds: null,
      createdBy: null,
      ...(configuredToken ? { token: configuredToken } : {}),
    });
    await recordAudit(q, null, {
      action: 'token.created',
      targetType: 'api_token',
      targetId: created.apiToken.id,
      tenantId: null,
      details: { role: 'SYSTEM_ADMIN', initial: true, prefix: created.apiToken.prefix },
    });
    return { generatedToken: configuredToken ? null : created.token, created: true };
  });
}
