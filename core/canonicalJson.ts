/**
 * Canonical JSON: object keys sorted recursively (by UTF-16 code units, as
 * `Array.prototype.sort` does), no insignificant whitespace. Two parties that parse the
 * same JSON value get the same bytes, so a signature over it survives re-formatting.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export function canonicalJson(value: unknown): string {
  return write(value, '(root)');
}

function write(value: unknown, at: string): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    // JSON.stringify would silently turn these into null, changing what was signed.
    if (!Number.isFinite(value)) throw new TypeError(`${at}: ${String(value)} has no JSON representation`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item, i) => write(item, `${at}[${i}]`)).join(',')}]`;
  if (typeof value === 'object' && isPlainObject(value)) {
    const entries = Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${write((value as Record<string, unknown>)[key], `${at}.${key}`)}`);
    return `{${entries.join(',')}}`;
  }
  throw new TypeError(`${at}: a ${typeof value} has no JSON representation`);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
