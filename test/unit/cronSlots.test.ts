/**
 * Cron slots as instants in IANA zones, across DST transitions, and the catch-up rules
 * after downtime (no database: the pure slot arithmetic the ticker uses).
 */
import test from 'ava';
import { dueSlots, nextSlots, parseSchedule, slotAfter } from '../../core/triggers/cronSlots.js';
import { type AppError } from '../../core/errors.js';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());
const slotsBetween = (cron: string, zone: string, from: string, to: string) =>
  iso(nextSlots(parseSchedule(cron, zone), new Date(Date.parse(from) - 1), 200).filter((d) => d.getTime() < Date.parse(to)));

test('a zone schedule fires at local time, a UTC one at UTC: they differ by the offset', (t) => {
  t.deepEqual(iso(nextSlots(parseSchedule('0 9 * * *', 'UTC'), new Date('2026-06-01T00:00:00Z'), 2)), [
    '2026-06-01T09:00:00.000Z',
    '2026-06-02T09:00:00.000Z',
  ]);
  t.deepEqual(
    iso(nextSlots(parseSchedule('0 9 * * *', 'Europe/Berlin'), new Date('2026-06-01T00:00:00Z'), 1)),
    ['2026-06-01T07:00:00.000Z'],
    'CEST is UTC+2',
  );
  t.deepEqual(
    iso(nextSlots(parseSchedule('0 9 * * *', 'Europe/Berlin'), new Date('2026-12-01T00:00:00Z'), 1)),
    ['2026-12-01T08:00:00.000Z'],
    'CET is UTC+1',
  );
  t.deepEqual(
    iso(nextSlots(parseSchedule('0 9 * * 1-5', 'America/New_York'), new Date('2026-12-04T00:00:00Z'), 2)),
    ['2026-12-04T14:00:00.000Z', '2026-12-07T14:00:00.000Z'],
    'Friday, then Monday',
  );
});

test('spring forward: a local time inside the gap fires once, at the first instant after it', (t) => {
  // Europe/Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
  t.deepEqual(iso(nextSlots(parseSchedule('30 2 * * *', 'Europe/Berlin'), new Date('2026-03-27T12:00:00Z'), 4)), [
    '2026-03-28T01:30:00.000Z', // 02:30 CET
    '2026-03-29T01:00:00.000Z', // 03:00 CEST, the first instant after the gap
    '2026-03-30T00:30:00.000Z', // 02:30 CEST
    '2026-03-31T00:30:00.000Z',
  ]);
  // America/New_York, 2026-03-08: 02:00 EST jumps to 03:00 EDT.
  t.deepEqual(iso(nextSlots(parseSchedule('30 2 * * *', 'America/New_York'), new Date('2026-03-07T12:00:00Z'), 3)), [
    '2026-03-08T07:00:00.000Z', // 03:00 EDT
    '2026-03-09T06:30:00.000Z',
    '2026-03-10T06:30:00.000Z',
  ]);
});

test('fall back: a local time that happens twice fires once, at its first occurrence', (t) => {
  // Europe/Berlin, 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
  t.deepEqual(iso(nextSlots(parseSchedule('30 2 * * *', 'Europe/Berlin'), new Date('2026-10-23T12:00:00Z'), 3)), [
    '2026-10-24T00:30:00.000Z',
    '2026-10-25T00:30:00.000Z', // 02:30 CEST, not again at 02:30 CET (01:30Z)
    '2026-10-26T01:30:00.000Z',
  ]);
});

test('an hourly schedule has 23 slots on the spring-forward day and 25 on the fall-back day', (t) => {
  // Local midnight to midnight in Berlin.
  t.is(slotsBetween('0 * * * *', 'Europe/Berlin', '2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z').length, 23);
  const fallBack = slotsBetween('0 * * * *', 'Europe/Berlin', '2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z');
  t.is(fallBack.length, 25);
  t.true(
    fallBack.includes('2026-10-25T00:00:00.000Z') && fallBack.includes('2026-10-25T01:00:00.000Z'),
    '02:00 CEST and 02:00 CET are both hours of that day',
  );
  t.is(slotsBetween('0 * * * *', 'UTC', '2026-10-25T00:00:00Z', '2026-10-26T00:00:00Z').length, 24);
});

test('after downtime, SKIP fires only what is on time; BACKFILL the latest slots up to its limit, oldest first', (t) => {
  const cron = parseSchedule('*/5 * * * *', 'UTC');
  const from = new Date('2026-12-01T10:00:00Z');
  const now = new Date('2026-12-01T11:00:30Z'); // 13 slots due: 10:00 .. 11:00
  const skip = dueSlots(cron, from, now, 'SKIP', 10);
  t.deepEqual(iso(skip.fire), ['2026-12-01T11:00:00.000Z'], 'the 11:00 slot is 30 s late: on time');
  t.is(skip.skipped, 12);
  t.is(skip.next.toISOString(), '2026-12-01T11:05:00.000Z');
  const backfill = dueSlots(cron, from, now, 'BACKFILL', 3);
  t.deepEqual(iso(backfill.fire), ['2026-12-01T10:50:00.000Z', '2026-12-01T10:55:00.000Z', '2026-12-01T11:00:00.000Z']);
  t.is(backfill.skipped, 10);
  const all = dueSlots(cron, from, now, 'BACKFILL', 1000);
  t.is(all.fire.length, 13);
  t.is(all.skipped, 0);
  const quiet = dueSlots(cron, new Date('2026-12-01T11:05:00Z'), now, 'SKIP', 10);
  t.deepEqual(quiet.fire, [], 'nothing due yet');
  t.is(quiet.next.toISOString(), '2026-12-01T11:05:00.000Z');
});

test('a very long downtime is counted, not listed', (t) => {
  const cron = parseSchedule('* * * * *', 'UTC');
  const due = dueSlots(cron, new Date('2026-01-01T00:00:00Z'), new Date('2026-04-15T00:00:00Z'), 'BACKFILL', 5);
  t.is(due.fire.length, 5);
  t.is(due.fire.at(-1)!.toISOString(), '2026-04-15T00:00:00.000Z');
  t.is(due.skipped + due.fire.length, 104 * 24 * 60 + 1);
});

test('five fields and a real zone are required, each refusal naming its field', (t) => {
  const refusal = (cron: unknown, zone: unknown) => {
    const error = t.throws(() => parseSchedule(cron, zone)) as AppError;
    return error.path;
  };
  t.is(refusal('0 0 * * * *', 'UTC'), 'input.cron', 'six fields (seconds) are refused');
  t.is(refusal('0 0 * *', 'UTC'), 'input.cron');
  t.is(refusal('61 * * * *', 'UTC'), 'input.cron');
  t.is(refusal('0 0 30 2 *', 'UTC'), 'input.cron', 'a date that never comes');
  t.is(refusal('* * * * *', 'Mars/Olympus'), 'input.timeZone');
  t.is(refusal('* * * * *', ''), 'input.timeZone');
  t.is(refusal(42, 'UTC'), 'input.cron');
  t.is(
    slotAfter(parseSchedule('0 12 * * MON', 'Asia/Kolkata'), new Date('2026-12-02T00:00:00Z')).toISOString(),
    '2026-12-07T06:30:00.000Z',
    'names and half-hour zones',
  );
});
