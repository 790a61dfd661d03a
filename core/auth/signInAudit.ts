/**
 * Sign-ins in the audit log, aggregated so that a busy internal tool or a password-spraying
 * client cannot flood it: per token and source address per minute for successes, per token
 * prefix and source address per minute for failures. The first of each window is written
 * before the request is served (if it cannot be written, the request is refused); later
 * ones in the window are counted and written as one summary when the window closes.
 * A client cycling through made-up prefixes is folded into one window per source address
 * once `maxWindows` are open, so memory and writes stay bounded.
 */
import { scopeOf, type Database } from '../db/database.js';
import { recordAudit } from '../audit/audit.js';
import type { Logger } from '../logger.js';
import type { Actor } from './roles.js';

const WINDOW_MS = 60_000;

export interface SignInClient {
  requestId: string;
  sourceAddress: string;
  userAgent?: string;
}

interface Window {
  tenantId: string | null;
  start: number;
  action: 'auth.signed_in' | 'auth.sign_in_failed';
  details: Record<string, unknown>;
  actor: Actor | null;
  client: SignInClient;
  /** Occurrences after the first, which was written at once. */
  more: number;
  reasons: Record<string, number>;
}

export class SignInAuditor {
  private readonly windows = new Map<string, Window>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    private readonly maxWindows = 10_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      void this.flush(Date.now());
    }, 10_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush(Number.POSITIVE_INFINITY);
  }

  async succeeded(actor: Actor, client: SignInClient, now = Date.now()): Promise<void> {
    await this.note(
      `ok|${actor.tokenId}|${client.sourceAddress}`,
      now,
      {
        tenantId: actor.tenantId,
        action: 'auth.signed_in',
        actor,
        client,
        details: { tokenId: actor.tokenId },
      },
      'ok',
    );
  }

  /** `tenantId`: the token's tenant when the token exists (revoked, expired), else null. */
  async failed(prefix: string | null, reason: string, tenantId: string | null, client: SignInClient, now = Date.now()): Promise<void> {
    let key = `fail|${prefix ?? '-'}|${client.sourceAddress}`;
    if (!this.windows.has(key) && this.windows.size >= this.maxWindows) key = `fail|*|${client.sourceAddress}`;
    await this.note(
      key,
      now,
      {
        tenantId,
        action: 'auth.sign_in_failed',
        actor: null,
        client,
        details: { prefix: key.startsWith('fail|*|') ? '*' : prefix, reason },
      },
      reason,
    );
  }

  private async note(key: string, now: number, w: Omit<Window, 'start' | 'more' | 'reasons'>, reason: string): Promise<void> {
    const start = Math.floor(now / WINDOW_MS) * WINDOW_MS;
    const open = this.windows.get(key);
    if (open && open.start === start) {
      open.more++;
      open.reasons[reason] = (open.reasons[reason] ?? 0) + 1;
      return;
    }
    // The window opens before the write, so requests racing the first one count instead of writing too.
    this.windows.set(key, { ...w, start, more: 0, reasons: {} });
    if (open) await this.write(open);
    try {
      await this.db.tx(scopeOf(w.tenantId), (q) =>
        recordAudit(q, w.actor ? { actor: w.actor, ...w.client } : null, {
          action: w.action,
          targetType: 'api_token',
          targetId: w.actor?.tokenId ?? null,
          tenantId: w.tenantId,
          outcome: w.action === 'auth.signed_in' ? 'SUCCESS' : 'FAILURE',
          ...(w.action === 'auth.sign_in_failed' ? { reason } : {}),
          details: { ...w.details, count: 1, windowStart: new Date(start).toISOString() },
          client: w.client,
        }),
      );
    } catch (error) {
      this.windows.delete(key);
      throw error;
    }
  }

  /** Writes the summaries of windows that closed before `now`. */
  flush(now: number): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      for (const [key, w] of this.windows) {
        if (w.start + WINDOW_MS > now) continue;
        this.windows.delete(key);
        await this.write(w).catch((error) => this.logger.error({ err: error }, 'could not write a sign-in audit summary'));
      }
    });
    return this.flushing;
  }

  private async write(w: Window): Promise<void> {
    if (w.more === 0) return;
    await this.db.tx(scopeOf(w.tenantId), (q) =>
      recordAudit(q, w.actor ? { actor: w.actor, ...w.client } : null, {
        action: w.action,
        targetType: 'api_token',
        targetId: w.actor?.tokenId ?? null,
        tenantId: w.tenantId,
        outcome: w.action === 'auth.signed_in' ? 'SUCCESS' : 'FAILURE',
        details: {
          ...w.details,
          count: w.more,
          summary: true,
          ...(w.action === 'auth.sign_in_failed' ? { reasons: w.reasons } : {}),
          windowStart: new Date(w.start).toISOString(),
          windowEnd: new Date(w.start + WINDOW_MS).toISOString(),
        },
        client: w.client,
      }),
    );
  }
}
