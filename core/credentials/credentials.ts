import { createHash, randomBytes } from 'node:crypto';
import type { Database, Queryable } from '../db/database.js';
import { AppError, badInput } from '../errors.js';
import { newId } from '../ids.js';
import { recordAudit } from '../audit/audit.js';
import { isHostPattern } from '../hostPatterns.js';
import { tenantOf, type RequestContext } from '../auth/roles.js';
import { open, seal } from './envelope.js';
import type { MasterKeyRing } from './masterKeys.js';
import {
  CREDENTIAL_TYPES,
  type Credential,
  type CredentialLease,
  type CredentialLeaser,
  type LeaseRequest,
  type LeaseUse,
} from './types.js';

const CREDENTIAL = `id, tenant_id as "tenantId", name, type, config, allowed_hosts as "allowedHosts", created_at as "createdAt", updated_at as "updatedAt"`;
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$/;
const MAX_SECRET_FIELD_CHARS = 16_384;
const MAX_CONFIG_FIELD_CHARS = 2048;
const MAX_HOSTS = 50;

// The AADs bind each ciphertext to its place: a data key to its tenant, a secret to its credential row.
const dataKeyAad = (tenantId: string, dataKeyId: string): string => `switchyard:data-key:${tenantId}:${dataKeyId}`;
const secretAad = (tenantId: string, credentialId: string): string => `switchyard:credential:${tenantId}:${credentialId}`;
const hashHandle = (handle: string): Buffer => createHash('sha256').update(handle).digest();

export interface SetCredentialInput {
  name: string;
  type: string;
  secret: unknown;
  allowedHosts: unknown;
  config?: unknown;
}

/**
 * Tenant credentials: write-only secrets encrypted with AES-256-GCM under the tenant's data
 * key, which the master key wraps; and the leases through which a step attempt's plugin
 * uses one without ever seeing it.
 */
export class CredentialService implements CredentialLeaser {
  // Unwrapped data keys, by id. They never change; a rotation re-wraps them, the bytes stay.
  private readonly dataKeys = new Map<string, Buffer>();

  constructor(
    private readonly db: Database,
    private readonly masterKeys: MasterKeyRing,
  ) {}

  async list(ctx: RequestContext): Promise<Credential[]> {
    const tenantId = tenantOf(ctx.actor, 'credential:read');
    const { rows } = await this.db.query<Credential>(
      { tenantId },
      `select ${CREDENTIAL} from credentials where tenant_id = $1 order by name`,
      [tenantId],
    );
    return rows;
  }

  /** Creates the credential or replaces its secret, hosts and settings. */
  async set(ctx: RequestContext, input: SetCredentialInput): Promise<Credential> {
    const tenantId = tenantOf(ctx.actor, 'credential:write');
    const { name, type, secret, config, allowedHosts } = checkInput(input);
    return this.db.tx({ tenantId }, async (q) => {
      const dataKey = await this.activeDataKey(q, tenantId);
      const existing = await q.query<{ id: string }>('select id from credentials where tenant_id = $1 and name = $2 for update', [
        tenantId,
        name,
      ]);
      const id = existing.rows[0]?.id ?? newId();
      const ciphertext = seal(dataKey.key, Buffer.from(JSON.stringify(secret)), secretAad(tenantId, id));
      const values = [id, tenantId, type, JSON.stringify(config), allowedHosts, dataKey.id, ciphertext, ctx.actor.tokenId];
      const { rows } = existing.rows[0]
        ? await q.query<Credential>(
            `update credentials set type = $3, config = $4, allowed_hosts = $5, data_key_id = $6, secret_ciphertext = $7, updated_at = now(), updated_by = $8
            where id = $1 and tenant_id = $2 returning ${CREDENTIAL}`,
            values,
          )
        : await q.query<Credential>(
            `insert into credentials (id, tenant_id, type, config, allowed_hosts, data_key_id, secret_ciphertext, created_by, updated_by, name)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) returning ${CREDENTIAL}`,
            [...values, name],
          );
      await recordAudit(q, ctx, {
        action: existing.rows[0] ? 'credential.updated' : 'credential.created',
        targetType: 'credential',
        targetId: id,
        details: { name, type, allowedHosts, configFields: Object.keys(config) },
      });
      return rows[0]!;
    });
  }

  async delete(ctx: RequestContext, name: string): Promise<Credential> {
    const tenantId = tenantOf(ctx.actor, 'credential:write');
    return this.db.tx({ tenantId }, async (q) => {
      const { rows } = await q.query<Credential>(`delete from credentials where tenant_id = $1 and name = $2 returning ${CREDENTIAL}`, [
        tenantId,
        name,
      ]);
      const deleted = rows[0];
      if (!deleted) throw new AppError('NOT_FOUND', `credential ${JSON.stringify(name)} not found`, { path: 'name' });
      await recordAudit(q, ctx, {
        action: 'credential.deleted',
        targetType: 'credential',
        targetId: deleted.id,
        details: { name, type: deleted.type },
      });
      return deleted;
    });
  }

  /**
   * Issues a lease for one step attempt: checks the plugin may be handed this type,
   * records the lease (its handle's hash only) and the audit event, and returns the secret
   * for the sandbox's host side, which is where it stays.
   */
  async issueLease(request: LeaseRequest): Promise<CredentialLease> {
    const { tenantId } = request;
    return this.db.tx({ tenantId }, async (q) => {
      const { rows } = await q.query<{
        id: string;
        type: string;
        config: Record<string, string>;
        allowedHosts: string[];
        dataKeyId: string;
        ciphertext: Buffer;
      }>(
        `select id, type, config, allowed_hosts as "allowedHosts", data_key_id as "dataKeyId", secret_ciphertext as ciphertext
           from credentials where tenant_id = $1 and name = $2`,
        [tenantId, request.credentialName],
      );
      const row = rows[0];
      if (!row) throw new AppError('NOT_FOUND', `credential ${JSON.stringify(request.credentialName)} does not exist in this tenant`);
      if (!request.allowedTypes.includes(row.type)) {
        throw new AppError(
          'FORBIDDEN',
          `plugin ${request.pluginName} may not be handed a ${row.type} credential (its manifest allows: ${request.allowedTypes.join(', ') || 'none'})`,
        );
      }
      const spec = CREDENTIAL_TYPES[row.type];
      if (!spec) throw new AppError('INTERNAL', `credential type ${row.type} is not known to this appliance`);
      const key = await this.dataKey(q, tenantId, row.dataKeyId);
      const secret = JSON.parse(open(key, row.ciphertext, secretAad(tenantId, row.id)).toString('utf8')) as Record<string, string>;
      const handle = `cred_${randomBytes(24).toString('base64url')}`;
      const leaseId = newId();
      await q.query(
        `insert into credential_leases (id, tenant_id, credential_id, run_id, step_id, attempt, plugin_version_id, handle_hash, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          leaseId,
          tenantId,
          row.id,
          request.runId,
          request.stepId,
          request.attempt,
          request.pluginVersionId,
          hashHandle(handle),
          request.expiresAt,
        ],
      );
      await recordAudit(q, null, {
        action: 'credential.lease_issued',
        targetType: 'credential',
        targetId: row.id,
        tenantId,
        details: {
          leaseId,
          name: request.credentialName,
          runId: request.runId,
          stepId: request.stepId,
          attempt: request.attempt,
          pluginVersionId: request.pluginVersionId,
          expiresAt: request.expiresAt.toISOString(),
        },
      });
      return {
        leaseId,
        handle,
        type: row.type,
        config: row.config,
        secret,
        placement: spec.placement(row.config),
        allowedHosts: row.allowedHosts,
        expiresAt: request.expiresAt,
      };
    });
  }

  /**
   * Rotates the master key without downtime: a new key goes first in the key file, every
   * data key is re-wrapped under it, and keys no data key needs are dropped when `prune`.
   * Processes that still hold the old file re-read it when they meet the new key id.
   */
  async rotateMasterKey(options: { prune: boolean }): Promise<{ masterKeyId: string; rewrapped: number; pruned: string[] }> {
    const fresh = this.masterKeys.rotate();
    const rewrapped = await this.rewrapDataKeys();
    const pruned = options.prune ? this.masterKeys.prune(await this.masterKeysInUse()) : [];
    return { masterKeyId: fresh.id, rewrapped, pruned };
  }

  /** Audits the use of a lease: the requests of one attempt that carried the secret. */
  async recordLeaseUse(use: LeaseUse): Promise<void> {
    await this.db.tx({ tenantId: use.tenantId }, async (q) => {
      const { rows } = await q.query<{ credentialId: string }>(
        'select credential_id as "credentialId" from credential_leases where id = $1 and tenant_id = $2',
        [use.leaseId, use.tenantId],
      );
      await recordAudit(q, null, {
        action: 'credential.lease_used',
        targetType: 'credential',
        targetId: rows[0]?.credentialId ?? null,
        tenantId: use.tenantId,
        details: {
          leaseId: use.leaseId,
          name: use.credentialName,
          runId: use.runId,
          stepId: use.stepId,
          attempt: use.attempt,
          requests: use.requests,
        },
      });
    });
  }

  /** Re-wraps every tenant data key under the current master key, one tenant per transaction; returns how many. */
  private async rewrapDataKeys(): Promise<number> {
    const current = this.masterKeys.current;
    const { rows: tenants } = await this.db.query<{ id: string }>('system', 'select id from tenants order by id');
    let rewrapped = 0;
    for (const tenant of tenants) {
      rewrapped += await this.db.tx({ tenantId: tenant.id }, async (q) => {
        const { rows } = await q.query<{ id: string; tenantId: string; masterKeyId: string; wrapped: Buffer }>(
          `select id, tenant_id as "tenantId", master_key_id as "masterKeyId", wrapped_key as wrapped from tenant_data_keys where master_key_id <> $1 for update`,
          [current.id],
        );
        for (const row of rows) {
          const key = open(this.masterKeys.get(row.masterKeyId).key, row.wrapped, dataKeyAad(row.tenantId, row.id));
          await q.query('update tenant_data_keys set master_key_id = $2, wrapped_key = $3 where id = $1', [
            row.id,
            current.id,
            seal(current.key, key, dataKeyAad(row.tenantId, row.id)),
          ]);
        }
        return rows.length;
      });
    }
    await this.db.tx('system', (q) =>
      recordAudit(q, null, {
        action: 'keys.master_rotated',
        targetType: 'master_key',
        targetId: current.id,
        tenantId: null,
        details: { rewrappedDataKeys: rewrapped },
      }),
    );
    return rewrapped;
  }

  /** Master key ids some data key still needs (across tenants: ids only, through an owner-run function). */
  private async masterKeysInUse(): Promise<Set<string>> {
    const { rows } = await this.db.query<{ id: string }>('system', 'select master_key_id as id from master_keys_in_use()');
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Seals another feature's secret (a webhook trigger's signing secret) under the tenant's
   * active data key, in the caller's transaction; `aad` names where it is stored.
   */
  async sealTenantSecret(q: Queryable, tenantId: string, plaintext: string, aad: string): Promise<{ dataKeyId: string; sealed: Buffer }> {
    const dataKey = await this.activeDataKey(q, tenantId);
    return { dataKeyId: dataKey.id, sealed: seal(dataKey.key, Buffer.from(plaintext, 'utf8'), aad) };
  }

  async openTenantSecret(q: Queryable, tenantId: string, dataKeyId: string, sealed: Buffer, aad: string): Promise<string> {
    return open(await this.dataKey(q, tenantId, dataKeyId), sealed, aad).toString('utf8');
  }

  private async activeDataKey(q: Queryable, tenantId: string): Promise<{ id: string; key: Buffer }> {
    const { rows } = await q.query<{ id: string }>('select id from tenant_data_keys where tenant_id = $1 and active', [tenantId]);
    if (rows[0]) return { id: rows[0].id, key: await this.dataKey(q, tenantId, rows[0].id) };
    const id = newId();
    const key = randomBytes(32);
    const master = this.masterKeys.current;
    // A concurrent first credential of the same tenant may win the unique index; take its key then.
    const inserted = await q.query(
      `insert into tenant_data_keys (id, tenant_id, master_key_id, wrapped_key) values ($1, $2, $3, $4)
       on conflict (tenant_id) where active do nothing`,
      [id, tenantId, master.id, seal(master.key, key, dataKeyAad(tenantId, id))],
    );
    if (inserted.rowCount === 1) {
      this.dataKeys.set(id, key);
      return { id, key };
    }
    return this.activeDataKey(q, tenantId);
  }

  private async dataKey(q: Queryable, tenantId: string, id: string): Promise<Buffer> {
    const cached = this.dataKeys.get(id);
    if (cached) return cached;
    const { rows } = await q.query<{ masterKeyId: string; wrapped: Buffer }>(
      'select master_key_id as "masterKeyId", wrapped_key as wrapped from tenant_data_keys where id = $1 and tenant_id = $2',
      [id, tenantId],
    );
    if (!rows[0]) throw new Error(`data key ${id} of tenant ${tenantId} is missing`);
    const key = open(this.masterKeys.get(rows[0].masterKeyId).key, rows[0].wrapped, dataKeyAad(tenantId, id));
    this.dataKeys.set(id, key);
    return key;
  }
}

function checkInput(input: SetCredentialInput): {
  name: string;
  type: string;
  secret: Record<string, string>;
  config: Record<string, string>;
  allowedHosts: string[];
} {
  if (typeof input.name !== 'string' || !NAME.test(input.name)) {
    throw badInput('input.name', 'must be 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  const spec = CREDENTIAL_TYPES[input.type];
  if (!spec)
    throw badInput(
      'input.type',
      `unknown credential type ${JSON.stringify(input.type)} (known: ${Object.keys(CREDENTIAL_TYPES).join(', ')})`,
    );
  const secret = checkFields('input.secret', input.secret, spec.secret, MAX_SECRET_FIELD_CHARS, true);
  const config = checkFields('input.config', input.config ?? {}, spec.config, MAX_CONFIG_FIELD_CHARS, false);
  const configProblem = spec.checkConfig?.(config);
  if (configProblem) throw badInput('input.config', configProblem);
  const hosts = input.allowedHosts;
  if (!Array.isArray(hosts) || hosts.length === 0 || hosts.length > MAX_HOSTS) {
    throw badInput('input.allowedHosts', `must list 1 to ${MAX_HOSTS} hosts the secret may be sent to`);
  }
  hosts.forEach((host, i) => {
    if (typeof host !== 'string' || !isHostPattern(host, { allowAnyHost: false })) {
      throw badInput(
        `input.allowedHosts[${i}]`,
        'must be a lowercase host or host:port, optionally starting with "*." (a credential is never sent to any host)',
      );
    }
  });
  return { name: input.name, type: input.type, secret, config, allowedHosts: hosts as string[] };
}

// Field values are never echoed in errors: a misplaced secret must not come back in a message.
function checkFields(path: string, value: unknown, fields: readonly string[], maxChars: number, required: boolean): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw badInput(path, `must be an object with ${fields.join(', ') || 'no fields'}`);
  const out: Record<string, string> = {};
  for (const key of Object.keys(value)) {
    if (!fields.includes(key))
      throw badInput(`${path}.${key}`, `is not a field of this credential type (fields: ${fields.join(', ') || 'none'})`);
  }
  for (const field of fields) {
    const v = (value as Record<string, unknown>)[field];
    if (typeof v !== 'string' || v.length === 0 || v.length > maxChars) {
      if (v === undefined && !required) continue;
      throw badInput(`${path}.${field}`, `must be a string of 1 to ${maxChars} characters`);
    }
    out[field] = v;
  }
  return out;
}
