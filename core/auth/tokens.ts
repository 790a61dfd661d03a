import { createHash, randomBytes } from 'node:crypto';
import { scopeOf, type Database, type Queryable } from '../db/database.js';
import type { SignInAuditor, SignInClient } from './signInAudit.js';
import { AppError, badInput, notFound } from '../errors.js';
import { newId, isId } from '../ids.js';
import { recordAudit } from '../audit/audit.js';
import { parsePage, toConnection, type Connection } from '../pagination.js';
import { authorize, ROLES, type Actor, type RequestContext, type Role } from './roles.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function base62(length: number): string {
  const bytes = randomBytes(length * 2);
  let out = '';
  // Rejection sampling keeps every character equally likely.
  for (let i = 0; i < bytes.length && out.length < length; i++) {
    const b = bytes[i]!;
    if (b < 248) out += ALPHABET[b % 62];
  }
  return out.length === length ? out : out + base62(length - out.length);
}

/** `sy_<8-char prefix>_<32-char secret>`: ~190 bits of entropy, so a plain SHA-256 is a safe verifier. */
export function generateToken(): { token: string; prefix: string } {
  const prefix = `sy_${base62(8)}`;
  return { token: `${prefix}_${base62(32)}`, prefix };
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function tokenPrefix(token: string): string | null {
  const match = /^(sy_[A-Za-z0-9]{8})_[A-Za-z0-9]{32}$/.exec(token);
  return match ? match[1]! : null;
}

/**
 * What may be shown of a token. A generated token's prefix is random and separate from
 * its secret part; an operator-chosen admin token gets a digest-derived label instead,
 * so that no character of it is ever displayed.
 */
export function displayPrefix(token: string): string {
  return tokenPrefix(token) ?? `custom_${createHash('sha256').update(token).digest('hex').slice(0, 8)}`;
}

export interface ApiToken {
  id: string;
  tenantId: string | null;
  role: Role;
  name: string;
  prefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

const TOKEN_COLUMNS = `id, tenant_id as "tenantId", role, name, prefix, created_at as "createdAt",
  expires_at as "expiresAt", revoked_at as "revokedAt", last_used_at as "lastUsedAt"`;

export type AuthFailure = 'missing' | 'malformed' | 'unknown' | 'revoked' | 'expired';

export class AuthError extends AppError {
  /** `tenantId`: the token's tenant, when the token exists (revoked, expired). */
  constructor(
    readonly reason: AuthFailure,
    readonly prefix: string | null,
    readonly tenantId: string | null = null,
  ) {
    super(
      'UNAUTHENTICATED',
      reason === 'missing'
        ? 'an Authorization: Bearer <token> header is required'
        : `the token is ${reason === 'malformed' ? 'not a Switchyard token' : reason}`,
    );
  }
}

// last_used_at is written at most once a minute per token so reads do not become writes.
const LAST_USED_RESOLUTION_MS = 60_000;

export class TokenService {
  constructor(
    private readonly db: Database,
    private readonly signIns: SignInAuditor | null = null,
  ) {}

  /** `authenticate` for a request from a client: the sign-in, refused or not, is audited (aggregated per minute). */
  async signIn(token: string | undefined, client: SignInClient): Promise<{ actor: Actor; token: ApiToken }> {
    let result: { actor: Actor; token: ApiToken };
    try {
      result = await this.authenticate(token);
    } catch (error) {
      if (error instanceof AuthError) await this.signIns?.failed(error.prefix, error.reason, error.tenantId, client);
      throw error;
    }
    await this.signIns?.succeeded(result.actor, client);
    return result;
  }

  /** Resolves a bearer token to its actor; throws AuthError saying why it is refused. */
  async authenticate(token: string | undefined): Promise<{ actor: Actor; token: ApiToken }> {
    if (!token) throw new AuthError('missing', null);
    if (token.length < 24 || token.length > 512) throw new AuthError('malformed', null);
    const prefix = displayPrefix(token);
    // Before authentication there is no tenant: the lookup by hash is the one function that looks across tenants.
    const { rows } = await this.db.query<ApiToken>('system', `select ${TOKEN_COLUMNS} from find_api_token($1)`, [hashToken(token)]);
    const row = rows[0];
    if (!row) throw new AuthError('unknown', prefix);
    if (row.revokedAt) throw new AuthError('revoked', prefix, row.tenantId);
    if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) throw new AuthError('expired', prefix, row.tenantId);
    if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      void this.db
        .query(scopeOf(row.tenantId), 'update api_tokens set last_used_at = now() where id = $1', [row.id])
        .catch(() => undefined);
    }
    return { actor: { tokenId: row.id, tokenName: row.name, role: row.role, tenantId: row.tenantId }, token: row };
  }

  /** The caller's own token, whatever its role. */
  async own(ctx: RequestContext): Promise<ApiToken> {
    const { rows } = await this.db.query<ApiToken>(scopeOf(ctx.actor.tenantId), `select ${TOKEN_COLUMNS} from api_tokens where id = $1`, [
      ctx.actor.tokenId,
    ]);
    if (!rows[0]) throw notFound('API token', ctx.actor.tokenId);
    return rows[0];
  }

  async get(ctx: RequestContext, id: string): Promise<ApiToken> {
    if (!isId(id)) throw notFound('API token', id);
    let tenantId = ctx.actor.tenantId;
    if (ctx.actor.role === 'SYSTEM_ADMIN') {
      const owner = (
        await this.db.query<{ tenantId: string | null }>('system', 'select tenant_id as "tenantId" from api_token_tenant($1)', [id])
      ).rows[0];
      if (!owner) throw notFound('API token', id);
      tenantId = owner.tenantId;
    }
    const row = (await this.db.query<ApiToken>(scopeOf(tenantId), `select ${TOKEN_COLUMNS} from api_tokens where id = $1`, [id])).rows[0];
    if (!row || !mayManage(ctx.actor, row.tenantId)) throw notFound('API token', id);
    return row;
  }

  async list(ctx: RequestContext, tenantId: string | null, first?: number | null, after?: string | null): Promise<Connection<ApiToken>> {
    authorize(ctx.actor, 'token:manage');
    if (ctx.actor.role !== 'SYSTEM_ADMIN' && tenantId !== null && tenantId !== ctx.actor.tenantId) throw notFound('tenant', tenantId);
    const scopeTenant = ctx.actor.role === 'SYSTEM_ADMIN' ? tenantId : ctx.actor.tenantId;
    const page = parsePage(first, after);
    if (scopeTenant !== null && !isId(scopeTenant)) throw badInput('tenantId', 'not a valid ID');
    const { rows } = await this.db.query<ApiToken>(
      scopeOf(scopeTenant),
      `select ${TOKEN_COLUMNS} from api_tokens where tenant_id is not distinct from $1 and ($2::uuid is null or id > $2) order by id limit $3`,
      [scopeTenant, page.afterId, page.limit + 1],
    );
    return toConnection(rows, page);
  }

  async create(
    ctx: RequestContext,
    input: { tenantId?: string | null; role: string; name: string; expiresInSeconds?: number | null },
  ): Promise<{ token: string; apiToken: ApiToken }> {
    authorize(ctx.actor, 'token:manage');
    if (!(ROLES as readonly string[]).includes(input.role)) throw badInput('input.role', `unknown role ${JSON.stringify(input.role)}`);
    const role = input.role as Role;
    const name = input.name?.trim() ?? '';
    if (name.length < 1 || name.length > 200) throw badInput('input.name', 'must be 1 to 200 characters');
    if (
      input.expiresInSeconds != null &&
      (!Number.isInteger(input.expiresInSeconds) || input.expiresInSeconds < 60 || input.expiresInSeconds > 5 * 365 * 86400)
    ) {
      throw badInput('input.expiresInSeconds', 'must be a whole number of seconds between 60 and 157680000');
    }
    let tenantId: string | null;
    if (role === 'SYSTEM_ADMIN') {
      if (ctx.actor.role !== 'SYSTEM_ADMIN') throw new AppError('FORBIDDEN', 'only a system admin may create system-admin tokens');
      if (input.tenantId) throw badInput('input.tenantId', 'system-admin tokens belong to no tenant; omit tenantId');
      tenantId = null;
    } else if (ctx.actor.role === 'SYSTEM_ADMIN') {
      if (!input.tenantId) throw badInput('input.tenantId', `is required for role ${role}`);
      tenantId = input.tenantId;
    } else {
      if (input.tenantId && input.tenantId !== ctx.actor.tenantId) throw notFound('tenant', input.tenantId);
      tenantId = ctx.actor.tenantId;
    }
    if (tenantId !== null) {
      if (!isId(tenantId)) throw badInput('input.tenantId', 'not a valid ID');
      const exists = await this.db.query('system', 'select 1 from tenants where id = $1', [tenantId]);
      if (exists.rowCount === 0) throw notFound('tenant', tenantId);
    }
    return this.db.tx(scopeOf(tenantId), async (q) => {
      const created = await insertToken(q, {
        tenantId,
        role,
        name,
        expiresInSeconds: input.expiresInSeconds ?? null,
        createdBy: ctx.actor.tokenId,
      });
      await recordAudit(q, ctx, {
        action: 'token.created',
        targetType: 'api_token',
        targetId: created.apiToken.id,
        tenantId,
        details: { role, name, prefix: created.apiToken.prefix },
      });
      return created;
    });
  }

  async revoke(ctx: RequestContext, id: string): Promise<ApiToken> {
    authorize(ctx.actor, 'token:manage');
    const existing = await this.get(ctx, id);
    if (existing.revokedAt) return existing;
    return this.db.tx(scopeOf(existing.tenantId), async (q) => {
      const { rows } = await q.query<ApiToken>(`update api_tokens set revoked_at = now() where id = $1 returning ${TOKEN_COLUMNS}`, [id]);
      await recordAudit(q, ctx, {
        action: 'token.revoked',
        targetType: 'api_token',
        targetId: id,
        tenantId: existing.tenantId,
        details: { prefix: existing.prefix },
      });
      return rows[0]!;
    });
  }
}

function mayManage(actor: Actor, tokenTenant: string | null): boolean {
  if (actor.role === 'SYSTEM_ADMIN') return true;
  return actor.role === 'ADMIN' && tokenTenant !== null && tokenTenant === actor.tenantId;
}

/** Inserts a token row; with `token` given (the configured first admin token) that string is used. */
export async function insertToken(
  q: Queryable,
  input: { tenantId: string | null; role: Role; name: string; expiresInSeconds: number | null; createdBy: string | null; token?: string },
): Promise<{ token: string; apiToken: ApiToken }> {
  const generated = input.token ? { token: input.token, prefix: displayPrefix(input.token) } : generateToken();
  const { rows } = await q.query<ApiToken>(
    `insert into api_tokens (id, tenant_id, role, name, prefix, token_hash, created_by, expires_at)
     values ($1, $2, $3, $4, $5, $6, $7, case when $8::int is null then null else now() + make_interval(secs => $8::int) end)
     returning ${TOKEN_COLUMNS}`,
    [
      newId(),
      input.tenantId,
      input.role,
      input.name,
      generated.prefix,
      hashToken(generated.token),
      input.createdBy,
      input.expiresInSeconds,
    ],
  );
  return { token: generated.token, apiToken: rows[0]! };
}
