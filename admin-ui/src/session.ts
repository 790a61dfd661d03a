/**
 * The signed-in session: the bearer token in sessionStorage (gone when the tab closes, and
 * the only thing the UI ever stores) and the viewer the API says it belongs to.
 */
const KEY = 'switchyard.token';

export interface Viewer {
  role: string;
  permissions: string[];
  tenant: { id: string; name: string } | null;
  token: { id: string; name: string; expiresAt: string | null };
}

export interface Session {
  token: string;
  viewer: Viewer;
}

type Listener = (session: Session | null, reason: string | null) => void;
let session: Session | null = null;
const listeners = new Set<Listener>();

export const currentToken = (): string | null => session?.token ?? sessionStorage.getItem(KEY);
export const currentSession = (): Session | null => session;
export const can = (permission: string): boolean => session?.viewer.permissions.includes(permission) ?? false;

export function startSession(token: string, viewer: Viewer): void {
  sessionStorage.setItem(KEY, token);
  session = { token, viewer };
  for (const listener of listeners) listener(session, null);
}

export function endSession(reason: string | null = null): void {
  sessionStorage.removeItem(KEY);
  session = null;
  for (const listener of listeners) listener(null, reason);
}

/** The API said the token is no longer good (revoked, expired). */
export function expireSession(message: string): void {
  if (session) endSession(`You were signed out: ${message}`);
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
