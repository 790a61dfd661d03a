/**
 * The public GraphQL schema (the contract and its additions): the SDL files in
 * core/graphql/schema/, one per domain, each adding its types and extending Query, Mutation
 * and Subscription. The build copies them beside this module (dist/core/graphql/schema), so
 * a release holds them wherever its dist goes (an upgrade by an older release copies dist
 * whole, but no source folder it does not know), and the schema an editor, a linter or the
 * code generator reads is the one the appliance serves.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, lexicographicSortSchema, printSchema } from 'graphql';

/** The SDL files the build put beside this compiled module. */
export const SCHEMA_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'schema');

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
