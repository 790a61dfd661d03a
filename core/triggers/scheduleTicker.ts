import type { Database } from '../db/database.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RunService } from '../runs/runs.js';
import { renderTemplate } from '../workflows/templates.js';
import { dueSlots, parseSchedule } from './cronSlots.js';
import { claimDueSchedules, enterTenant, recordTick, scheduleById, type Schedule } from './scheduleStore.js';

export interface ScheduleTickerOptions {
  tickMs: number;
  /** Schedules handled per tick by one process (the rest wait for the next tick or another process). */
  batch: number;
}

// Refusals that pass (the tenant's concurrency, the appliance's load): the slot is tried
// again next tick, until the catch-up rule counts it missed. Anything else skips the slot.
const TRANSIENT = new Set(['QUOTA_EXCEEDED', 'RATE_LIMITED', 'OVERLOADED']);

/**
 * Fires due schedules. Every engine process ticks; a tick claims due schedules with
 * FOR UPDATE SKIP LOCKED, so two processes never handle one schedule at once, and each
 * slot's run is started with the key schedule:<id>:<slot>, so a slot whose run was started
 * by a process that died before advancing the schedule returns the same run when fired again.
 */
export class ScheduleTicker {
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<unknown> | null = null;

  constructor(
    private readonly db: Database,
    private readonly runs: RunService,
    private readonly logger: Logger,
    private readonly options: ScheduleTickerOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.ticking) return;
      this.ticking = this.tick()
        .catch((error) => this.logger.warn({ err: error }, 'schedule tick failed'))
        .finally(() => {
          this.ticking = null;
        });
    }, this.options.tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
  }

  /** One tick: returns the runs it started (new ones, not repeats). */
  async tick(now = new Date()): Promise<number> {
    return this.db.tx('system', async (q) => {
      let started = 0;
      for (const { id, tenantId } of await claimDueSchedules(q, this.options.batch)) {
        await enterTenant(q, tenantId);
        const schedule = await scheduleById(q, tenantId, id);
        if (!schedule) continue;
        const result = await this.fire(schedule, now);
        started += result.started;
        await recordTick(q, id, result.tick);
      }
      return started;
    });
  }

  private async fire(schedule: Schedule, now: Date): Promise<{ started: number; tick: Parameters<typeof recordTick>[2] }> {
    const cron = parseSchedule(schedule.cron, schedule.timeZone);
    const due = dueSlots(cron, schedule.nextFireAt, now, schedule.catchUp, schedule.backfillLimit);
    let started = 0;
    let skipped = due.skipped;
    let lastFiredSlot: Date | null = null;
    let lastRunId: string | null = null;
    let lastError: Schedule['lastError'] | undefined;
    let nextFireAt = due.next;
    if (due.skipped > 0)
      this.logger.warn(
        { scheduleId: schedule.id, tenantId: schedule.tenantId, skipped: due.skipped, catchUp: schedule.catchUp },
        'schedule slots missed while no engine ran were skipped',
      );
    for (const slot of due.fire) {
      const slotIso = slot.toISOString();
      try {
        const input = renderTemplate(schedule.input, {
          schedule: { id: schedule.id, name: schedule.name, slot: slotIso, timeZone: schedule.timeZone },
        });
        const { run, created } = await this.runs.startTriggeredRun({
          tenantId: schedule.tenantId,
          workflowId: schedule.workflowId,
          version: schedule.version,
          input,
          idempotencyKey: `schedule:${schedule.id}:${slotIso}`,
          origin: { kind: 'SCHEDULE', scheduleId: schedule.id, slot: slotIso },
        });
        if (created) started++;
        lastFiredSlot = slot;
        lastRunId = run.id;
        lastError = null;
      } catch (error) {
        const code = error instanceof AppError ? error.code : 'INTERNAL';
        const message = error instanceof AppError ? error.message : 'the run could not be started';
        if (!(error instanceof AppError)) this.logger.error({ err: error, scheduleId: schedule.id }, 'schedule slot failed unexpectedly');
        lastError = { slot: slotIso, code, message, at: new Date().toISOString() };
        if (TRANSIENT.has(code)) {
          // This slot and the later ones wait for the next tick.
          nextFireAt = slot;
          this.logger.info({ scheduleId: schedule.id, slot: slotIso, code }, 'schedule slot refused for now; retried next tick');
          break;
        }
        skipped++;
        this.logger.warn({ scheduleId: schedule.id, slot: slotIso, code, message }, 'schedule slot could not start a run; skipped');
      }
    }
    return { started, tick: { nextFireAt, lastFiredSlot, lastRunId, skipped, lastError } };
  }
}
