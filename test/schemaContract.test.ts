/**
 * The published contract: the schema a running appliance serves (read by introspection,
 * as an internal tool reads it) is exactly docs/schema.graphql, and every type, field,
 * argument, input field and enum value in it says what it is.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildClientSchema,
  getIntrospectionQuery,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  lexicographicSortSchema,
  printSchema,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import { printedSchema } from '../core/graphql/schema.js';
import { startTestAppliance, type TestAppliance } from './support/appliance.js';

const PUBLISHED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/schema.graphql');

let app: TestAppliance;
let served: GraphQLSchema;

test.before(async () => {
  app = await startTestAppliance({ config: { role: 'api' } });
  const viewer = (await app.tenant(`schema-${Date.now()}`, ['VIEWER'])).tokens['VIEWER']!;
  const reply = await app.gql<IntrospectionQuery>(viewer, getIntrospectionQuery({ descriptions: true }));
  if (reply.errors) throw new Error(JSON.stringify(reply.errors));
  served = buildClientSchema(reply.data!);
});

test.after.always(async () => {
  await app?.stop();
});

test('the schema a running appliance serves is docs/schema.graphql, byte for byte (npm run schema writes it)', (t) => {
  const published = fs.readFileSync(PUBLISHED, 'utf8');
  t.is(`${printSchema(lexicographicSortSchema(served))}\n`, published);
  t.is(printedSchema(), published, 'switchyard schema prints the same');
});

test('every type, field, argument, input field and enum value of the served schema has a description', (t) => {
  const missing: string[] = [];
  for (const type of Object.values(served.getTypeMap())) {
    if (type.name.startsWith('__') || ['String', 'Int', 'Float', 'Boolean', 'ID'].includes(type.name)) continue;
    if (!type.description?.trim()) missing.push(type.name);
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (!field.description?.trim()) missing.push(`${type.name}.${field.name}`);
        for (const arg of 'args' in field ? field.args : [])
          if (!arg.description?.trim()) missing.push(`${type.name}.${field.name}(${arg.name})`);
      }
    }
    if (isEnumType(type)) for (const value of type.getValues()) if (!value.description?.trim()) missing.push(`${type.name}.${value.name}`);
  }
  t.deepEqual(missing, []);
});

test("contract 1.1 conventions: roles are the Role enum wherever one is taken or returned, and PageInfo is Relay's in full", (t) => {
  const role = served.getType('Role');
  t.true(isEnumType(role));
  t.deepEqual(isEnumType(role) ? role.getValues().map((v) => v.name) : [], [
    'SYSTEM_ADMIN',
    'ADMIN',
    'EDITOR',
    'OPERATOR',
    'VIEWER',
    'AUDITOR',
  ]);
  const fieldType = (typeName: string, field: string) => {
    const type = served.getType(typeName);
    return isObjectType(type) || isInputObjectType(type) ? String(type.getFields()[field]?.type) : 'missing';
  };
  t.is(fieldType('Viewer', 'role'), 'Role!');
  t.is(fieldType('ApiToken', 'role'), 'Role!');
  t.is(fieldType('CreateApiTokenInput', 'role'), 'Role!');
  const pageInfo = served.getType('PageInfo');
  t.deepEqual(isObjectType(pageInfo) ? Object.fromEntries(Object.values(pageInfo.getFields()).map((f) => [f.name, String(f.type)])) : {}, {
    hasNextPage: 'Boolean!',
    hasPreviousPage: 'Boolean!',
    startCursor: 'String',
    endCursor: 'String',
  });
});
