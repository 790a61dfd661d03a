import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { GraphQLError, NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { AppError } from '../core/errors.js';
import type { PersistedOperations } from './persistedOperations.js';

/** Limits on one GraphQL document, checked before anything executes. */
export interface GraphQLLimits {
  maxDepth: number;
  maxCost: number;
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
}

export interface HardeningOptions {
  /**
   * `off` refuses introspection to everyone. `on` needs no rule here: every operation,
   * introspection included, executes only after the context has authenticated its token.
   */
  introspection: 'on' | 'off';
  limits: GraphQLLimits;
  /** When set, only these operations (and the console's) are served. */
  persistedOperations: PersistedOperations | null;
  /**
   * The admin console's own operations, which it sends by hash alone: served in every
   * mode, so the console works whether or not the API is restricted to persisted operations.
   */
  consoleOperations: PersistedOperations;
}

/**
 * graphql-armor's messages start with "Syntax Error: " whatever the limit; a client
 * reads "Query depth limit of 12 exceeded, found 100." better without it. Throwing here
 * (rather than reporting) stops the parse or the validation walk at once, so the rest of
 * an abusive document is never looked at.
 */
const refuse = (_context: unknown, error: GraphQLError): never => {
  throw new GraphQLError(error.message.replace(/^Syntax Error: /, ''), { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
};

const rejection = { propagateOnRejection: false, onReject: [refuse], exposeLimits: true };

/** The yoga plugins that refuse abusive or unlisted documents before execution. */
export function hardeningPlugins(options: HardeningOptions): Plugin[] {
  const { limits } = options;
  // graphql-armor's plugins, one package each so the order is ours: the token limit bounds
  // the parse; then depth before cost, because a deep document's cost is astronomical and
  // "depth limit of 12 exceeded, found 100" says what to change.
  const plugins: Plugin[] = [
    maxTokensPlugin({ n: limits.maxTokens, ...rejection }),
    maxDepthPlugin({ n: limits.maxDepth, ...rejection }),
    maxAliasesPlugin({ n: limits.maxAliases, ...rejection }),
    maxDirectivesPlugin({ n: limits.maxDirectives, ...rejection }),
    costLimitPlugin({ maxCost: limits.maxCost, ...rejection }),
  ];
  if (options.introspection === 'off') {
    plugins.push({ onValidate: ({ addValidationRule }) => addValidationRule(NoSchemaIntrospectionCustomRule) });
  }
  const persisted = options.persistedOperations;
  const consoleOperations = options.consoleOperations;
  if (persisted || consoleOperations.size > 0) {
    plugins.push(
      usePersistedOperations({
        getPersistedOperation: (hash) => persisted?.get(hash) ?? consoleOperations.get(hash) ?? null,
        // Documents sent as text are served unless the administrator restricted the API.
        allowArbitraryOperations: persisted === null,
        customErrors: {
          persistedQueryOnly: () =>
            new AppError(
              'BAD_USER_INPUT',
              'this appliance serves persisted operations only: send extensions.persistedQuery { version: 1, sha256Hash } without a query',
            ),
          keyNotFound: () =>
            new AppError(
              'BAD_USER_INPUT',
              'this appliance serves persisted operations only: extensions.persistedQuery { version: 1, sha256Hash } is required',
            ),
          notFound: (payload) =>
            new AppError('BAD_USER_INPUT', `unknown persisted operation ${JSON.stringify(hashOf(payload.params.extensions))}`),
        },
      }),
    );
  }
  return plugins;
}

function hashOf(extensions: Record<string, unknown> | undefined): string {
  const persistedQuery = extensions?.['persistedQuery'] as { sha256Hash?: unknown } | undefined;
  return String(persistedQuery?.sha256Hash ?? '').slice(0, 64);
}
