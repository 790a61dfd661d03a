import type { Database } from '../db/database.js';
import { AppError, badInput, notFound } from '../errors.js';
import { isId, newId } from '../ids.js';
import { recordAudit } from '../audit/audit.js';
import { authorize, can, tenantOf, type RequestContext } from '../auth/roles.js';
import { templateReferences } from '../workflows/templates.js';
import type { WorkflowService } from '../workflows/workflows.js';
import { nextSlots, parseSchedule, slotAfter, type CatchUp } from './cronSlots.js';
import { checkPinnedVersion, checkTriggerName, checkVersionNumber, nameConflict } from './triggerSettings.js';
import {
  countSchedules,
  deleteSchedule,
  insertSchedule,
  listSchedules,
  scheduleById,
  updateSchedule,
  type Schedule,
  type ScheduleSettings,
} from './scheduleStore.js';

/** What the API gives: any field may be absent or, as GraphQL allows, an explicit null. */
export type ScheduleInput = { [K in keyof ScheduleSettings]?: ScheduleSettings[K] | null } & {
  workflowId?: string | null;
  paused?: boolean | null;
};

const MAX_SCHEDULES_PER_TENANT = 1000;
const MAX_NEXT_FIRE_TIMES = 100;
const CATCH_UPS: readonly CatchUp[] = ['SKIP', 'BACKFILL'];
export const DEFAULT_BACKFILL_LIMIT = 10;

/** Cron schedules of workflows: their settings (the API). The ScheduleTicker fires them. */
export class ScheduleService {
  constructor(
    private readonly db: Database,
    private readonly workflows: WorkflowService,
    private readonly limits: { maxInputBytes: number },
  ) {}

  async list(ctx: RequestContext, workflowId: string | null): Promise<Schedule[]> {
    const tenantId = tenantOf(ctx.actor, 'workflow:read');
    if (workflowId !== null) await this.workflows.get(ctx, workflowId);
    return this.db.tx({ tenantId }, (q) => listSchedules(q, tenantId, workflowId));
  }

  async get(ctx: RequestContext, id: string): Promise<Schedule> {
    const tenantId = tenantOf(ctx.actor, 'workflow:read');
    const schedule = isId(id) ? await this.db.tx({ tenantId }, (q) => scheduleById(q, tenantId, id)) : undefined;
    if (!schedule) throw notFound('schedule', id);
    return schedule;
  }

  /** The slots the schedule fires at next, from now (none while paused). */
  nextFireTimes(schedule: Schedule, count: number | null | undefined): Date[] {
    const n = count ?? 5;
    if (!Number.isInteger(n) || n < 1 || n > MAX_NEXT_FIRE_TIMES) throw badInput('count', `must be from 1 to ${MAX_NEXT_FIRE_TIMES}`);
    if (schedule.paused) return [];
    const cron = parseSchedule(schedule.cron, schedule.timeZone);
    // The first is the stored next slot: one missed by downtime still shows until it is handled.
    return [schedule.nextFireAt, ...nextSlots(cron, schedule.nextFireAt, n - 1)];
  }

  async create(ctx: RequestContext, input: ScheduleInput): Promise<Schedule> {
    const tenantId = tenantOf(ctx.actor, 'workflow:write');
    if (typeof input.workflowId !== 'string') throw badInput('input.workflowId', 'is required');
    const workflow = await this.workflows.get(ctx, input.workflowId);
    const settings = this.checkSettings(input, null);
    await checkPinnedVersion(this.workflows, ctx, workflow.id, settings.version);
    const paused = input.paused ?? false;
    if (typeof paused !== 'boolean') throw badInput('input.paused', 'must be true or false');
    const id = newId();
    const nextFireAt = slotAfter(parseSchedule(settings.cron, settings.timeZone), new Date());
    try {
      return await this.db.tx({ tenantId }, async (q) => {
        if ((await countSchedules(q, tenantId)) >= MAX_SCHEDULES_PER_TENANT)
          throw new AppError('CONFLICT', `a tenant may have at most ${MAX_SCHEDULES_PER_TENANT} schedules`);
        const created = await insertSchedule(q, {
          id,
          tenantId,
          workflowId: workflow.id,
          settings,
          paused,
          nextFireAt,
          by: ctx.actor.tokenId,
        });
        await recordAudit(q, ctx, {
          action: 'schedule.created',
          targetType: 'schedule',
          targetId: id,
          details: { workflowId: workflow.id, ...audited(settings), paused },
        });
        return created;
      });
    } catch (error) {
      throw nameConflict(error, 'schedule') ?? error;
    }
  }

  /** Changes the given settings; a new cron or zone recomputes the next slot from now. */
  async update(ctx: RequestContext, id: string, input: ScheduleInput): Promise<Schedule> {
    tenantOf(ctx.actor, 'workflow:write');
    return this.change(
      ctx,
      id,
      'schedule.updated',
      (before) => {
        const settings = this.checkSettings(input, before);
        const rescheduled = settings.cron !== before.cron || settings.timeZone !== before.timeZone;
        return {
          ...settings,
          paused: before.paused,
          nextFireAt: rescheduled ? slotAfter(parseSchedule(settings.cron, settings.timeZone), new Date()) : before.nextFireAt,
        };
      },
      (settings, current) => checkPinnedVersion(this.workflows, ctx, current.workflowId, settings.version),
    );
  }

  /** Pausing is an operations act too: operators may pause and resume, not edit. */
  async setPaused(ctx: RequestContext, id: string, paused: boolean): Promise<Schedule> {
    if (!can(ctx.actor, 'workflow:write')) authorize(ctx.actor, 'run:operate');
    return this.change(ctx, id, paused ? 'schedule.paused' : 'schedule.resumed', (before) => ({
      ...before,
      paused,
      // Slots that passed while paused were not missed by downtime: resuming starts from now.
      nextFireAt: paused || !before.paused ? before.nextFireAt : slotAfter(parseSchedule(before.cron, before.timeZone), new Date()),
    }));
  }

  async delete(ctx: RequestContext, id: string): Promise<Schedule> {
    const tenantId = tenantOf(ctx.actor, 'workflow:write');
    if (!isId(id)) throw notFound('schedule', id);
    return this.db.tx({ tenantId }, async (q) => {
      const schedule = await scheduleById(q, tenantId, id, true);
      if (!schedule) throw notFound('schedule', id);
      await deleteSchedule(q, id);
      await recordAudit(q, ctx, {
        action: 'schedule.deleted',
        targetType: 'schedule',
        targetId: id,
        details: { workflowId: schedule.workflowId, name: schedule.name },
      });
      return schedule;
    });
  }

  private async change(
    ctx: RequestContext,
    id: string,
    action: string,
    next: (before: Schedule) => ScheduleSettings & { paused: boolean; nextFireAt: Date },
    check?: (settings: ScheduleSettings, current: Schedule) => Promise<void>,
  ): Promise<Schedule> {
    // Every role that may change a schedule may read it; the caller checked the change's own permission.
    const tenantId = tenantOf(ctx.actor, 'workflow:read');
    if (!isId(id)) throw notFound('schedule', id);
    const current = await this.db.tx({ tenantId }, (q) => scheduleById(q, tenantId, id));
    if (!current) throw notFound('schedule', id);
    if (check) await check(next(current), current);
    try {
      return await this.db.tx({ tenantId }, async (q) => {
        const before = await scheduleById(q, tenantId, id, true);
        if (!before) throw notFound('schedule', id);
        const after = next(before);
        const updated = await updateSchedule(q, id, after, ctx.actor.tokenId);
        await recordAudit(q, ctx, {
          action,
          targetType: 'schedule',
          targetId: id,
          details: { workflowId: before.workflowId, ...audited(after), paused: after.paused },
        });
        return updated;
      });
    } catch (error) {
      throw nameConflict(error, 'schedule') ?? error;
    }
  }

  private checkSettings(input: ScheduleInput, current: Schedule | null): ScheduleSettings {
    const name = checkTriggerName(input.name ?? current?.name);
    const cron = input.cron ?? current?.cron;
    const timeZone = input.timeZone ?? current?.timeZone;
    parseSchedule(cron, timeZone);
    const version = checkVersionNumber('version' in input ? (input.version ?? null) : (current?.version ?? null));
    const catchUp = input.catchUp ?? current?.catchUp ?? 'SKIP';
    if (!CATCH_UPS.includes(catchUp)) throw badInput('input.catchUp', 'must be SKIP or BACKFILL');
    const backfillLimit = input.backfillLimit ?? current?.backfillLimit ?? DEFAULT_BACKFILL_LIMIT;
    if (!Number.isInteger(backfillLimit) || backfillLimit < 1 || backfillLimit > 1000)
      throw badInput('input.backfillLimit', 'must be a whole number from 1 to 1000');
    const runInput = input.input !== undefined ? (input.input ?? {}) : (current?.input ?? {});
    const bytes = Buffer.byteLength(JSON.stringify(runInput) ?? '');
    if (bytes > this.limits.maxInputBytes)
      throw badInput('input.input', `run input is ${bytes} bytes; the limit is ${this.limits.maxInputBytes}`);
    for (const ref of templateReferences(runInput, 'input.input')) {
      if (ref.error !== undefined) throw badInput(ref.path, `invalid template: ${ref.error}`);
      if (ref.roots.some((root) => root !== 'schedule'))
        throw badInput(ref.path, "a schedule's input may read only schedule (id, name, slot, timeZone)");
    }
    return {
      name,
      cron: (cron as string).trim().split(/\s+/).join(' '),
      timeZone: timeZone as string,
      version,
      input: runInput,
      catchUp,
      backfillLimit,
    };
  }
}

function audited(s: ScheduleSettings): Record<string, unknown> {
  return { name: s.name, cron: s.cron, timeZone: s.timeZone, version: s.version, catchUp: s.catchUp, backfillLimit: s.backfillLimit };
}
