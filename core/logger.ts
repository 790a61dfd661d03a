import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

const SECRET_KEY = /authorization|cookie|token|secret|password|passwd|apikey|api_key|private|credential/i;
// Switchyard API tokens (see core/auth/tokens.ts) and bearer headers, wherever they appear in a string.
const SECRET_TEXT = /\bsy_[A-Za-z0-9]{6,}_[A-Za-z0-9]{16,}\b|\b[Bb]earer\s+[A-Za-z0-9._~+/=-]{8,}/g;
const REDACTED = '[REDACTED]';

function scrubString(value: string, planted: ReadonlySet<string>): string {
  let out = value.replace(SECRET_TEXT, REDACTED);
  for (const secret of planted) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/**
 * Removes secrets from anything about to be logged. pino's `redact` has no recursive
 * wildcard, so the walk is ours: secret-named keys at any depth, token-shaped strings,
 * and exact secrets registered at run time (e.g. the configured admin token).
 */
export function scrub(value: unknown, planted: ReadonlySet<string> = plantedSecrets, depth = 0): unknown {
  if (typeof value === 'string') return scrubString(value, planted);
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (value instanceof Error) {
    return { type: value.name, message: scrubString(value.message, planted), code: (value as { code?: unknown }).code };
  }
  if (Array.isArray(value)) return value.map((item) => scrub(item, planted, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] =
      SECRET_KEY.test(key) && item !== null && typeof item !== 'boolean' && typeof item !== 'number'
        ? REDACTED
        : scrub(item, planted, depth + 1);
  }
  return out;
}

const plantedSecrets = new Set<string>();

/** Registers a secret string that must never be written to a log, whatever field holds it. */
export function registerSecret(secret: string): void {
  if (secret.length >= 8) plantedSecrets.add(secret);
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'switchyard', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => scrub(object) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((arg) => (typeof arg === 'string' ? scrubString(arg, plantedSecrets) : arg));
          method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
}
