import type { ApiModule } from './apiModule.js';
import type { GraphQLContext } from './context.js';
import type { Schedule } from '../triggers/scheduleStore.js';
import { AppError } from '../errors.js';

/** Cron schedules in the API (README: Schedules). */
export const scheduleApi: ApiModule = {
  resolvers: {
    Query: {
      schedules: (_p, a, { request, services }) => services.schedules.list(request, a.workflowId ?? null),
      schedule: (_p, a, { request, services }) => services.schedules.get(request, a.id),
    },
    Mutation: {
      createSchedule: (_p, a, { request, services }) => services.schedules.create(request, a.input),
      updateSchedule: (_p, a, { request, services }) => {
        const { id, ...changes } = a.input as { id: string } & Record<string, unknown>;
        return services.schedules.update(request, id, changes);
      },
      pauseSchedule: (_p, a, { request, services }) => services.schedules.setPaused(request, a.id, true),
      resumeSchedule: (_p, a, { request, services }) => services.schedules.setPaused(request, a.id, false),
      deleteSchedule: (_p, a, { request, services }) => services.schedules.delete(request, a.id),
    },
    Workflow: {
      schedules: (w: { id: string }, _a, { request, services }) => services.schedules.list(request, w.id),
    },
    Schedule: {
      workflow: (s: Schedule, _a, { request, services }: GraphQLContext) => services.workflows.get(request, s.workflowId),
      nextFireTimes: (s: Schedule, a, { services }: GraphQLContext) => services.schedules.nextFireTimes(s, a.count),
      lastRun: async (s: Schedule, _a, { request, services }: GraphQLContext) => {
        if (!s.lastRunId) return null;
        try {
          return await services.runs.getRun(request, s.lastRunId);
        } catch (error) {
          // Removed since (a retention policy): the schedule still says when it last fired.
          if (error instanceof AppError && error.code === 'NOT_FOUND') return null;
          throw error;
        }
      },
    },
  },
};
