import net from 'node:net';
import { badInput } from '../errors.js';
import { renderTemplate, templateReferences } from '../workflows/templates.js';
import { checkTriggerName, checkVersionNumber } from './triggerSettings.js';

/** A trigger's settings as stored; every field checked by checkWebhookSettings. */
export interface WebhookSettings {
  name: string;
  version: number | null;
  enabled: boolean;
  maxBodyBytes: number;
  replayWindowSeconds: number;
  allowedSources: string[];
  deliveryIdHeader: string;
  inputMapping: unknown;
}

export const WEBHOOK_DEFAULTS = {
  enabled: true,
  maxBodyBytes: 256 * 1024,
  replayWindowSeconds: 300,
  deliveryIdHeader: 'x-delivery-id',
} as const;

/** What a mapping may read of a delivery. */
export const MAPPING_ROOTS = ['body', 'headers', 'query'] as const;
/** Headers a mapping never sees: they carry the sender's credentials or the signature itself, which must not end up in a run's input. */
export const HIDDEN_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', 'switchyard-signature']);

const HEADER_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
const MAX_SOURCES = 100;
const MAX_WINDOW_SECONDS = 3600;
const MAX_MAPPING_BYTES = 16 * 1024;

/**
 * Checks create/update input merged over the current settings; throws BAD_USER_INPUT
 * naming the field. `maxBodyCap` is the appliance's request body limit.
 */
export function checkWebhookSettings(
  input: { [K in keyof WebhookSettings]?: WebhookSettings[K] | null },
  current: WebhookSettings | null,
  maxBodyCap: number,
): WebhookSettings {
  const pick = <K extends keyof WebhookSettings>(key: K, fallback: WebhookSettings[K]): WebhookSettings[K] =>
    (input[key] !== undefined ? input[key] : current ? current[key] : fallback) as WebhookSettings[K];
  const name = checkTriggerName(pick('name', '' as string));
  // null is meaningful (follow the latest), so it is not "omitted".
  const version = checkVersionNumber('version' in input ? (input.version ?? null) : (current?.version ?? null));
  const enabled = input.enabled ?? current?.enabled ?? WEBHOOK_DEFAULTS.enabled;
  if (typeof enabled !== 'boolean') throw badInput('input.enabled', 'must be true or false');
  const maxBodyBytes = pick('maxBodyBytes', Math.min(WEBHOOK_DEFAULTS.maxBodyBytes, maxBodyCap));
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1 || maxBodyBytes > maxBodyCap) {
    throw badInput('input.maxBodyBytes', `must be a whole number of bytes from 1 to ${maxBodyCap} (SWITCHYARD_MAX_BODY_BYTES)`);
  }
  const replayWindowSeconds = pick('replayWindowSeconds', WEBHOOK_DEFAULTS.replayWindowSeconds);
  if (!Number.isInteger(replayWindowSeconds) || replayWindowSeconds < 1 || replayWindowSeconds > MAX_WINDOW_SECONDS) {
    throw badInput('input.replayWindowSeconds', `must be a whole number of seconds from 1 to ${MAX_WINDOW_SECONDS}`);
  }
  const allowedSources = pick('allowedSources', [] as string[]);
  checkSources(allowedSources);
  // Not String(): an explicit null must be refused, not become a header named "null".
  const headerGiven: unknown = pick('deliveryIdHeader', WEBHOOK_DEFAULTS.deliveryIdHeader);
  const deliveryIdHeader = typeof headerGiven === 'string' ? headerGiven.toLowerCase() : '';
  if (!HEADER_NAME.test(deliveryIdHeader) || HIDDEN_HEADERS.has(deliveryIdHeader)) {
    throw badInput(
      'input.deliveryIdHeader',
      'must be an HTTP header name (letters, digits and "-", at most 64) other than authorization, cookie or the signature header',
    );
  }
  const inputMapping = 'inputMapping' in input ? (input.inputMapping ?? null) : (current?.inputMapping ?? null);
  checkMapping(inputMapping);
  return { name, version, enabled, maxBodyBytes, replayWindowSeconds, allowedSources: [...allowedSources], deliveryIdHeader, inputMapping };
}

function checkSources(sources: unknown): asserts sources is string[] {
  if (!Array.isArray(sources)) throw badInput('input.allowedSources', 'must be a list of IP addresses or CIDR ranges');
  if (sources.length > MAX_SOURCES) throw badInput('input.allowedSources', `at most ${MAX_SOURCES} entries`);
  sources.forEach((source, i) => {
    if (typeof source !== 'string' || !parseSource(source)) {
      throw badInput(
        `input.allowedSources[${i}]`,
        `${JSON.stringify(source)} is not an IP address or CIDR range (like 10.0.0.0/8 or 2001:db8::/32)`,
      );
    }
  });
}

function checkMapping(mapping: unknown): void {
  if (mapping === null) return;
  const text = JSON.stringify(mapping);
  if (text === undefined || Buffer.byteLength(text) > MAX_MAPPING_BYTES)
    throw badInput('input.inputMapping', `must be a JSON value of at most ${MAX_MAPPING_BYTES} bytes`);
  for (const ref of templateReferences(mapping, 'input.inputMapping')) {
    if (ref.error !== undefined) throw badInput(ref.path, `invalid template: ${ref.error}`);
    for (const root of ref.roots) {
      if (!(MAPPING_ROOTS as readonly string[]).includes(root))
        throw badInput(ref.path, `unknown variable "${root}"; a mapping may read body, headers and query`);
    }
  }
}

/** Whether a mapping needs the body parsed as JSON (the default mapping is the body). */
export function mappingReadsBody(mapping: unknown): boolean {
  return mapping === null || templateReferences(mapping).some((ref) => ref.roots.includes('body'));
}

/** The run input of a delivery. */
export function mapDelivery(
  mapping: unknown,
  delivery: { body: unknown; headers: Record<string, string>; query: Record<string, string> },
): unknown {
  if (mapping === null) return delivery.body ?? {};
  return renderTemplate(mapping, delivery);
}

function parseSource(source: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address, bits, extra] = source.split('/');
  if (extra !== undefined || !address) return null;
  const version = net.isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** An allow list as a matcher; empty: every source is allowed. */
export function sourceMatcher(sources: readonly string[]): (address: string) => boolean {
  if (sources.length === 0) return () => true;
  const list = new net.BlockList();
  for (const source of sources) {
    const parsed = parseSource(source);
    if (parsed) list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return (address) => {
    // A dual-stack listener reports IPv4 peers as IPv4-mapped IPv6 addresses.
    const plain = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
    const family = net.isIPv4(plain) ? 'ipv4' : net.isIPv6(plain) ? 'ipv6' : null;
    return family !== null && list.check(plain, family);
  };
}
