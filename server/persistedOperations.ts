import { createHash } from 'node:crypto';
import fs from 'node:fs';

/** SHA-256 hex of a document → the document, as clients name them in `extensions.persistedQuery.sha256Hash`. */
export type PersistedOperations = ReadonlyMap<string, string>;

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Reads a file of persisted operations at start: `SWITCHYARD_PERSISTED_OPERATIONS_FILE`, or
 * the console's own list (`what` names which in errors). Every entry is checked now,
 * including that its key is the SHA-256 of its document, so a stale or hand-edited file
 * stops the start with the entry named instead of refusing that operation later.
 */
export function readPersistedOperations(file: string, what = 'SWITCHYARD_PERSISTED_OPERATIONS_FILE'): PersistedOperations {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${what} ${file}: cannot read it as JSON (${(error as Error).message})`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${what} ${file}: expected an object mapping SHA-256 hex to GraphQL documents`);
  }
  const operations = new Map<string, string>();
  for (const [hash, document] of Object.entries(parsed)) {
    const where = `${what} ${file}: entry ${JSON.stringify(hash)}`;
    if (!SHA256_HEX.test(hash)) throw new Error(`${where}: the key must be 64 lower-case hex digits (SHA-256)`);
    if (typeof document !== 'string' || document.trim() === '') throw new Error(`${where}: the value must be a GraphQL document`);
    if (createHash('sha256').update(document).digest('hex') !== hash)
      throw new Error(`${where}: the key is not the SHA-256 of its document`);
    operations.set(hash, document);
  }
  if (operations.size === 0) throw new Error(`${what} ${file}: lists no operation, so nothing could be served`);
  return operations;
}
