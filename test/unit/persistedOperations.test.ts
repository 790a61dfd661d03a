import test from 'ava';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readPersistedOperations } from '../../server/persistedOperations.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function fileWith(content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-pq-'));
  const file = path.join(dir, 'operations.json');
  fs.writeFileSync(file, content);
  return file;
}

test('a file of sha256 → document entries is read into a map', (t) => {
  const doc = '{ viewer { role } }';
  const operations = readPersistedOperations(fileWith(JSON.stringify({ [sha256(doc)]: doc })));
  t.is(operations.get(sha256(doc)), doc);
  t.is(operations.size, 1);
});

test('a bad file stops the start with the file and the entry named', (t) => {
  const doc = '{ viewer { role } }';
  const cases: [string, RegExp][] = [
    ['not json', /cannot read it as JSON/],
    ['[]', /expected an object/],
    ['{}', /lists no operation/],
    [JSON.stringify({ abc: doc }), /entry "abc": the key must be 64 lower-case hex digits/],
    [JSON.stringify({ [sha256(doc)]: 42 }), /the value must be a GraphQL document/],
    [JSON.stringify({ [sha256('{ other }')]: doc }), /the key is not the SHA-256 of its document/],
  ];
  for (const [content, message] of cases) {
    const file = fileWith(content);
    const error = t.throws(() => readPersistedOperations(file), { message }, content);
    t.true(error?.message.startsWith(`SWITCHYARD_PERSISTED_OPERATIONS_FILE ${file}`), content);
  }
  t.throws(() => readPersistedOperations('/nonexistent/operations.json'), { message: /cannot read it as JSON/ });
});
