import test from 'ava';
import { encodeCursor, encodeSeqCursor, parsePage, parseSeqPage, toConnection, toSeqConnection } from '../../core/pagination.js';
import { newId } from '../../core/ids.js';

test('a page of a listing carries Relay PageInfo in full: start and end cursors, and whether pages lie before and after it', (t) => {
  const rows = Array.from({ length: 4 }, () => ({ id: newId() }));
  const first = toConnection(rows, parsePage(3, null));
  t.deepEqual(first.pageInfo, {
    hasNextPage: true,
    hasPreviousPage: false,
    startCursor: encodeCursor(rows[0]!.id),
    endCursor: encodeCursor(rows[2]!.id),
  });
  const next = toConnection(rows.slice(3), parsePage(3, first.pageInfo.endCursor));
  t.deepEqual(next.pageInfo, {
    hasNextPage: false,
    hasPreviousPage: true,
    startCursor: encodeCursor(rows[3]!.id),
    endCursor: encodeCursor(rows[3]!.id),
  });
  const empty = toConnection([], parsePage(3, first.pageInfo.endCursor));
  t.deepEqual(empty.pageInfo, { hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null });
});

test('a page of a log (run or audit events) carries the same PageInfo, by sequence number', (t) => {
  const events = [{ seq: 1 }, { seq: 2 }];
  const start = parseSeqPage(2, null);
  t.deepEqual(toSeqConnection(events, true, start.afterSeq).pageInfo, {
    hasNextPage: true,
    hasPreviousPage: false,
    startCursor: encodeSeqCursor(1),
    endCursor: encodeSeqCursor(2),
  });
  const later = parseSeqPage(2, encodeSeqCursor(2));
  t.is(later.afterSeq, 2);
  t.deepEqual(toSeqConnection([{ seq: 3 }], false, later.afterSeq).pageInfo, {
    hasNextPage: false,
    hasPreviousPage: true,
    startCursor: encodeSeqCursor(3),
    endCursor: encodeSeqCursor(3),
  });
});
