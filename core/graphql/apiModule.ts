import type { GraphQLContext } from './context.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- until resolver types are generated from the schema
type ModuleResolver = (parent: any, args: Record<string, any>, context: GraphQLContext) => unknown;

/**
 * A feature's part of the API: its SDL (`extend type Query` / `extend type Mutation` and
 * its own types) and the resolvers for them. The schema and the resolver map are the base
 * plus every module listed in apiModules.ts, so a feature adds its operations in its own file.
 */
export interface ApiModule {
  typeDefs: string;
  resolvers: Record<string, Record<string, ModuleResolver>>;
}
