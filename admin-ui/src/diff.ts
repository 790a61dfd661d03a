/**
 * Differences between two workflow definitions: both are printed as canonical JSON (keys
 * sorted at every depth, two-space indentation) so that only real changes show, then
 * compared line by line along a longest common subsequence.
 */

export type DiffKind = 'same' | 'added' | 'removed';
export interface DiffLine {
  kind: DiffKind;
  text: string;
}
export interface Diff {
  lines: DiffLine[];
  added: number;
  removed: number;
  /** False when the changed part was too large to align line by line (it then shows as removed, then added). */
  exact: boolean;
}

/** Cells of the comparison table at most (4 bytes each): beyond this the diff is not aligned. */
const MAX_CELLS = 4_000_000;

/** A copy of a JSON value with every object's keys in sorted order. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
    return sorted;
  }
  return value;
}

/** A JSON value as canonical, pretty-printed text. */
export const canonicalJson = (value: unknown): string => JSON.stringify(sortKeys(value), null, 2) ?? 'null';

/**
 * The line diff that turns `before` into `after`: removed lines come before the added
 * lines that replace them. The common head and tail are matched first, so the quadratic
 * table only covers the part that changed.
 */
export function diffLines(before: string[], after: string[]): { lines: DiffLine[]; exact: boolean } {
  let head = 0;
  while (head < before.length && head < after.length && before[head] === after[head]) head++;
  let tail = 0;
  while (tail < before.length - head && tail < after.length - head && before[before.length - 1 - tail] === after[after.length - 1 - tail])
    tail++;
  const a = before.slice(head, before.length - tail);
  const b = after.slice(head, after.length - tail);
  const n = a.length;
  const m = b.length;
  const lines: DiffLine[] = before.slice(0, head).map((text) => ({ kind: 'same', text }));
  const end = before.slice(before.length - tail).map((text): DiffLine => ({ kind: 'same', text }));
  if ((n + 1) * (m + 1) > MAX_CELLS) {
    return {
      lines: [
        ...lines,
        ...a.map((text): DiffLine => ({ kind: 'removed', text })),
        ...b.map((text): DiffLine => ({ kind: 'added', text })),
        ...end,
      ],
      exact: false,
    };
  }
  // lcs[i * (m + 1) + j]: length of the longest common subsequence of a[i..] and b[j..].
  const lcs = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] =
        a[i] === b[j] ? lcs[(i + 1) * (m + 1) + j + 1]! + 1 : Math.max(lcs[(i + 1) * (m + 1) + j]!, lcs[i * (m + 1) + j + 1]!);
    }
  }
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      lines.push({ kind: 'same', text: a[i]! });
      i++;
      j++;
    } else if (j >= m || (i < n && lcs[(i + 1) * (m + 1) + j]! >= lcs[i * (m + 1) + j + 1]!)) {
      lines.push({ kind: 'removed', text: a[i++]! });
    } else {
      lines.push({ kind: 'added', text: b[j++]! });
    }
  }
  lines.push(...end);
  return { lines, exact: true };
}

/** The diff of two JSON values' canonical texts, with its counts. */
export function diffJson(before: unknown, after: unknown): Diff {
  const { lines, exact } = diffLines(canonicalJson(before).split('\n'), canonicalJson(after).split('\n'));
  return {
    lines,
    exact,
    added: lines.filter((l) => l.kind === 'added').length,
    removed: lines.filter((l) => l.kind === 'removed').length,
  };
}
