/**
 * A minimal client of a running appliance's public GraphQL API for the `switchyard plugin`
 * commands. The token is sent only in the Authorization header: it is never printed, and
 * any text the server sends back is scrubbed of it before it reaches the terminal.
 */
import { CliError, EXIT_REFUSED, usageError } from './cliSupport.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';
export const TOKEN_VARIABLE = 'SWITCHYARD_TOKEN';
const TIMEOUT_MS = 120_000;

/** The `--url` and `--token` options of the API commands. */
export interface ApiOptions {
  url: string;
  token?: string;
}

export interface ApiTarget {
  /** The GraphQL endpoint. */
  endpoint: URL;
  /** scheme://host:port, without any user information: what messages may show. */
  origin: string;
  token: string;
}

/** Where to send requests and with which token; a bad URL or no token is a usage error. */
export function apiTarget(options: ApiOptions, env: NodeJS.ProcessEnv = process.env): ApiTarget {
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    throw usageError(`--url ${JSON.stringify(options.url)}: not a URL (e.g. ${DEFAULT_URL})`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw usageError(`--url: the scheme must be http or https, not ${base.protocol.replace(/:$/, '')}`);
  const endpoint = new URL(base.href);
  endpoint.username = '';
  endpoint.password = '';
  endpoint.search = '';
  endpoint.hash = '';
  // The appliance serves GraphQL at /graphql; a base URL behind a reverse-proxy prefix keeps its prefix.
  if (!endpoint.pathname.endsWith('/graphql')) endpoint.pathname = `${endpoint.pathname.replace(/\/+$/, '')}/graphql`;
  const token = options.token ?? env[TOKEN_VARIABLE];
  if (token === undefined || token.trim() === '') throw usageError(`no API token: pass --token or set ${TOKEN_VARIABLE}`);
  return { endpoint, origin: endpoint.origin, token: token.trim() };
}

interface GraphQLError {
  message?: unknown;
  extensions?: { code?: unknown; inputPath?: unknown };
}

/** Runs one operation; GraphQL errors become a CliError (exit 1) listing each code and message. */
export async function callApi<T>(target: ApiTarget, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const scrub = (text: string): string => text.split(target.token).join('[token]');
  let response: Response;
  try {
    response = await fetch(target.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${target.token}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why =
      (error as Error).name === 'TimeoutError'
        ? `no answer within ${TIMEOUT_MS / 1000} s`
        : (cause?.code ?? cause?.message ?? (error as Error).message);
    throw new CliError(`cannot reach the appliance at ${target.origin}: ${scrub(why)}`, EXIT_REFUSED);
  }
  let body: { data?: T | null; errors?: GraphQLError[] };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new CliError(
      `${target.origin} answered HTTP ${response.status} without a GraphQL response; is --url a Switchyard appliance?`,
      EXIT_REFUSED,
    );
  }
  if (Array.isArray(body.errors) && body.errors.length > 0) {
    const lines = body.errors.map((e) => {
      const code = typeof e.extensions?.code === 'string' ? e.extensions.code : 'ERROR';
      const at = typeof e.extensions?.inputPath === 'string' ? ` (at ${e.extensions.inputPath})` : '';
      return `${code}: ${scrub(typeof e.message === 'string' ? e.message : 'no message')}${at}`;
    });
    throw new CliError(lines.length === 1 ? lines[0]! : `the appliance refused the request:\n  ${lines.join('\n  ')}`, EXIT_REFUSED);
  }
  if (body.data === undefined || body.data === null) {
    throw new CliError(`${target.origin} answered HTTP ${response.status} with neither data nor errors`, EXIT_REFUSED);
  }
  return body.data;
}
