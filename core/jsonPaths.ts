/** Paths into JSON documents as error messages show them: `steps[2].needs[0]`, `actions[1].name`. */

export function appendPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) return base ? `${base}.${key}` : key;
  return `${base}[${JSON.stringify(key)}]`;
}

/** A JSON Pointer (as ajv reports it) under `base`: `/steps/2/needs/0` → `steps[2].needs[0]`. */
export function pointerToPath(pointer: string, base = ''): string {
  if (!pointer) return base;
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<string>((path, seg) => appendPath(path, /^(0|[1-9][0-9]*)$/.test(seg) ? Number(seg) : seg), base);
}

/** "a string", "an object", "an integer". */
export const withArticle = (type: string): string => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);
