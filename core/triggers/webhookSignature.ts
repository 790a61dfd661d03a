import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The webhook signature scheme. A sender signs `<t>.<raw body>` with HMAC-SHA256 keyed by
 * the trigger's secret (its UTF-8 text) and sends
 * `Switchyard-Signature: t=<unix seconds>,v1=<hex digest>`; several v1 values may be sent
 * (a sender switching secrets during a rotation). The timestamp is inside the signature,
 * so a captured delivery cannot be replayed outside the window by changing it.
 */
export const SIGNATURE_HEADER = 'switchyard-signature';

const SECRET_PREFIX = 'whsec_';
// t is decimal seconds; a digest is 64 hex characters. Anything else is not our header.
const T_PART = /^t=(\d{1,12})$/;
const V1_PART = /^v1=([0-9a-f]{64})$/;
const MAX_SIGNATURES = 8;

export type SignatureRefusal = 'SIGNATURE_MISSING' | 'SIGNATURE_MALFORMED' | 'SIGNATURE_INVALID' | 'TIMESTAMP_OUTSIDE_WINDOW';

/** A new signing secret: 32 random bytes, base64url, with a prefix that says what it is (so secret scanners find it). */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64url');
}

export function signWebhookPayload(secret: string, timestamp: number, body: Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** The header a sender sends (used by tests and documented in the README). */
export function webhookSignatureHeader(secret: string, timestamp: number, body: Buffer): string {
  return `t=${timestamp},v1=${signWebhookPayload(secret, timestamp, body)}`;
}

export interface SignatureCheck {
  header: string | undefined;
  body: Buffer;
  /** The secrets that may have signed it: the current one, and the previous one during a rotation's grace period. */
  secrets: readonly string[];
  nowSeconds: number;
  windowSeconds: number;
}

/** Null when the delivery is signed by one of the secrets within the window, else why not. */
export function checkWebhookSignature(
  check: SignatureCheck,
): { refusal: SignatureRefusal } | { refusal: null; timestamp: number; digest: string } {
  if (!check.header) return { refusal: 'SIGNATURE_MISSING' };
  let timestamp: number | null = null;
  const digests: Buffer[] = [];
  for (const part of check.header.split(',').map((p) => p.trim())) {
    const t = T_PART.exec(part);
    const v1 = V1_PART.exec(part);
    if (t && timestamp === null) timestamp = Number(t[1]);
    else if (v1 && digests.length < MAX_SIGNATURES) digests.push(Buffer.from(v1[1]!, 'hex'));
    else if (!v1) return { refusal: 'SIGNATURE_MALFORMED' };
  }
  if (timestamp === null || digests.length === 0) return { refusal: 'SIGNATURE_MALFORMED' };
  // The signature is checked before the time: a stale but valid delivery is told it is stale,
  // an unsigned one learns nothing about the window.
  for (const secret of check.secrets) {
    const expected = Buffer.from(signWebhookPayload(secret, timestamp, check.body), 'hex');
    const match = digests.find((d) => timingSafeEqual(d, expected));
    if (match) {
      if (Math.abs(check.nowSeconds - timestamp) > check.windowSeconds) return { refusal: 'TIMESTAMP_OUTSIDE_WINDOW' };
      return { refusal: null, timestamp, digest: match.toString('hex') };
    }
  }
  return { refusal: 'SIGNATURE_INVALID' };
}

/** A delivery without a delivery id is keyed by its signature: the same signed request replayed is the same delivery. */
export function signatureDeliveryKey(digest: string): string {
  return createHash('sha256').update(digest).digest('hex').slice(0, 48);
}
