import type { ApiModule } from './apiModule.js';
import type { GraphQLContext } from './context.js';
import type { Schedule } from '../triggers/scheduleStore.js';
import { AppError } from '../errors.js';

/** Cron schedules in the API (README: Schedules). */
export const scheduleApi: ApiModule = {
  typeDefs: /* GraphQL */ `
    enum ScheduleCatchUp {
      SKIP
      BACKFILL
    }
    type Schedule {
      id: ID!
      name: String!
      workflow: Workflow!
      "Five fields: minute hour day-of-month month day-of-week."
      cron: String!
      "IANA time zone the cron expression is read in."
      timeZone: String!
      "Null: the workflow's latest version when the slot fires."
      version: Int
      "The run input; templates may read schedule.id, schedule.name, schedule.slot and schedule.timeZone."
      input: JSON
      paused: Boolean!
      "After downtime: SKIP fires none of the missed slots, BACKFILL the latest backfillLimit of them."
      catchUp: ScheduleCatchUp!
      backfillLimit: Int!
      "The next slot to fire (a missed one stays here until an engine handles it)."
      nextFireAt: DateTime!
      "The next slots, from nextFireAt (1 to 100; none while paused)."
      nextFireTimes(count: Int): [DateTime!]!
      lastFiredSlot: DateTime
      lastRun: Run
      "Slots that will never fire: missed by downtime beyond the catch-up rule, or refused for good."
      skippedSlots: Int!
      "The last slot that could not start a run: { slot, code, message, at }; null once a later slot fired."
      lastError: JSON
      createdAt: DateTime!
      updatedAt: DateTime!
    }
    input CreateScheduleInput {
      workflowId: ID!
      name: String!
      cron: String!
      timeZone: String!
      version: Int
      input: JSON
      paused: Boolean
      catchUp: ScheduleCatchUp
      backfillLimit: Int
    }
    "Omitted fields are unchanged; version null follows the latest. A new cron or time zone starts from the next slot after now."
    input UpdateScheduleInput {
      id: ID!
      name: String
      cron: String
      timeZone: String
      version: Int
      input: JSON
      catchUp: ScheduleCatchUp
      backfillLimit: Int
    }
    extend type Workflow {
      schedules: [Schedule!]!
    }
    extend type Query {
      "Addition. The tenant's schedules, of one workflow when given."
      schedules(workflowId: ID): [Schedule!]!
      schedule(id: ID!): Schedule
    }
    extend type Mutation {
      "Addition. ADMIN, EDITOR."
      createSchedule(input: CreateScheduleInput!): Schedule!
      "Addition. ADMIN, EDITOR."
      updateSchedule(input: UpdateScheduleInput!): Schedule!
      "Addition. ADMIN, EDITOR, OPERATOR."
      pauseSchedule(id: ID!): Schedule!
      "Addition. ADMIN, EDITOR, OPERATOR. Slots that passed while paused are not fired."
      resumeSchedule(id: ID!): Schedule!
      "Addition. ADMIN, EDITOR."
      deleteSchedule(id: ID!): Schedule!
    }
  `,
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
