/**
 * The public GraphQL schema (the contract, ../shared/CONTRACT.md, and its additions): the
 * SDL files in core/graphql/schema/, one per domain, each adding its types and extending
 * Query, Mutation and Subscription. They are read from the source tree at start, as the
 * migrations are, so the schema an editor, a linter or the code generator reads is the
 * schema the appliance serves.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, lexicographicSortSchema, printSchema } from 'graphql';

/** core/graphql/schema beside the compiled code's source tree (dist/core/graphql -> core/graphql/schema). */
export const SCHEMA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../core/graphql/schema');

/** Every .graphql file of `dir`, in name order, as one document. */
export function readSchemaFiles(dir = SCHEMA_DIR): string {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.graphql'))
    .sort()
    .map((name) => fs.readFileSync(path.join(dir, name), 'utf8'))
    .join('\n');
}

let cached: string | undefined;

/** The whole schema's SDL (read once; nothing is read when this module is imported). */
export function schemaTypeDefs(): string {
  cached ??= readSchemaFiles();
  return cached;
}

/**
 * The schema as published (docs/schema.graphql, `switchyard schema`): printed with its
 * types and fields in name order, so the file changes only where the schema does.
 */
export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(buildSchema(schemaTypeDefs())))}\n`;
}
