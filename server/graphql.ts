import { createSchema, createYoga, type YogaServerInstance } from 'graphql-yoga';
import { GraphQLError } from 'graphql';
import { AppError } from '../core/errors.js';
import { AuthError } from '../core/auth/tokens.js';
import { typeDefs } from '../core/graphql/schema.js';
import { resolvers, type GraphQLContext, type Services } from '../core/graphql/resolvers.js';
import type { Logger } from '../core/logger.js';

/** What the HTTP layer passes into each GraphQL request. */
export interface TransportContext {
  requestId: string;
  sourceAddress: string;
  userAgent: string | undefined;
}

const HTTP_STATUS: Record<string, number> = { UNAUTHENTICATED: 401, RATE_LIMITED: 429, OVERLOADED: 503 };

/**
 * The one place typed errors become GraphQL errors: AppErrors keep their code, message
 * and client-safe details; GraphQL's own parse and validation errors are the client's
 * fault (BAD_USER_INPUT); everything else is INTERNAL with no message, stack or SQL.
 */
export function toGraphQLError(error: unknown, logger: Logger, requestId: string): GraphQLError {
  const original = error instanceof GraphQLError ? (error.originalError ?? undefined) : error;
  if (original instanceof AppError) {
    const status = HTTP_STATUS[original.code];
    return new GraphQLError(original.message, {
      ...(error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {}),
      extensions: {
        code: original.code,
        ...(original.path ? { inputPath: original.path } : {}),
        ...(original.details ?? {}),
        ...(status ? { http: { status } } : {}),
      },
    });
  }
  if (error instanceof GraphQLError && original === undefined) {
    const code = typeof error.extensions?.['code'] === 'string' && error.extensions['code'] !== 'GRAPHQL_VALIDATION_FAILED' && error.extensions['code'] !== 'GRAPHQL_PARSE_FAILED'
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

const CONTRACT_CODES = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'QUOTA_EXCEEDED', 'RATE_LIMITED', 'OVERLOADED', 'CONFLICT', 'INTERNAL']);

/**
 * Yoga answers malformed requests (bad JSON, unparsable or invalid documents) before
 * execution and without maskError; this brings those errors to the contract's codes
 * and drops the `originalError` detail it attaches.
 */
function normaliseErrors(result: unknown): unknown {
  const errors = (result as { errors?: { extensions?: Record<string, unknown> }[] } | null)?.errors;
  if (!Array.isArray(errors)) return result;
  for (const error of errors) {
    const extensions = (error.extensions ??= {});
    delete extensions['originalError'];
    const code = extensions['code'];
    if (typeof code !== 'string' || !CONTRACT_CODES.has(code)) extensions['code'] = 'BAD_USER_INPUT';
  }
  return result;
}

export function createGraphQL(services: Services, logger: Logger): YogaServerInstance<TransportContext, GraphQLContext> {
  return createYoga<TransportContext, GraphQLContext>({
    schema: createSchema<TransportContext & GraphQLContext>({ typeDefs, resolvers: resolvers as never }),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: false,
    logging: false,
    // Batched operations are refused until batching limits exist (see GraphQL hardening).
    batching: false,
    plugins: [
      {
        onResultProcess({ result, setResult }) {
          if (Array.isArray(result)) setResult(result.map(normaliseErrors) as typeof result);
          else if (!(Symbol.asyncIterator in (result as object))) setResult(normaliseErrors(result) as typeof result);
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
        const { actor } = await services.tokens.authenticate(match?.[1]);
        return { request: { actor, requestId, sourceAddress, ...(userAgent ? { userAgent } : {}) }, services };
      } catch (error) {
        if (error instanceof AuthError) {
          logger.info({ requestId, reason: error.reason, prefix: error.prefix, sourceAddress }, 'authentication failed');
        }
        throw error;
      }
    },
  });
}
