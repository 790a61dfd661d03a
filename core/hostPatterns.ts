/**
 * Host patterns as manifests, plugin policies and credentials write them: a lowercase
 * `host` or `host:port`, optionally starting with `*.` (any subdomain); where allowed, a
 * bare `*` (any host the other side allows). The egress layer is what matches them.
 */

const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';

/** The pattern's syntax without anchors, for JSON Schemas; `isHostPattern` also checks the port range. */
export const HOST_PATTERN_SOURCE = `(\\*\\.)?${LABEL}(\\.${LABEL})*(:[0-9]{1,5})?`;

const HOST = new RegExp(`^${HOST_PATTERN_SOURCE}$`);

export function isHostPattern(value: string, options: { allowAnyHost: boolean }): boolean {
  if (value === '*') return options.allowAnyHost;
  const port = /:([0-9]+)$/.exec(value)?.[1];
  return HOST.test(value) && (port === undefined || (Number(port) >= 1 && Number(port) <= 65535));
}

/** A plain host name: no wildcard, no port. */
export function isHostName(value: string): boolean {
  return HOST.test(value) && !value.includes('*') && !value.includes(':');
}
