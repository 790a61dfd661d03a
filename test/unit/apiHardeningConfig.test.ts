import path from 'node:path';
import test from 'ava';
import { loadConfig } from '../../core/config.js';

test('GraphQL limits and the API rate limit default to the documented values', (t) => {
  const config = loadConfig({});
  t.is(config.environment, 'production');
  t.deepEqual(
    [
      config.graphqlMaxDepth,
      config.graphqlMaxCost,
      config.graphqlMaxAliases,
      config.graphqlMaxDirectives,
      config.graphqlMaxTokens,
      config.graphqlMaxBatch,
    ],
    [12, 20_000, 30, 50, 5000, 10],
  );
  t.is(config.persistedOperationsFile, undefined);
  t.deepEqual([config.apiRateLimitPerSecond, config.apiRateLimitBurst], [50, 100]);
});

test('they are read from the environment and refused by name when wrong', (t) => {
  const config = loadConfig({
    SWITCHYARD_ENV: 'development',
    SWITCHYARD_GRAPHQL_MAX_DEPTH: '20',
    SWITCHYARD_GRAPHQL_MAX_COST: '5000',
    SWITCHYARD_GRAPHQL_MAX_ALIASES: '5',
    SWITCHYARD_GRAPHQL_MAX_DIRECTIVES: '7',
    SWITCHYARD_GRAPHQL_MAX_TOKENS: '800',
    SWITCHYARD_GRAPHQL_MAX_BATCH: '2',
    SWITCHYARD_PERSISTED_OPERATIONS_FILE: 'ops.json',
    SWITCHYARD_API_RATE_LIMIT_PER_SECOND: '5',
    SWITCHYARD_API_RATE_LIMIT_BURST: '9',
  });
  t.is(config.environment, 'development');
  t.deepEqual(
    [
      config.graphqlMaxDepth,
      config.graphqlMaxCost,
      config.graphqlMaxAliases,
      config.graphqlMaxDirectives,
      config.graphqlMaxTokens,
      config.graphqlMaxBatch,
    ],
    [20, 5000, 5, 7, 800, 2],
  );
  t.is(config.persistedOperationsFile, path.resolve('ops.json'));
  t.deepEqual([config.apiRateLimitPerSecond, config.apiRateLimitBurst], [5, 9]);

  t.throws(() => loadConfig({ SWITCHYARD_ENV: 'staging' }), {
    message: 'SWITCHYARD_ENV must be one of production, development, got "staging"',
  });
  t.throws(() => loadConfig({ SWITCHYARD_GRAPHQL_MAX_DEPTH: '0' }), { message: /SWITCHYARD_GRAPHQL_MAX_DEPTH must be between 1/ });
  t.throws(() => loadConfig({ SWITCHYARD_GRAPHQL_MAX_BATCH: 'ten' }), { message: /SWITCHYARD_GRAPHQL_MAX_BATCH must be a whole number/ });
  t.throws(() => loadConfig({ SWITCHYARD_API_RATE_LIMIT_PER_SECOND: '0' }), {
    message: /SWITCHYARD_API_RATE_LIMIT_PER_SECOND must be between 1/,
  });
  t.throws(() => loadConfig({ SWITCHYARD_API_RATE_LIMIT_BURST: '0' }), { message: /SWITCHYARD_API_RATE_LIMIT_BURST must be between 1/ });
});
