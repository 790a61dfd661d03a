import type { Queryable } from '../db/database.js';
import type { WebhookSettings } from './webhookSettings.js';

/** A trigger as the API shows it: never its secret. */
export interface WebhookTrigger extends WebhookSettings {
  id: string;
  tenantId: string;
  workflowId: string;
  publicId: string;
  secretRotatedAt: Date | null;
  previousSecretExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What verifying a delivery needs besides the settings. */
export interface WebhookTriggerSecrets {
  dataKeyId: string;
  secret: Buffer;
  previousSecret: Buffer | null;
  previousSecretExpiresAt: Date | null;
}

const COLUMNS = `id, tenant_id as "tenantId", workflow_id as "workflowId", name, public_id as "publicId", version, enabled,
  max_body_bytes as "maxBodyBytes", replay_window_seconds as "replayWindowSeconds", allowed_sources as "allowedSources",
  delivery_id_header as "deliveryIdHeader", input_mapping as "inputMapping", secret_rotated_at as "secretRotatedAt",
  previous_secret_expires_at as "previousSecretExpiresAt", created_at as "createdAt", updated_at as "updatedAt"`;

export async function insertWebhookTrigger(
  q: Queryable,
  row: {
    id: string;
    tenantId: string;
    workflowId: string;
    publicId: string;
    settings: WebhookSettings;
    dataKeyId: string;
    sealed: Buffer;
    by: string;
  },
): Promise<WebhookTrigger> {
  const s = row.settings;
  const { rows } = await q.query<WebhookTrigger>(
    `insert into webhook_triggers (id, tenant_id, workflow_id, name, public_id, version, enabled, max_body_bytes, replay_window_seconds, allowed_sources,
                                   delivery_id_header, input_mapping, data_key_id, secret_ciphertext, created_by, updated_by)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) returning ${COLUMNS}`,
    [
      row.id,
      row.tenantId,
      row.workflowId,
      s.name,
      row.publicId,
      s.version,
      s.enabled,
      s.maxBodyBytes,
      s.replayWindowSeconds,
      s.allowedSources,
      s.deliveryIdHeader,
      JSON.stringify(s.inputMapping),
      row.dataKeyId,
      row.sealed,
      row.by,
    ],
  );
  return rows[0]!;
}

export async function updateWebhookSettings(q: Queryable, id: string, s: WebhookSettings, by: string): Promise<WebhookTrigger> {
  const { rows } = await q.query<WebhookTrigger>(
    `update webhook_triggers set name = $2, version = $3, enabled = $4, max_body_bytes = $5, replay_window_seconds = $6, allowed_sources = $7,
            delivery_id_header = $8, input_mapping = $9, updated_at = now(), updated_by = $10
      where id = $1 returning ${COLUMNS}`,
    [
      id,
      s.name,
      s.version,
      s.enabled,
      s.maxBodyBytes,
      s.replayWindowSeconds,
      s.allowedSources,
      s.deliveryIdHeader,
      JSON.stringify(s.inputMapping),
      by,
    ],
  );
  return rows[0]!;
}

export async function replaceWebhookSecret(
  q: Queryable,
  id: string,
  secret: { dataKeyId: string; sealed: Buffer; previous: Buffer | null; previousExpiresAt: Date | null },
  by: string,
): Promise<WebhookTrigger> {
  const { rows } = await q.query<WebhookTrigger>(
    `update webhook_triggers set data_key_id = $2, secret_ciphertext = $3, previous_secret_ciphertext = $4, previous_secret_expires_at = $5,
            secret_rotated_at = now(), updated_at = now(), updated_by = $6
      where id = $1 returning ${COLUMNS}`,
    [id, secret.dataKeyId, secret.sealed, secret.previous, secret.previousExpiresAt, by],
  );
  return rows[0]!;
}

/** One of the tenant's triggers, locked for a change when `forUpdate`. */
export async function webhookTriggerById(
  q: Queryable,
  tenantId: string,
  id: string,
  forUpdate = false,
): Promise<WebhookTrigger | undefined> {
  const { rows } = await q.query<WebhookTrigger>(
    `select ${COLUMNS} from webhook_triggers where id = $1 and tenant_id = $2${forUpdate ? ' for update' : ''}`,
    [id, tenantId],
  );
  return rows[0];
}

export async function webhookTriggerSecrets(q: Queryable, id: string): Promise<WebhookTriggerSecrets> {
  const { rows } = await q.query<WebhookTriggerSecrets>(
    `select data_key_id as "dataKeyId", secret_ciphertext as secret, previous_secret_ciphertext as "previousSecret",
            previous_secret_expires_at as "previousSecretExpiresAt" from webhook_triggers where id = $1`,
    [id],
  );
  return rows[0]!;
}

export async function listWebhookTriggers(q: Queryable, tenantId: string, workflowId: string | null): Promise<WebhookTrigger[]> {
  const { rows } = await q.query<WebhookTrigger>(
    `select ${COLUMNS} from webhook_triggers where tenant_id = $1 and ($2::uuid is null or workflow_id = $2) order by created_at, id`,
    [tenantId, workflowId],
  );
  return rows;
}

export async function deleteWebhookTrigger(q: Queryable, id: string): Promise<void> {
  await q.query('delete from webhook_triggers where id = $1', [id]);
}

export async function countWebhookTriggers(q: Queryable, tenantId: string): Promise<number> {
  const { rows } = await q.query<{ n: number }>('select count(*)::int as n from webhook_triggers where tenant_id = $1', [tenantId]);
  return rows[0]!.n;
}

/** The trigger a public id names and its tenant, before any tenant context is set. */
export async function webhookTriggerTenant(q: Queryable, publicId: string): Promise<{ id: string; tenantId: string } | undefined> {
  const { rows } = await q.query<{ id: string; tenant_id: string }>('select id, tenant_id from webhook_trigger_tenant($1)', [publicId]);
  return rows[0] ? { id: rows[0].id, tenantId: rows[0].tenant_id } : undefined;
}
