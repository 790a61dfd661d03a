import { catalogueEntry, STEP_FAILURES, type StepFailureCode } from '../../core/runs/stepFailures.js';
import type { EgressErrorCode } from '../egress/types.js';
import type { SandboxErrorCode, SandboxFailure, SandboxResult, SandboxStats } from './types.js';

export const MAX_MESSAGE_CHARS = 1000;

/** The egress layer's codes, which pass from a plugin's failed request to its step (the catalogue's EGRESS source). */
const EGRESS_CODES: ReadonlySet<string> = new Set(
  Object.entries(STEP_FAILURES)
    .filter(([, entry]) => entry.source === 'EGRESS')
    .map(([code]) => code),
);

export function isEgressCode(code: unknown): code is EgressErrorCode {
  return typeof code === 'string' && EGRESS_CODES.has(code);
}

export function truncate(text: string, max = MAX_MESSAGE_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Retryable as the catalogue says, unless told otherwise (a plugin's PluginError says so itself). */
export function failure(code: SandboxErrorCode, message: string, retryable = catalogueEntry(code)?.retryable ?? false): SandboxFailure {
  return { code, message: truncate(message), retryable };
}

export function failed(code: StepFailureCode, message: string, stats?: SandboxStats): SandboxResult {
  return stats ? { ok: false, error: failure(code, message), stats } : { ok: false, error: failure(code, message) };
}

/** The first line of an error's message: host errors must not carry stack traces or paths out. */
export function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return truncate(text.split('\n', 1)[0] ?? '');
}

/** The sandbox process's exit code when it stops itself because leftover plugin code is running. */
export const RUNAWAY_EXIT_CODE = 70;
