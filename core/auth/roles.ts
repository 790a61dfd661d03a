import { AppError } from '../errors.js';

export const ROLES = ['SYSTEM_ADMIN', 'ADMIN', 'EDITOR', 'OPERATOR', 'VIEWER', 'AUDITOR'] as const;
export type Role = (typeof ROLES)[number];
export const TENANT_ROLES = ROLES.filter((r) => r !== 'SYSTEM_ADMIN');

export type Permission =
  | 'tenant:manage'
  | 'token:manage'
  | 'workflow:read'
  | 'workflow:write'
  | 'run:read'
  | 'run:operate'
  | 'credential:read'
  | 'credential:write'
  | 'plugin:read'
  | 'plugin:manage'
  /** Setting a tenant's integration guards (rate limits, circuit breakers), which can hold back every run of the tenant. */
  | 'integration:manage'
  | 'audit:read';

const GRANTS: Record<Role, readonly Permission[]> = {
  SYSTEM_ADMIN: ['tenant:manage', 'token:manage', 'plugin:read', 'plugin:manage', 'audit:read'],
  ADMIN: [
    'token:manage',
    'workflow:read',
    'workflow:write',
    'run:read',
    'run:operate',
    'credential:read',
    'credential:write',
    'plugin:read',
    'integration:manage',
    'audit:read',
  ],
  EDITOR: ['workflow:read', 'workflow:write', 'run:read', 'credential:read', 'credential:write', 'plugin:read'],
  OPERATOR: ['workflow:read', 'run:read', 'run:operate', 'plugin:read'],
  VIEWER: ['workflow:read', 'run:read', 'credential:read', 'plugin:read'],
  AUDITOR: ['audit:read'],
};

/** Who is acting: always derived from the bearer token, never from client input. */
export interface Actor {
  tokenId: string;
  tokenName: string;
  role: Role;
  /** null for SYSTEM_ADMIN, whose tokens belong to no tenant. */
  tenantId: string | null;
}

export interface RequestContext {
  actor: Actor;
  requestId: string;
  sourceAddress?: string;
  userAgent?: string;
}

/** What a role may do (the admin UI shows and enables by this, so it never keeps its own copy). */
export function permissionsOf(role: Role): readonly Permission[] {
  return GRANTS[role];
}

export function can(actor: Actor, permission: Permission): boolean {
  return GRANTS[actor.role].includes(permission);
}

export function authorize(actor: Actor, permission: Permission): void {
  if (!can(actor, permission)) {
    throw new AppError('FORBIDDEN', `role ${actor.role} may not perform this operation (needs ${permission})`);
  }
}

/** For tenant-scoped operations: the caller's tenant, or FORBIDDEN for a tenantless token. */
export function tenantOf(actor: Actor, permission: Permission): string {
  authorize(actor, permission);
  if (actor.tenantId === null) {
    throw new AppError('FORBIDDEN', "this operation acts on one tenant's data; use a token of that tenant");
  }
  return actor.tenantId;
}
