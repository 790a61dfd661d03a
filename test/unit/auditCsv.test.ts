import test from 'ava';
import { stringify } from 'csv-stringify/sync';
import { csvField, csvRecord, type CsvValue } from '../../core/audit/csv.js';

const PLAIN: CsvValue[] = [
  0,
  42,
  2.5,
  1e21,
  null,
  undefined,
  '',
  'plain',
  'comma, inside',
  'quote " inside',
  '"starts with a quote',
  'line\nbreak',
  'carriage\rreturn',
  'crlf\r\n',
  'ünïcödé ✓ 😀',
  '\u2028 separator',
  'trailing space ',
  ' leading space',
  '{"json":"value","n":[1,2]}',
  'tab\tinside',
  "apostrophe's",
];

test('records are what csv-stringify writes for the same values', (t) => {
  t.is(csvRecord(PLAIN), stringify([PLAIN]));
  for (const value of PLAIN) t.is(csvRecord([value, value]), stringify([[value, value]]), JSON.stringify(value));
});

test('cells a spreadsheet would run as a formula get a leading apostrophe, and are quoted as csv-stringify would quote that', (t) => {
  for (const value of ['=HYPERLINK("http://x","y")', '+1', '-2+3', '@SUM(A1)', '\tcmd', '\rcmd', '=a,b']) {
    t.is(csvField(value), stringify([[`'${value}`]]).slice(0, -1), JSON.stringify(value));
  }
  t.is(csvField(-1), '-1', 'numbers are numbers, not formulas');
  t.is(csvField('a=b'), 'a=b', 'only a leading sign counts');
});
