import { AppError } from './errors.js';
import { isId } from './ids.js';

export interface Page {
  /** Rows to return. */
  limit: number;
  /** Return rows strictly after this id in the listing order (ids are time-ordered). */
  afterId: string | null;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  nodes: T[];
  pageInfo: PageInfo;
}

/**
 * Relay's PageInfo. Pages go forward only (first/after), so `hasPreviousPage` says whether
 * this page started after a cursor: the item the cursor named, at least, came before it.
 */
export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

const PREFIX = 'c1:';

export function encodeCursor(id: string): string {
  return Buffer.from(PREFIX + id).toString('base64url');
}

/** Validates `first` and `after` from a Relay-style connection argument list. */
export function parsePage(first: number | null | undefined, after: string | null | undefined): Page {
  if (first !== null && first !== undefined && (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE)) {
    throw new AppError('BAD_USER_INPUT', `first: must be between 1 and ${MAX_PAGE_SIZE}, got ${first}`, { path: 'first' });
  }
  let afterId: string | null = null;
  if (after) {
    const decoded = Buffer.from(after, 'base64url').toString('utf8');
    afterId = decoded.startsWith(PREFIX) ? decoded.slice(PREFIX.length) : '';
    if (!isId(afterId)) throw new AppError('BAD_USER_INPUT', 'after: not a cursor returned by this API', { path: 'after' });
  }
  return { limit: first ?? DEFAULT_PAGE_SIZE, afterId };
}

/** Builds a connection from up to `limit + 1` rows fetched in listing order. */
export function toConnection<T extends { id: string }>(rows: T[], page: Page): Connection<T> {
  const nodes = rows.slice(0, page.limit);
  const edges = nodes.map((node) => ({ cursor: encodeCursor(node.id), node }));
  return {
    edges,
    nodes,
    pageInfo: {
      hasNextPage: rows.length > page.limit,
      hasPreviousPage: page.afterId !== null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
  };
}

const SEQ_PREFIX = 's1:';

/** Cursors over sequence-numbered logs (run events, audit events). */
export function encodeSeqCursor(seq: number): string {
  return Buffer.from(SEQ_PREFIX + seq).toString('base64url');
}

export function parseSeqPage(first: number | null | undefined, after: string | null | undefined): { limit: number; afterSeq: number } {
  const { limit } = parsePage(first, null);
  if (!after) return { limit, afterSeq: 0 };
  const decoded = Buffer.from(after, 'base64url').toString('utf8');
  const seq = decoded.startsWith(SEQ_PREFIX) ? Number(decoded.slice(SEQ_PREFIX.length)) : NaN;
  if (!Number.isSafeInteger(seq) || seq < 0)
    throw new AppError('BAD_USER_INPUT', 'after: not a cursor returned by this API', { path: 'after' });
  return { limit, afterSeq: seq };
}

/** A page of a log; `afterSeq` is where the page started (0: at the beginning). */
export function toSeqConnection<T extends { seq: number }>(nodes: T[], hasNextPage: boolean, afterSeq: number): Connection<T> {
  const edges = nodes.map((node) => ({ cursor: encodeSeqCursor(node.seq), node }));
  return {
    edges,
    nodes,
    pageInfo: {
      hasNextPage,
      hasPreviousPage: afterSeq > 0,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
  };
}
