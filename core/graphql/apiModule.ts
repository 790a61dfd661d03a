import type { Resolvers } from './generated/resolverTypes.js';

/**
 * A feature's resolvers, for the SDL of its own file in core/graphql/schema/ (its types,
 * `extend type Query` / `extend type Mutation`). The resolver map is the base plus every
 * module listed in apiModules.ts, so a feature adds its operations in its own files.
 */
export interface ApiModule {
  resolvers: Resolvers;
}
