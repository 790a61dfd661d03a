import { Cron } from 'croner';
import { badInput } from '../errors.js';

/**
 * Cron slots as absolute instants. croner evaluates the expression in the IANA zone:
 * a local time that does not exist (the spring-forward gap) fires at the first instant
 * after the gap; a local time that happens twice (fall back) fires once, at its first
 * occurrence. Slots are stored and compared as instants, so DST is decided once.
 */
export type CatchUp = 'SKIP' | 'BACKFILL';

/** A slot due longer ago than this was missed (downtime), not merely noticed a tick late. */
export const ON_TIME_GRACE_MS = 60_000;
// Missed slots listed one by one at most (croner takes about 0.1 ms a slot); past this the
// downtime's slots are counted from their rate and only the latest are listed.
const MAX_DUE_SCAN = 1000;

const FIELD = /^[A-Za-z0-9*?/,#L-]+$/;

/** A parsed five-field expression in a zone; throws BAD_USER_INPUT naming the field. */
export function parseSchedule(cron: unknown, timeZone: unknown): Cron {
  if (typeof timeZone !== 'string' || !isTimeZone(timeZone)) {
    throw badInput('input.timeZone', `${JSON.stringify(timeZone)} is not an IANA time zone (like Europe/Berlin, America/New_York or UTC)`);
  }
  const fields = typeof cron === 'string' ? cron.trim().split(/\s+/) : [];
  if (fields.length !== 5 || !fields.every((f) => FIELD.test(f))) {
    throw badInput('input.cron', 'must be a five-field cron expression: minute hour day-of-month month day-of-week (like "30 2 * * 1-5")');
  }
  try {
    // mode 5-part: seconds are 0 and years any; day-of-month and day-of-week OR-ed, as cron(8) does.
    const parsed = new Cron(fields.join(' '), { timezone: timeZone, paused: true, mode: '5-part', domAndDow: false });
    if (!parsed.nextRun()) throw new Error('it never fires');
    return parsed;
  } catch (error) {
    throw badInput('input.cron', `is not a valid cron expression: ${(error as Error).message.replace(/^CronPattern: /, '')}`);
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone.length <= 64;
  } catch {
    return false;
  }
}

/** The first slot strictly after `after`. */
export function slotAfter(cron: Cron, after: Date): Date {
  const next = cron.nextRun(after);
  if (!next) throw new Error(`cron ${cron.getPattern()} has no slot after ${after.toISOString()}`);
  return next;
}

export function nextSlots(cron: Cron, after: Date, count: number): Date[] {
  return cron.nextRuns(count, after);
}

export interface DueSlots {
  /** Slots to fire now, oldest first. */
  fire: Date[];
  /** Missed slots that will never fire. */
  skipped: number;
  /** The first slot after `now`: the schedule's next next_fire_at. */
  next: Date;
}

/**
 * Which of the slots from `nextFireAt` up to `now` fire. On time (within the grace) they
 * always do. After downtime, SKIP fires none of the missed ones; BACKFILL fires the latest
 * `backfillLimit` of all due slots, oldest first, and skips the older ones. Past 1000 missed
 * slots, `skipped` is estimated from the rate of the first 1000 (exact for regular expressions).
 */
export function dueSlots(cron: Cron, nextFireAt: Date, now: Date, catchUp: CatchUp, backfillLimit: number): DueSlots {
  let due: Date[] = [];
  let slot: Date | null = nextFireAt;
  while (slot && slot.getTime() <= now.getTime() && due.length < MAX_DUE_SCAN) {
    due.push(slot);
    slot = cron.nextRun(slot);
  }
  let total = due.length;
  if (slot && slot.getTime() <= now.getTime()) {
    // A long downtime: the latest slots (newest first from croner), and the rest counted at the rate of those scanned.
    const first = due[0]!.getTime();
    const scannedSpan = slot.getTime() - first;
    total = MAX_DUE_SCAN + Math.round(((now.getTime() - slot.getTime()) * MAX_DUE_SCAN) / scannedSpan) + 1;
    due = cron
      .previousRuns(Math.max(backfillLimit, 2), new Date(now.getTime() + 1))
      .filter((d) => d.getTime() >= first)
      .reverse();
  }
  const next = slotAfter(cron, now);
  const fire = catchUp === 'SKIP' ? due.filter((s) => now.getTime() - s.getTime() <= ON_TIME_GRACE_MS) : due.slice(-backfillLimit);
  return { fire, skipped: Math.max(0, total - fire.length), next };
}
