/**
 * The catalogue of failures is the one place codes are minted from (the type system keeps
 * every minting site to it); these tests keep the README and the API's enum to it, and the
 * line between the appliance's codes and the plugins'.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, isEnumType } from 'graphql';
import { schemaTypeDefs } from '../../core/graphql/schema.js';
import { StepError } from '../../core/engine/executor.js';
import {
  FAILURE_SOURCES,
  RUN_FAILURES,
  STEP_FAILURES,
  describeFailure,
  isPluginCode,
  stepFailure,
  type CatalogueEntry,
} from '../../core/runs/stepFailures.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

type Row = { code: string; retryable: boolean; source: string; meaning: string };

/** The tables of the README's "Step failures" section, in order, row by row. */
function readmeTables(): Row[][] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = /^### Step failures\n([\s\S]*?)^##/m.exec(readme)?.[1];
  if (section === undefined) throw new Error('README.md has no "### Step failures" section');
  const tables: string[][] = [];
  let current: string[] | null = null;
  for (const line of section.split('\n')) {
    if (!line.startsWith('|')) {
      current = null;
      continue;
    }
    if (!current) tables.push((current = []));
    current.push(line);
  }
  return tables.map(([header, rule, ...rows]) => {
    if (header !== '| code | retry helps | source | meaning |' || rule !== '| --- | --- | --- | --- |')
      throw new Error(`unexpected table header: ${header} / ${rule}`);
    return rows.map((row) => {
      const m = /^\| `([A-Z_]+)` \| (yes|no) \| ([A-Z]+) \| (.+) \|$/.exec(row);
      if (!m) throw new Error(`malformed row: ${row}`);
      return { code: m[1]!, retryable: m[2] === 'yes', source: m[3]!, meaning: m[4]! };
    });
  });
}

const rowsOf = (catalogue: Record<string, CatalogueEntry>): Row[] =>
  Object.entries(catalogue).map(([code, { retryable, source, meaning }]) => ({ code, retryable, source, meaning }));

test("the README's tables are the catalogue: the same codes in the same order, retryability, source and meaning", (t) => {
  const tables = readmeTables();
  t.is(tables.length, 2, 'one table of step failures, one of run errors');
  t.deepEqual(tables[0], rowsOf(STEP_FAILURES));
  t.deepEqual(tables[1], rowsOf(RUN_FAILURES));
});

test('a code is in one catalogue only, and its meaning is one line', (t) => {
  for (const code of Object.keys(RUN_FAILURES)) t.false(code in STEP_FAILURES, code);
  for (const [code, entry] of [...Object.entries(STEP_FAILURES), ...Object.entries(RUN_FAILURES)]) {
    t.regex(entry.meaning, /^[A-Z`][^\n|]*\.$/, code);
    t.true((FAILURE_SOURCES as readonly string[]).includes(entry.source), code);
  }
});

test("the API's StepFailureSource enum is the catalogue's sources, each described", (t) => {
  const source = buildSchema(schemaTypeDefs()).getType('StepFailureSource');
  if (!isEnumType(source)) return t.fail('StepFailureSource is not an enum');
  t.deepEqual(
    source.getValues().map((v) => v.name),
    [...FAILURE_SOURCES],
  );
  for (const value of source.getValues()) t.truthy(value.description, value.name);
});

test("minted failures take the catalogue's retryability; StepError does too unless told otherwise", (t) => {
  t.deepEqual(stepFailure('TEMPLATE_ERROR', 'with: bad'), { code: 'TEMPLATE_ERROR', message: 'with: bad', retryable: false });
  t.deepEqual(stepFailure('STEP_TIMEOUT', 'late'), { code: 'STEP_TIMEOUT', message: 'late', retryable: true });
  t.false(new StepError('BAD_USER_INPUT', 'no').retryable);
  t.true(new StepError('LLM_SCHEMA_MISMATCH', 'again').retryable);
  t.false(new StepError('EGRESS_FAILED', 'the plugin said so', false).retryable);
});

test("a plugin raises its own codes and the catalogue's WORKFLOW, EGRESS and PLUGIN ones, never the appliance's", (t) => {
  for (const code of ['UPSTREAM_REJECTED', 'HTTP_STATUS', 'BAD_USER_INPUT', 'CIRCUIT_OPEN', 'BAD_OUTPUT', 'BAD_INPUT']) {
    t.true(isPluginCode(code), code);
  }
  const reserved = Object.entries(STEP_FAILURES)
    .filter(([, entry]) => ['ENGINE', 'SANDBOX', 'OPERATOR'].includes(entry.source))
    .map(([code]) => code);
  t.true(reserved.includes('WORKER_LOST') && reserved.includes('APPROVAL_REJECTED') && reserved.includes('SANDBOX_CRASHED'));
  for (const code of [...reserved, ...Object.keys(RUN_FAILURES), 'SANDBOX_ERROR', 'SANDBOX_ANYTHING']) t.false(isPluginCode(code), code);
  for (const code of ['lower', 'AB', `A${'B'.repeat(64)}`, '1ABC', 'constructor', 42, null]) t.false(isPluginCode(code), String(code));
});

test("a code the catalogue does not hold reads as a plugin's, with no meaning; stored codes of older releases stay readable", (t) => {
  t.deepEqual(describeFailure('UPSTREAM_REJECTED'), { retryable: false, source: 'PLUGIN', meaning: null });
  t.deepEqual(describeFailure('BAD_INPUT'), { retryable: false, source: 'PLUGIN', meaning: null });
  t.deepEqual(describeFailure('toString'), { retryable: false, source: 'PLUGIN', meaning: null });
  t.deepEqual(describeFailure('RUN_CANCELLED'), { retryable: false, source: 'OPERATOR', meaning: RUN_FAILURES.RUN_CANCELLED.meaning });
  t.deepEqual(describeFailure('SANDBOX_CRASHED'), { retryable: true, source: 'SANDBOX', meaning: STEP_FAILURES.SANDBOX_CRASHED.meaning });
});
