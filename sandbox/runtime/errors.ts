import type { SandboxErrorCode, SandboxFailure, SandboxResult, SandboxStats } from './types.js';

export const MAX_MESSAGE_CHARS = 1000;

/** Codes a plugin may raise itself; `SANDBOX_*` stays ours so a plugin cannot pose as the runtime. */
const PLUGIN_CODE = /^[A-Z][A-Z0-9_]{2,63}$/;

export function isPluginCode(code: unknown): code is string {
  return typeof code === 'string' && PLUGIN_CODE.test(code) && !code.startsWith('SANDBOX_');
}

/**
 * Whether a retry can help. Timeouts and crashes may be load or bad luck; limits and plugin bugs
 * (including plain throws: a bug in plugin code does not get better by retrying) are permanent.
 */
const RETRYABLE: Record<string, boolean> = {
  SANDBOX_TIMEOUT: true,
  SANDBOX_CRASHED: true,
  SANDBOX_UNAVAILABLE: true,
  SANDBOX_CANCELLED: false,
  SANDBOX_MEMORY: false,
  SANDBOX_CPU: false,
  SANDBOX_ERROR: false,
  OUTPUT_TOO_LARGE: false,
  UNKNOWN_ACTION: false,
  SCRIPT_HASH_MISMATCH: false,
  EGRESS_DENIED: false,
  EGRESS_LIMIT: false,
  CREDENTIAL_DENIED: false,
  EGRESS_TIMEOUT: true,
  EGRESS_FAILED: true,
  // Held back by an integration guard: the appliance defers the step rather than failing it.
  HOST_RATE_LIMITED: true,
  CIRCUIT_OPEN: true,
};

export const EGRESS_CODES: ReadonlySet<string> = new Set([
  'EGRESS_DENIED',
  'EGRESS_LIMIT',
  'EGRESS_TIMEOUT',
  'EGRESS_FAILED',
  'CREDENTIAL_DENIED',
  'HOST_RATE_LIMITED',
  'CIRCUIT_OPEN',
]);

export function truncate(text: string, max = MAX_MESSAGE_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function failure(code: SandboxErrorCode, message: string, retryable = RETRYABLE[code] ?? false): SandboxFailure {
  return { code, message: truncate(message), retryable };
}

export function failed(code: SandboxErrorCode, message: string, stats?: SandboxStats): SandboxResult {
  return stats ? { ok: false, error: failure(code, message), stats } : { ok: false, error: failure(code, message) };
}

/** The first line of an error's message: host errors must not carry stack traces or paths out. */
export function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return truncate(text.split('\n', 1)[0] ?? '');
}

/** The sandbox process's exit code when it stops itself because leftover plugin code is running. */
export const RUNAWAY_EXIT_CODE = 70;
