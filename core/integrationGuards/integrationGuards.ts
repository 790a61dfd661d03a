import type { Database } from '../db/database.js';
import { AppError, badInput } from '../errors.js';
import { recordAudit } from '../audit/audit.js';
import { isHostPattern } from '../hostPatterns.js';
import { tenantOf, type RequestContext } from '../auth/roles.js';
import { deleteGuard, readGuards, upsertGuardSettings } from './guardStore.js';
import {
  DEFAULT_COOL_DOWN_SECONDS,
  DEFAULT_FAILURE_THRESHOLD,
  type BreakerStatus,
  type GuardSettings,
  type IntegrationGuard,
} from './model.js';

export interface SetIntegrationGuardInput {
  host: unknown;
  ratePerSecond?: unknown;
  burst?: unknown;
  failureThreshold?: unknown;
  coolDownSeconds?: unknown;
}

/** A guard as the API shows it. */
export interface IntegrationGuardView extends GuardSettings {
  host: string;
  breaker: {
    state: BreakerStatus;
    consecutiveFailures: number;
    openedAt: Date | null;
    retryAt: Date | null;
    heldUntil: Date | null;
  };
  updatedAt: Date;
}

const MAX_RATE_PER_SECOND = 100_000;
const MAX_BURST = 100_000;
const MAX_FAILURE_THRESHOLD = 1000;
const MAX_COOL_DOWN_SECONDS = 86_400;
const MAX_GUARDS_PER_TENANT = 200;

/**
 * The API over a tenant's integration guards: list them with their breakers' state (the
 * tenant's readers), set and delete them (ADMIN). The engine side is IntegrationGuardGate.
 */
export class IntegrationGuardService {
  /** `onChange` hears of every change, so this process's gate need not wait for its cache to expire. */
  constructor(
    private readonly db: Database,
    private readonly onChange: (tenantId: string) => void = () => undefined,
  ) {}

  async list(ctx: RequestContext): Promise<IntegrationGuardView[]> {
    // The breakers explain why steps wait, so whoever may read runs may read them.
    const tenantId = tenantOf(ctx.actor, 'run:read');
    return (await this.db.tx({ tenantId }, (q) => readGuards(q, tenantId))).map(toView);
  }

  /** Creates the guard or replaces its settings; an existing breaker keeps its state. Omitted settings take their defaults. */
  async set(ctx: RequestContext, input: SetIntegrationGuardInput): Promise<IntegrationGuardView> {
    const tenantId = tenantOf(ctx.actor, 'integration:manage');
    const { host, settings } = checkInput(input);
    const view = await this.db.tx({ tenantId }, async (q) => {
      const { guard, created } = await upsertGuardSettings(q, tenantId, host, settings, ctx.actor.tokenId);
      if (created) {
        const { rows } = await q.query<{ n: number }>('select count(*)::int as n from integration_guards where tenant_id = $1', [tenantId]);
        if (rows[0]!.n > MAX_GUARDS_PER_TENANT) throw badInput('input.host', `a tenant may guard at most ${MAX_GUARDS_PER_TENANT} hosts`);
      }
      await recordAudit(q, ctx, {
        action: created ? 'integration_guard.created' : 'integration_guard.updated',
        targetType: 'integration_guard',
        targetId: host,
        details: { host, ...settings },
      });
      return toView(guard);
    });
    this.onChange(tenantId);
    return view;
  }

  async delete(ctx: RequestContext, host: string): Promise<IntegrationGuardView> {
    const tenantId = tenantOf(ctx.actor, 'integration:manage');
    const view = await this.db.tx({ tenantId }, async (q) => {
      const deleted = await deleteGuard(q, tenantId, host);
      if (!deleted) throw new AppError('NOT_FOUND', `integration guard ${JSON.stringify(host)} not found`, { path: 'host' });
      await recordAudit(q, ctx, {
        action: 'integration_guard.deleted',
        targetType: 'integration_guard',
        targetId: host,
        details: { host, ...deleted.settings, breakerState: deleted.breaker.status },
      });
      return toView(deleted);
    });
    this.onChange(tenantId);
    return view;
  }
}

function toView(g: IntegrationGuard): IntegrationGuardView {
  const at = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));
  return {
    host: g.host,
    ...g.settings,
    updatedAt: g.updatedAt,
    breaker: {
      state: g.breaker.status,
      consecutiveFailures: g.breaker.consecutiveFailures,
      openedAt: at(g.breaker.openedAt),
      retryAt: at(g.breaker.retryAt),
      heldUntil: g.breaker.heldUntil !== null && g.breaker.heldUntil > Date.now() ? at(g.breaker.heldUntil) : null,
    },
  };
}

function checkInput(input: SetIntegrationGuardInput): { host: string; settings: GuardSettings } {
  const { host } = input;
  // A wildcard over digits would name IP addresses, which have no subdomains.
  if (typeof host !== 'string' || !isHostPattern(host, { allowAnyHost: false }) || /^\*\.[0-9.]+(:[0-9]+)?$/.test(host)) {
    throw badInput(
      'input.host',
      'must be a lowercase host or host:port, optionally starting with "*." (one guard per integration host, not "*")',
    );
  }
  const ratePerSecond = optionalNumber(input.ratePerSecond, 'input.ratePerSecond', {
    min: 0,
    exclusiveMin: true,
    max: MAX_RATE_PER_SECOND,
    integer: false,
  });
  let burst = optionalNumber(input.burst, 'input.burst', { min: 1, max: MAX_BURST, integer: true });
  if (ratePerSecond === null && burst !== null) throw badInput('input.burst', 'needs ratePerSecond: a burst without a rate limits nothing');
  // By default a second's worth of requests may go at once.
  if (ratePerSecond !== null && burst === null) burst = Math.max(1, Math.ceil(ratePerSecond));
  const failureThreshold =
    optionalNumber(input.failureThreshold, 'input.failureThreshold', { min: 1, max: MAX_FAILURE_THRESHOLD, integer: true }) ??
    DEFAULT_FAILURE_THRESHOLD;
  const coolDownSeconds =
    optionalNumber(input.coolDownSeconds, 'input.coolDownSeconds', { min: 1, max: MAX_COOL_DOWN_SECONDS, integer: true }) ??
    DEFAULT_COOL_DOWN_SECONDS;
  return { host, settings: { ratePerSecond, burst, failureThreshold, coolDownSeconds } };
}

function optionalNumber(
  value: unknown,
  path: string,
  range: { min: number; exclusiveMin?: boolean; max: number; integer: boolean },
): number | null {
  if (value === undefined || value === null) return null;
  const below = typeof value === 'number' && (range.exclusiveMin ? value <= range.min : value < range.min);
  if (typeof value !== 'number' || !Number.isFinite(value) || below || value > range.max || (range.integer && !Number.isInteger(value))) {
    const kind = range.integer ? 'a whole number' : 'a number';
    throw badInput(
      path,
      `must be ${kind} ${range.exclusiveMin ? 'greater than' : 'from'} ${range.min}${range.exclusiveMin ? ' and at most' : ' to'} ${range.max}`,
    );
  }
  return value;
}
