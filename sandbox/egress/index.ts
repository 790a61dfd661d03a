/** The egress layer: HTTP requests performed by the host on behalf of sandboxed plugins. */
export * from './types.js';
export { createEgressSession, MAX_REDIRECTS, type EgressSessionOptions } from './session.js';
export type { Resolver, ResolvedAddress } from './resolve.js';
