/**
 * `host[:port]` patterns of the egress allow lists, and the NO_PROXY list.
 *
 * Pattern hosts are normalised the way WHATWG `URL` normalises request hosts (lower case,
 * punycode, `127.1` -> `127.0.0.1`, IPv6 compressed), so a pattern and a URL naming the same
 * host always compare equal as strings.
 */
import { isIP } from 'node:net';

/** One parsed allow-list entry. */
export interface HostPattern {
  /** Normalised host, without brackets; for a wildcard, the suffix after `*.`; empty for `*`. */
  host: string;
  wildcard: boolean;
  /** `*` alone: any host (the address checks still apply). */
  any?: boolean;
  /** Undefined: the scheme's default port (80 for http, 443 for https). */
  port?: number;
  /** The pattern as written, for messages. */
  source: string;
}

/** The target of one request hop, as the allow lists see it. */
export interface Target {
  /** `http:` or `https:`. */
  protocol: string;
  /** Normalised host without brackets (`::1`, not `[::1]`). */
  host: string;
  port: number;
}

/** `host:port` for messages and CONNECT lines, IPv6 in brackets. */
export function describeTarget(target: Target): string {
  return `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
}

export function defaultPort(protocol: string): number {
  return protocol === 'https:' ? 443 : 80;
}

/** Normalises a host the way `URL` does; undefined when `URL` would refuse it. */
export function normaliseHost(host: string): string | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare === '' || /[\s/?#@\\]/.test(bare)) return undefined;
  const literal = isIP(bare) === 6 ? `[${bare}]` : bare;
  try {
    return unbracket(new URL(`http://${literal}/`).hostname);
  } catch {
    return undefined;
  }
}

export function unbracket(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/** Drops one trailing dot: `example.com.` names the same DNS host as `example.com`. */
function comparable(host: string): string {
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/** Splits `host[:port]`, `[v6]:port` or a bare IPv6 address. */
function splitHostPort(entry: string): { host: string; port?: string } {
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    if (close < 0) return { host: entry };
    const rest = entry.slice(close + 1);
    if (rest === '') return { host: entry };
    // Anything but `:port` after the bracket leaves the whole entry as the host, which then fails to parse.
    return rest.startsWith(':') ? { host: entry.slice(0, close + 1), port: rest.slice(1) } : { host: entry };
  }
  const colon = entry.lastIndexOf(':');
  if (colon < 0 || entry.indexOf(':') !== colon) return { host: entry };
  return { host: entry.slice(0, colon), port: entry.slice(colon + 1) };
}

/** Parses one `host[:port]` pattern; throws on a malformed one (a configuration mistake). */
export function parseHostPattern(source: string): HostPattern {
  const { host: rawHost, port: rawPort } = splitHostPort(source.trim());
  let port: number | undefined;
  if (rawPort !== undefined) {
    port = Number(rawPort);
    if (!/^\d{1,5}$/.test(rawPort) || port < 1 || port > 65535) throw new TypeError(`egress host pattern "${source}": bad port`);
  }
  // A bare `*` is what an administrator writes to allow any host; internal addresses stay refused.
  if (rawHost === '*') return { host: '', wildcard: true, any: true, ...(port !== undefined ? { port } : {}), source };
  const wildcard = rawHost.startsWith('*.');
  const hostPart = wildcard ? rawHost.slice(2) : rawHost;
  // Only a leading `*.` is a wildcard; a `*` anywhere else would silently match nothing.
  if (hostPart.includes('*')) throw new TypeError(`egress host pattern "${source}": only a leading "*." wildcard is supported`);
  const host = normaliseHost(hostPart);
  if (host === undefined) throw new TypeError(`egress host pattern "${source}": not a valid host`);
  if (wildcard && isIP(host)) throw new TypeError(`egress host pattern "${source}": a wildcard cannot apply to an IP address`);
  return { host: comparable(host), wildcard, ...(port !== undefined ? { port } : {}), source };
}

/** Whether a host (already normalised) matches a pattern's host part; ports are not considered. */
export function hostMatches(pattern: Pick<HostPattern, 'host' | 'wildcard' | 'any'>, host: string): boolean {
  if (pattern.any) return true;
  const candidate = comparable(host);
  // `*.example.com` matches `a.example.com` and `a.b.example.com`, never `example.com` itself.
  return pattern.wildcard ? candidate.endsWith(`.${pattern.host}`) : candidate === pattern.host;
}

export function patternMatches(pattern: HostPattern, target: Target): boolean {
  const port = pattern.port ?? defaultPort(target.protocol);
  return port === target.port && hostMatches(pattern, target.host);
}

/** A parsed allow list. */
export class HostAllowList {
  readonly patterns: readonly HostPattern[];

  constructor(sources: readonly string[]) {
    this.patterns = sources.map(parseHostPattern);
  }

  matches(target: Target): boolean {
    return this.patterns.some((pattern) => patternMatches(pattern, target));
  }
}

/**
 * NO_PROXY semantics as curl implements them: a comma (or space) separated list of hosts,
 * each also matching its subdomains (`example.com`, `.example.com` and `*.example.com` are
 * the same entry), optionally with a port; `*` alone bypasses the proxy for every host.
 */
export class NoProxyList {
  private readonly all: boolean;
  private readonly entries: { host: string; port?: number }[] = [];

  constructor(list: string | undefined) {
    const items = (list ?? '').split(/[\s,]+/).filter(Boolean);
    this.all = items.includes('*');
    for (const item of items) {
      if (item === '*') continue;
      const { host: rawHost, port } = splitHostPort(item);
      const host = normaliseHost(rawHost.replace(/^\*?\./, ''));
      if (host === undefined) continue;
      this.entries.push({ host: comparable(host), ...(port && /^\d+$/.test(port) ? { port: Number(port) } : {}) });
    }
  }

  bypasses(target: Target): boolean {
    if (this.all) return true;
    const host = comparable(target.host);
    return this.entries.some(
      (entry) =>
        (entry.port === undefined || entry.port === target.port) &&
        (host === entry.host || (!isIP(host) && host.endsWith(`.${entry.host}`))),
    );
  }
}
