import type { GraphQLContext } from './context.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- until resolver types are generated from the schema
type ModuleResolver = (parent: any, args: Record<string, any>, context: GraphQLContext) => unknown;

/**
 * A feature's resolvers, for the SDL of its own file in core/graphql/schema/ (its types,
 * `extend type Query` / `extend type Mutation`). The resolver map is the base plus every
 * module listed in apiModules.ts, so a feature adds its operations in its own files.
 */
export interface ApiModule {
  resolvers: Record<string, Record<string, ModuleResolver>>;
}
