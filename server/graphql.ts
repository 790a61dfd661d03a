import fs from 'node:fs';
import { createSchema, createYoga, type YogaServerInstance } from 'graphql-yoga';
import { GraphQLError } from 'graphql';
import { AppError } from '../core/errors.js';
import { AuthError } from '../core/auth/tokens.js';
import { schemaTypeDefs } from '../core/graphql/schema.js';
import { resolvers } from '../core/graphql/resolvers.js';
import type { GraphQLContext, Services } from '../core/graphql/context.js';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { KeyedTokenBuckets } from '../core/rateLimit/keyedTokenBuckets.js';
import { hardeningPlugins, type GraphQLLimits } from './graphqlHardening.js';
import { readPersistedOperations, type PersistedOperations } from './persistedOperations.js';
import { CONSOLE_OPERATIONS_FILE } from './adminUi.js';

/** What the HTTP layer passes into each GraphQL request. */
export interface TransportContext {
  requestId: string;
  sourceAddress: string;
  userAgent: string | undefined;
}

/** What the composition root decides about the GraphQL endpoint (from the configuration). */
export interface GraphQLOptions {
  /** `production`: no "Did you mean" suggestions in errors. */
  environment: 'production' | 'development';
  /** `on`: introspection for authenticated tokens (the context refuses the others); `off`: for nobody. */
  introspection: 'on' | 'off';
  limits: GraphQLLimits & {
    /** Most operations in one batched request. */
    maxBatch: number;
  };
  /** When set, only these operations (and the console's) are served. */
  persistedOperations: PersistedOperations | null;
  /** The admin console's operations, served by hash in every mode (empty when the console is not built). */
  consoleOperations: PersistedOperations;
  /** Per API token: sustained operations per second and how many may come at once. */
  rateLimit: { ratePerSecond: number; burst: number };
  /** Told the code of every error the API answers with (for the refusal metrics). */
  onErrorCode?: (code: string) => void;
}

/** The GraphQL options of a configuration; reads the persisted-operations file when one is set. */
export function graphqlOptions(config: Config): GraphQLOptions {
  return {
    environment: config.environment,
    introspection: config.graphqlIntrospection,
    limits: {
      maxDepth: config.graphqlMaxDepth,
      maxCost: config.graphqlMaxCost,
      maxAliases: config.graphqlMaxAliases,
      maxDirectives: config.graphqlMaxDirectives,
      maxTokens: config.graphqlMaxTokens,
      maxBatch: config.graphqlMaxBatch,
    },
    persistedOperations: config.persistedOperationsFile ? readPersistedOperations(config.persistedOperationsFile) : null,
    consoleOperations: fs.existsSync(CONSOLE_OPERATIONS_FILE)
      ? readPersistedOperations(CONSOLE_OPERATIONS_FILE, "the admin console's operations")
      : new Map(),
    rateLimit: { ratePerSecond: config.apiRateLimitPerSecond, burst: config.apiRateLimitBurst },
  };
}

const HTTP_STATUS: Record<string, number> = { UNAUTHENTICATED: 401, RATE_LIMITED: 429, OVERLOADED: 503 };

/** yoga copies `extensions.http` into the response (status, headers) and leaves it out of the body. */
function httpExtension(error: AppError): { http: { status?: number; headers?: Record<string, string> } } | Record<string, never> {
  const status = HTTP_STATUS[error.code];
  const retryAfter = error.details?.['retryAfterSeconds'];
  const headers = typeof retryAfter === 'number' ? { 'retry-after': String(Math.max(1, Math.ceil(retryAfter))) } : undefined;
  if (!status && !headers) return {};
  return { http: { ...(status ? { status } : {}), ...(headers ? { headers } : {}) } };
}

/**
 * The one place typed errors become GraphQL errors: AppErrors keep their code, message
 * and client-safe details; GraphQL's own parse and validation errors are the client's
 * fault (BAD_USER_INPUT); everything else is INTERNAL with no message, stack or SQL.
 */
export function toGraphQLError(error: unknown, logger: Logger, requestId: string): GraphQLError {
  const original = error instanceof GraphQLError ? (error.originalError ?? undefined) : error;
  if (original instanceof AppError) {
    return new GraphQLError(original.message, {
      ...(error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {}),
      extensions: {
        code: original.code,
        ...(original.path ? { inputPath: original.path } : {}),
        ...(original.details ?? {}),
        ...httpExtension(original),
      },
    });
  }
  if (error instanceof GraphQLError && original === undefined) {
    const code =
      typeof error.extensions?.['code'] === 'string' &&
      error.extensions['code'] !== 'GRAPHQL_VALIDATION_FAILED' &&
      error.extensions['code'] !== 'GRAPHQL_PARSE_FAILED'
        ? (error.extensions['code'] as string)
        : 'BAD_USER_INPUT';
    return new GraphQLError(error.message, { nodes: error.nodes, path: error.path, extensions: { ...error.extensions, code } });
  }
  if (error instanceof GraphQLError && original instanceof GraphQLError) return toGraphQLError(original, logger, requestId);
  logger.error({ err: original, requestId }, 'unexpected error while serving GraphQL');
  return new GraphQLError('Internal server error', {
    ...(error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {}),
    extensions: { code: 'INTERNAL', requestId },
  });
}

/**
 * graphql-js ends a message with " Did you mean ...?" when it can guess a name, which maps
 * the schema for a client that has no introspection. graphql-js 16.15's `hideSuggestions`
 * option is not enough: yoga's executor coerces variables without passing it on (enum
 * values, input fields), and graphql-armor's rewrite sees validation errors only. So it is
 * cut here, where every error passes on its way to the client. No regular expression:
 * messages echo client input, and a backtracking pattern over them is a denial of service.
 */
function withoutSuggestion(message: string): string {
  const at = message.lastIndexOf(' Did you mean ');
  return at >= 0 && message.endsWith('?') ? message.slice(0, at) : message;
}

const CONTRACT_CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'QUOTA_EXCEEDED',
  'RATE_LIMITED',
  'OVERLOADED',
  'CONFLICT',
  'INTERNAL',
]);

/**
 * Yoga answers malformed requests (bad JSON, unparsable or invalid documents) before
 * execution and without maskError; this brings those errors to the contract's codes
 * and drops the `originalError` detail it attaches.
 */
function normaliseErrors(result: unknown, hideSuggestions: boolean, onErrorCode?: (code: string) => void): unknown {
  const errors = (result as { errors?: { message: string; extensions?: Record<string, unknown> }[] } | null)?.errors;
  if (!Array.isArray(errors)) return result;
  for (const error of errors) {
    if (hideSuggestions) error.message = withoutSuggestion(error.message);
    const extensions = (error.extensions ??= {});
    delete extensions['originalError'];
    const code = extensions['code'];
    if (typeof code !== 'string' || !CONTRACT_CODES.has(code)) extensions['code'] = 'BAD_USER_INPUT';
    onErrorCode?.(extensions['code'] as string);
  }
  return result;
}

export function createGraphQL(
  services: Services,
  logger: Logger,
  options: GraphQLOptions,
): YogaServerInstance<TransportContext, GraphQLContext> {
  const { ratePerSecond, burst } = options.rateLimit;
  const rateLimits = new KeyedTokenBuckets({ ratePerSecond, burst });
  const hideSuggestions = options.environment === 'production';
  return createYoga<TransportContext, GraphQLContext>({
    schema: createSchema<TransportContext & GraphQLContext>({ typeDefs: schemaTypeDefs(), resolvers: resolvers as never }),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: false,
    logging: false,
    // More operations than the limit are refused whole before any runs (HTTP 413).
    batching: { limit: options.limits.maxBatch },
    plugins: [
      ...hardeningPlugins(options),
      {
        onResultProcess({ result, setResult }) {
          if (Array.isArray(result))
            setResult(result.map((one) => normaliseErrors(one, hideSuggestions, options.onErrorCode)) as typeof result);
          else if (!(Symbol.asyncIterator in (result as object)))
            setResult(normaliseErrors(result, hideSuggestions, options.onErrorCode) as typeof result);
        },
      },
    ],
    maskedErrors: {
      maskError: (error, _message, isDev) => {
        void isDev;
        return toGraphQLError(error, logger, 'unknown');
      },
    },
    context: async ({ request, requestId, sourceAddress, userAgent }): Promise<GraphQLContext> => {
      const header = request.headers.get('authorization') ?? '';
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      try {
        const { actor } = await services.tokens.signIn(match?.[1], { requestId, sourceAddress, ...(userAgent ? { userAgent } : {}) });
        // Each operation counts, so a batch of n costs n.
        const taken = rateLimits.take(actor.tokenId);
        if (!taken.allowed) {
          logger.debug({ requestId, tokenId: actor.tokenId, retryAfterSeconds: taken.retryAfterSeconds }, 'API rate limit reached');
          throw new AppError(
            'RATE_LIMITED',
            `this token's API rate limit of ${ratePerSecond} requests per second (burst ${burst}) is reached; retry after ${taken.retryAfterSeconds} s`,
            {
              details: { retryAfterSeconds: taken.retryAfterSeconds },
            },
          );
        }
        return { request: { actor, requestId, sourceAddress, ...(userAgent ? { userAgent } : {}) }, services, signal: request.signal };
      } catch (error) {
        if (error instanceof AuthError) {
          logger.info({ requestId, reason: error.reason, prefix: error.prefix, sourceAddress }, 'authentication failed');
        }
        throw error;
      }
    },
  });
}
