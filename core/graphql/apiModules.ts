import type { GraphQLContext } from './resolvers.js';
import { webhookApi } from './webhookApi.js';
import { scheduleApi } from './scheduleApi.js';

type ModuleResolver = (parent: any, args: Record<string, any>, context: GraphQLContext) => unknown;

/**
 * A feature's part of the API: its SDL (`extend type Query` / `extend type Mutation` and
 * its own types) and the resolvers for them. The schema and the resolver map are the base
 * plus every module listed here, so a feature adds its operations in its own file.
 */
export interface ApiModule {
  typeDefs: string;
  resolvers: Record<string, Record<string, ModuleResolver>>;
}

export const API_MODULES: readonly ApiModule[] = [webhookApi, scheduleApi];
