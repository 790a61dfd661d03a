import { randomBytes } from 'node:crypto';
import type { Database, Queryable } from '../db/database.js';
import { AppError, badInput, notFound } from '../errors.js';
import { isId, newId } from '../ids.js';
import { recordAudit } from '../audit/audit.js';
import { tenantOf, type RequestContext } from '../auth/roles.js';
import { KeyedTokenBuckets } from '../rateLimit/keyedTokenBuckets.js';
import type { RunService } from '../runs/runs.js';
import type { WorkflowService } from '../workflows/workflows.js';
import { checkPinnedVersion, nameConflict } from './triggerSettings.js';
import {
  checkWebhookSignature,
  newWebhookSecret,
  SIGNATURE_HEADER,
  signatureDeliveryKey,
  type SignatureRefusal,
} from './webhookSignature.js';
import {
  checkWebhookSettings,
  HIDDEN_HEADERS,
  mapDelivery,
  mappingReadsBody,
  sourceMatcher,
  type WebhookSettings,
} from './webhookSettings.js';
import {
  countWebhookTriggers,
  deleteWebhookTrigger,
  insertWebhookTrigger,
  listWebhookTriggers,
  replaceWebhookSecret,
  updateWebhookSettings,
  webhookTriggerById,
  webhookTriggerSecrets,
  webhookTriggerTenant,
  type WebhookTrigger,
} from './webhookStore.js';

/** Seals and opens secrets under a tenant's data key (the credentials envelope). */
export interface TenantSecretBox {
  sealTenantSecret(q: Queryable, tenantId: string, plaintext: string, aad: string): Promise<{ dataKeyId: string; sealed: Buffer }>;
  openTenantSecret(q: Queryable, tenantId: string, dataKeyId: string, sealed: Buffer, aad: string): Promise<string>;
}

export interface WebhookOptions {
  /** Base of the URLs the API shows (SWITCHYARD_PUBLIC_URL, else where the server listens once it does). */
  publicUrl: () => string;
  /** The appliance's request body limit: no trigger may accept more. */
  maxBodyCap: number;
  /** Deliveries each trigger may start per second (burst: at once), like the API's per-token limit. */
  rateLimit: { ratePerSecond: number; burst: number };
}

/** A delivery as the transport received it. */
export interface InboundDelivery {
  publicId: string;
  body: Buffer;
  /** Lower-case names. */
  headers: Record<string, string | undefined>;
  query: Record<string, string>;
  sourceAddress: string;
  userAgent?: string;
  requestId: string;
}

export type DeliveryRefusalCode =
  | 'TRIGGER_NOT_FOUND'
  | 'SOURCE_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | SignatureRefusal
  | 'DELIVERY_ID_INVALID'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'BODY_NOT_JSON'
  | 'INPUT_INVALID'
  | 'WORKFLOW_UNAVAILABLE'
  | 'QUOTA_EXCEEDED'
  | 'RATE_LIMITED'
  | 'OVERLOADED';

/** A refused delivery: nothing was started or changed. The message never holds a secret or the body. */
export class DeliveryRefused extends Error {
  constructor(
    readonly code: DeliveryRefusalCode,
    message: string,
    readonly retryAfterSeconds: number | null = null,
    readonly triggerId: string | null = null,
  ) {
    super(message);
    this.name = 'DeliveryRefused';
  }
}

export interface DeliveryAccepted {
  triggerId: string;
  runId: string;
  status: string;
  /** The delivery repeated one already accepted (same delivery id, or the same signed request). */
  duplicate: boolean;
}

/** What the API gives: any field may be absent or, as GraphQL allows, an explicit null. */
export type WebhookTriggerInput = { [K in keyof WebhookSettings]?: WebhookSettings[K] | null } & { workflowId?: string | null };

const PUBLIC_ID = /^[A-Za-z0-9_-]{32}$/;
const DELIVERY_ID = /^[\x21-\x7e]{1,128}$/;
const JSON_TYPE = /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i;
const MAX_TRIGGERS_PER_TENANT = 1000;
const MAX_GRACE_SECONDS = 7 * 24 * 3600;
// A day's quota frees up at the next day; the concurrency quota as runs finish.
const CONCURRENCY_RETRY_AFTER_SECONDS = 30;

const secretAad = (tenantId: string, triggerId: string): string => `switchyard:webhook-secret:${tenantId}:${triggerId}`;

/** Webhook triggers: their settings and secrets (the API) and their deliveries (the /hooks route). */
export class WebhookTriggerService {
  private readonly rateLimits: KeyedTokenBuckets;

  constructor(
    private readonly db: Database,
    private readonly workflows: WorkflowService,
    private readonly runs: RunService,
    private readonly secrets: TenantSecretBox,
    private readonly options: WebhookOptions,
  ) {
    this.rateLimits = new KeyedTokenBuckets(options.rateLimit);
  }

  url(trigger: WebhookTrigger): string {
    return `${this.options.publicUrl().replace(/\/+$/, '')}/hooks/${trigger.publicId}`;
  }

  async list(ctx: RequestContext, workflowId: string | null): Promise<WebhookTrigger[]> {
    const tenantId = tenantOf(ctx.actor, 'workflow:read');
    if (workflowId !== null) await this.workflows.get(ctx, workflowId);
    return this.db.tx({ tenantId }, (q) => listWebhookTriggers(q, tenantId, workflowId));
  }

  async get(ctx: RequestContext, id: string): Promise<WebhookTrigger> {
    const tenantId = tenantOf(ctx.actor, 'workflow:read');
    const trigger = isId(id) ? await this.db.tx({ tenantId }, (q) => webhookTriggerById(q, tenantId, id)) : undefined;
    if (!trigger) throw notFound('webhook trigger', id);
    return trigger;
  }

  /** Creates a trigger; its secret is in the answer and never again. */
  async create(ctx: RequestContext, input: WebhookTriggerInput): Promise<{ trigger: WebhookTrigger; secret: string }> {
    const tenantId = tenantOf(ctx.actor, 'workflow:write');
    if (typeof input.workflowId !== 'string') throw badInput('input.workflowId', 'is required');
    const workflow = await this.workflows.get(ctx, input.workflowId);
    const settings = checkWebhookSettings(input, null, this.options.maxBodyCap);
    await checkPinnedVersion(this.workflows, ctx, workflow.id, settings.version);
    const id = newId();
    const secret = newWebhookSecret();
    try {
      const trigger = await this.db.tx({ tenantId }, async (q) => {
        if ((await countWebhookTriggers(q, tenantId)) >= MAX_TRIGGERS_PER_TENANT) {
          throw new AppError('CONFLICT', `a tenant may have at most ${MAX_TRIGGERS_PER_TENANT} webhook triggers`);
        }
        const { dataKeyId, sealed } = await this.secrets.sealTenantSecret(q, tenantId, secret, secretAad(tenantId, id));
        const created = await insertWebhookTrigger(q, {
          id,
          tenantId,
          workflowId: workflow.id,
          publicId: randomBytes(24).toString('base64url'),
          settings,
          dataKeyId,
          sealed,
          by: ctx.actor.tokenId,
        });
        await recordAudit(q, ctx, {
          action: 'webhook_trigger.created',
          targetType: 'webhook_trigger',
          targetId: id,
          details: { workflowId: workflow.id, ...auditedSettings(settings) },
        });
        return created;
      });
      return { trigger, secret };
    } catch (error) {
      throw nameConflict(error, 'webhook trigger') ?? error;
    }
  }

  /** Changes the given settings; omitted ones stay (a null version follows the latest, a null mapping is the body). */
  async update(ctx: RequestContext, id: string, input: Partial<WebhookSettings>): Promise<WebhookTrigger> {
    const tenantId = tenantOf(ctx.actor, 'workflow:write');
    const before = await this.get(ctx, id);
    const settings = checkWebhookSettings(input, before, this.options.maxBodyCap);
    await checkPinnedVersion(this.workflows, ctx, before.workflowId, settings.version);
    try {
      return await this.db.tx({ tenantId }, async (q) => {
        if (!(await webhookTriggerById(q, tenantId, id, true))) throw notFound('webhook trigger', id);
        const updated = await updateWebhookSettings(q, id, settings, ctx.actor.tokenId);
        const changed = Object.keys(settings).filter(
          (k) => JSON.stringify(settings[k as keyof WebhookSettings]) !== JSON.stringify(before[k as keyof WebhookSettings]),
        );
        await recordAudit(q, ctx, {
          action: 'webhook_trigger.updated',
          targetType: 'webhook_trigger',
          targetId: id,
          details: { workflowId: before.workflowId, changed, ...auditedSettings(settings) },
        });
        return updated;
      });
    } catch (error) {
      throw nameConflict(error, 'webhook trigger') ?? error;
    }
  }

  /**
   * A new secret, shown once. The previous one keeps verifying deliveries for
   * `previousSecretValidSeconds` (0: revoked at once), so senders can switch without loss.
   */
  async rotateSecret(
    ctx: RequestContext,
    id: string,
    previousSecretValidSeconds: number | null | undefined,
  ): Promise<{ trigger: WebhookTrigger; secret: string }> {
    const tenantId = tenantOf(ctx.actor, 'workflow:write');
    const grace = previousSecretValidSeconds ?? 0;
    if (!Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) {
      throw badInput('input.previousSecretValidSeconds', `must be a whole number of seconds from 0 to ${MAX_GRACE_SECONDS} (7 days)`);
    }
    if (!isId(id)) throw notFound('webhook trigger', id);
    const secret = newWebhookSecret();
    const trigger = await this.db.tx({ tenantId }, async (q) => {
      if (!(await webhookTriggerById(q, tenantId, id, true))) throw notFound('webhook trigger', id);
      const aad = secretAad(tenantId, id);
      const { dataKeyId, sealed } = await this.secrets.sealTenantSecret(q, tenantId, secret, aad);
      let previous: Buffer | null = null;
      if (grace > 0) {
        // Sealed again under the active data key, so both secrets share the row's one key id.
        const stored = await webhookTriggerSecrets(q, id);
        const current = await this.secrets.openTenantSecret(q, tenantId, stored.dataKeyId, stored.secret, aad);
        previous = (await this.secrets.sealTenantSecret(q, tenantId, current, `${aad}:previous`)).sealed;
      }
      const rotated = await replaceWebhookSecret(
        q,
        id,
        { dataKeyId, sealed, previous, previousExpiresAt: grace > 0 ? new Date(Date.now() + grace * 1000) : null },
        ctx.actor.tokenId,
      );
      await recordAudit(q, ctx, {
        action: 'webhook_trigger.secret_rotated',
        targetType: 'webhook_trigger',
        targetId: id,
        details: { workflowId: rotated.workflowId, previousSecretValidSeconds: grace },
      });
      return rotated;
    });
    return { trigger, secret };
  }

  async delete(ctx: RequestContext, id: string): Promise<WebhookTrigger> {
    const tenantId = tenantOf(ctx.actor, 'workflow:write');
    if (!isId(id)) throw notFound('webhook trigger', id);
    return this.db.tx({ tenantId }, async (q) => {
      const trigger = await webhookTriggerById(q, tenantId, id, true);
      if (!trigger) throw notFound('webhook trigger', id);
      await deleteWebhookTrigger(q, id);
      await recordAudit(q, ctx, {
        action: 'webhook_trigger.deleted',
        targetType: 'webhook_trigger',
        targetId: id,
        details: { workflowId: trigger.workflowId, name: trigger.name },
      });
      return trigger;
    });
  }

  /**
   * Verifies a delivery and starts its run, answering only once the run is committed (with
   * its steps queued), so an acknowledged delivery survives any crash after the answer.
   */
  async receive(delivery: InboundDelivery): Promise<DeliveryAccepted> {
    const unknown = () => new DeliveryRefused('TRIGGER_NOT_FOUND', 'no webhook trigger at this address');
    if (!PUBLIC_ID.test(delivery.publicId)) throw unknown();
    const found = await this.db.tx('system', (q) => webhookTriggerTenant(q, delivery.publicId));
    if (!found) throw unknown();
    const { tenantId } = found;
    const { trigger, secrets } = await this.db.tx({ tenantId }, async (q) => {
      const row = await webhookTriggerById(q, tenantId, found.id);
      // A disabled trigger answers like a missing one: its address reveals nothing.
      if (!row || !row.enabled) throw unknown();
      const stored = await webhookTriggerSecrets(q, row.id);
      const aad = secretAad(tenantId, row.id);
      const valid = [await this.secrets.openTenantSecret(q, tenantId, stored.dataKeyId, stored.secret, aad)];
      if (stored.previousSecret && stored.previousSecretExpiresAt && stored.previousSecretExpiresAt.getTime() > Date.now()) {
        valid.push(await this.secrets.openTenantSecret(q, tenantId, stored.dataKeyId, stored.previousSecret, `${aad}:previous`));
      }
      return { trigger: row, secrets: valid };
    });
    const refuse = (code: DeliveryRefusalCode, message: string, retryAfter: number | null = null) =>
      new DeliveryRefused(code, message, retryAfter, trigger.id);

    if (!sourceMatcher(trigger.allowedSources)(delivery.sourceAddress))
      throw refuse('SOURCE_NOT_ALLOWED', `source address ${delivery.sourceAddress} is not in this trigger's allow list`);
    if (delivery.body.length > trigger.maxBodyBytes)
      throw refuse('PAYLOAD_TOO_LARGE', `the body is ${delivery.body.length} bytes; this trigger accepts at most ${trigger.maxBodyBytes}`);
    const signature = checkWebhookSignature({
      header: delivery.headers[SIGNATURE_HEADER],
      body: delivery.body,
      secrets,
      nowSeconds: Math.floor(Date.now() / 1000),
      windowSeconds: trigger.replayWindowSeconds,
    });
    if (signature.refusal !== null) throw refuse(signature.refusal, SIGNATURE_MESSAGES[signature.refusal](trigger.replayWindowSeconds));

    const deliveryId = delivery.headers[trigger.deliveryIdHeader];
    if (deliveryId !== undefined && !DELIVERY_ID.test(deliveryId))
      throw refuse('DELIVERY_ID_INVALID', `header ${trigger.deliveryIdHeader} must be 1 to 128 visible ASCII characters`);
    const input = this.mapInput(trigger, delivery, refuse);

    const taken = this.rateLimits.take(trigger.id);
    if (!taken.allowed) {
      throw refuse(
        'RATE_LIMITED',
        `this trigger's rate limit of ${this.options.rateLimit.ratePerSecond} deliveries per second is reached`,
        taken.retryAfterSeconds,
      );
    }
    const idempotencyKey = `webhook:${trigger.id}:${deliveryId !== undefined ? `id:${deliveryId}` : `sig:${signatureDeliveryKey(signature.digest)}`}`;
    try {
      const { run, created } = await this.runs.startTriggeredRun({
        tenantId,
        workflowId: trigger.workflowId,
        version: trigger.version,
        input,
        idempotencyKey,
        origin: { kind: 'WEBHOOK', triggerId: trigger.id, deliveryId: deliveryId ?? null },
        client: {
          requestId: delivery.requestId,
          sourceAddress: delivery.sourceAddress,
          ...(delivery.userAgent ? { userAgent: delivery.userAgent } : {}),
        },
      });
      return { triggerId: trigger.id, runId: run.id, status: run.status, duplicate: !created };
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      throw refusalOfStart(error, trigger.id);
    }
  }

  private mapInput(
    trigger: WebhookTrigger,
    delivery: InboundDelivery,
    refuse: (code: DeliveryRefusalCode, message: string) => DeliveryRefused,
  ): unknown {
    let body: unknown = null;
    if (mappingReadsBody(trigger.inputMapping) && delivery.body.length > 0) {
      if (!JSON_TYPE.test(delivery.headers['content-type'] ?? ''))
        throw refuse('UNSUPPORTED_MEDIA_TYPE', 'the body must be JSON (content-type application/json)');
      try {
        body = JSON.parse(delivery.body.toString('utf8'));
      } catch {
        throw refuse('BODY_NOT_JSON', 'the body is not valid JSON');
      }
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(delivery.headers))
      if (value !== undefined && !HIDDEN_HEADERS.has(name)) headers[name] = value;
    try {
      return mapDelivery(trigger.inputMapping, { body, headers, query: delivery.query });
    } catch (error) {
      throw refuse('INPUT_INVALID', `the input mapping failed: ${(error as Error).message}`);
    }
  }
}

const SIGNATURE_MESSAGES: Record<SignatureRefusal, (window: number) => string> = {
  SIGNATURE_MISSING: () => `the ${SIGNATURE_HEADER} header is missing`,
  SIGNATURE_MALFORMED: () => `the ${SIGNATURE_HEADER} header must be t=<unix seconds>,v1=<hex HMAC-SHA256>`,
  SIGNATURE_INVALID: () => "the signature does not match the body and timestamp under this trigger's secret",
  TIMESTAMP_OUTSIDE_WINDOW: (window) =>
    `the signed timestamp is more than ${window} s from the appliance's clock (a replay, or a clock out of sync)`,
};

/** A start the run service refused, as the sender should hear it. */
function refusalOfStart(error: AppError, triggerId: string): DeliveryRefused {
  const retryAfter = typeof error.details?.['retryAfterSeconds'] === 'number' ? (error.details['retryAfterSeconds'] as number) : null;
  switch (error.code) {
    case 'QUOTA_EXCEEDED': {
      const perDay = error.details?.['quota'] === 'maxRunsPerDay';
      const now = new Date();
      const untilTomorrow = Math.ceil((Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime()) / 1000);
      return new DeliveryRefused('QUOTA_EXCEEDED', error.message, perDay ? untilTomorrow : CONCURRENCY_RETRY_AFTER_SECONDS, triggerId);
    }
    case 'RATE_LIMITED':
    case 'OVERLOADED':
      return new DeliveryRefused(error.code, error.message, retryAfter ?? 5, triggerId);
    case 'NOT_FOUND':
      return new DeliveryRefused('WORKFLOW_UNAVAILABLE', `the trigger's workflow cannot start: ${error.message}`, null, triggerId);
    default:
      return new DeliveryRefused('INPUT_INVALID', error.message, null, triggerId);
  }
}

/** Settings as audited: everything but the secret, which is never in any record. */
function auditedSettings(s: WebhookSettings): Record<string, unknown> {
  return {
    name: s.name,
    version: s.version,
    enabled: s.enabled,
    maxBodyBytes: s.maxBodyBytes,
    replayWindowSeconds: s.replayWindowSeconds,
    allowedSources: s.allowedSources,
    deliveryIdHeader: s.deliveryIdHeader,
    mapsInput: s.inputMapping !== null,
  };
}
