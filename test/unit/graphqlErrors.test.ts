import test from 'ava';
import { AppError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { toGraphQLError } from '../../server/graphql.js';

const logger = createLogger('silent');

// yoga turns extensions.http into the response status and headers (and leaves it out of the body).
test('RATE_LIMITED and OVERLOADED carry their status and a Retry-After header from retryAfterSeconds', (t) => {
  const limited = toGraphQLError(new AppError('RATE_LIMITED', 'slow down', { details: { retryAfterSeconds: 3 } }), logger, 'r1');
  t.deepEqual(limited.extensions, { code: 'RATE_LIMITED', retryAfterSeconds: 3, http: { status: 429, headers: { 'retry-after': '3' } } });

  const overloaded = toGraphQLError(new AppError('OVERLOADED', 'busy', { details: { retryAfterSeconds: 0.2 } }), logger, 'r2');
  t.deepEqual(overloaded.extensions['http'], { status: 503, headers: { 'retry-after': '1' } }, 'Retry-After is whole seconds, at least 1');
});

test('an error without retryAfterSeconds gets no Retry-After; codes without a status get no http extension', (t) => {
  t.deepEqual(toGraphQLError(new AppError('UNAUTHENTICATED', 'who?'), logger, 'r3').extensions['http'], { status: 401 });
  t.is(toGraphQLError(new AppError('NOT_FOUND', 'gone'), logger, 'r4').extensions['http'], undefined);
});
