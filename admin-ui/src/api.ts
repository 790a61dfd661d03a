/**
 * The UI's only way to the appliance: the public GraphQL API with the session's bearer
 * token, exactly as internal tools call it. Errors keep the API's stable codes.
 *
 * Every operation is a named document in operations/*.graphql, generated into gql/ with
 * its result and variable types and its SHA-256. The console sends the hash alone
 * (`extensions.persistedQuery`): the appliance serves the console's documents from the
 * manifest its build wrote, so the console works when the API accepts persisted
 * operations only, and no document text travels.
 */
import { currentToken, expireSession } from './session.js';
import type { TypedDocumentString } from './gql/graphql.js';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

interface GraphQLBody<T> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string; [key: string]: unknown } }[];
}

function failure(body: GraphQLBody<unknown>, status: number): ApiError {
  const first = body.errors?.[0];
  const code = first?.extensions?.code ?? (status === 429 ? 'RATE_LIMITED' : status >= 500 ? 'INTERNAL' : 'BAD_USER_INPUT');
  return new ApiError(first?.message ?? `the appliance answered HTTP ${status}`, String(code), first?.extensions ?? {});
}

/** The request body naming a generated document by its hash. */
function persistedRequest<T, V>(document: TypedDocumentString<T, V>, variables: V | undefined): string {
  const sha256Hash: unknown = document.__meta__?.['hash'];
  if (typeof sha256Hash !== 'string') throw new ApiError('this console was built without its operation manifest', 'INTERNAL');
  return JSON.stringify({ variables: variables ?? {}, extensions: { persistedQuery: { version: 1, sha256Hash } } });
}

/** Runs one operation; resolves with its data or rejects with the first error. */
export async function gql<T, V>(document: TypedDocumentString<T, V>, variables?: V, token = currentToken()): Promise<T> {
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: persistedRequest(document, variables),
    });
  } catch {
    throw new ApiError('The appliance cannot be reached. Check the network and try again.', 'NETWORK');
  }
  let body: GraphQLBody<T>;
  try {
    body = (await response.json()) as GraphQLBody<T>;
  } catch {
    throw new ApiError(`the appliance answered HTTP ${response.status} without a GraphQL body`, 'INTERNAL');
  }
  if (body.errors?.length || !body.data) {
    const error = failure(body, response.status);
    if (error.code === 'UNAUTHENTICATED' && token === currentToken()) expireSession(error.message);
    throw error;
  }
  return body.data;
}

/**
 * A subscription over Server-Sent Events (graphql-yoga's transport), read from a streamed
 * fetch because EventSource cannot send the bearer token. Returns a function that stops it.
 */
export function subscribe<T, V>(
  document: TypedDocumentString<T, V>,
  variables: V,
  handlers: { next: (data: T) => void; error: (error: ApiError) => void },
): () => void {
  const abort = new AbortController();
  void (async () => {
    try {
      const response = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${currentToken() ?? ''}` },
        body: persistedRequest(document, variables),
        signal: abort.signal,
      });
      if (!response.ok || !response.body) throw failure((await response.json().catch(() => ({}))) as GraphQLBody<unknown>, response.status);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = frame
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trimStart())
            .join('\n');
          if (!data) continue;
          const body = JSON.parse(data) as GraphQLBody<T>;
          if (body.errors?.length) handlers.error(failure(body, 200));
          else if (body.data) handlers.next(body.data);
        }
      }
    } catch (error) {
      if (abort.signal.aborted) return;
      handlers.error(error instanceof ApiError ? error : new ApiError('The live connection was lost.', 'NETWORK'));
    }
  })();
  return () => abort.abort();
}

/** GETs a file the API offered (an audit export) with the bearer token, as bytes. */
export async function fetchFile(url: string): Promise<{ bytes: ArrayBuffer; name: string }> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${currentToken() ?? ''}` } });
  if (!response.ok) throw failure((await response.json().catch(() => ({}))) as GraphQLBody<unknown>, response.status);
  const disposition = response.headers.get('content-disposition') ?? '';
  return { bytes: await response.arrayBuffer(), name: /filename="([^"]+)"/.exec(disposition)?.[1] ?? 'download' };
}

/** A human sentence for an error, with the API's code where it helps. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const retry =
      typeof error.extensions['retryAfterSeconds'] === 'number' ? ` Try again in ${error.extensions['retryAfterSeconds']} s.` : '';
    return `${error.message}${retry}`;
  }
  return error instanceof Error ? error.message : String(error);
}
