/** Plain `major.minor.patch` versions; plugins and the appliance use no pre-release tags. */
export const VERSION_PATTERN = '^(0|[1-9][0-9]{0,8})\\.(0|[1-9][0-9]{0,8})\\.(0|[1-9][0-9]{0,8})$';
const VERSION = new RegExp(VERSION_PATTERN);

export const isVersion = (text: string): boolean => VERSION.test(text);

/** Negative when `a` is older than `b`, zero when equal, positive when newer. Both must satisfy `isVersion`. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}
