import { readFileSync } from 'node:fs';
import test from 'ava';
import type { TemplateScope } from '../../core/workflows/definition.js';
import {
  conditionReferences,
  evaluateCondition,
  evaluateExpression,
  parseExpression,
  renderTemplate,
  templateReferences,
  TemplateSyntaxError,
} from '../../core/workflows/templates.js';

const scope: TemplateScope = {
  input: {
    itemId: 42,
    name: 'Ada',
    flag: true,
    off: false,
    zero: 0,
    empty: '',
    nothing: null,
    items: [
      { id: 'a1', n: 1 },
      { id: 'b2', n: 2 },
    ],
    obj: { k: 'v', nested: { deep: [1, 2, 3] } },
    'odd key': 'spaced',
  },
  steps: {
    fetch: { output: { status: 200, body: { title: 'Hello' } }, status: 'SUCCEEDED' },
    'my-step': { output: 'hyphenated' },
  },
  run: { id: 'run_1', attempt: 2 },
};

const syntaxError = (fn: () => unknown): TemplateSyntaxError => {
  const err = (() => {
    try {
      fn();
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  if (!(err instanceof TemplateSyntaxError)) throw new Error(`expected a TemplateSyntaxError, got ${String(err)}`);
  return err;
};

// --- literals and paths --------------------------------------------------------------

test('literals evaluate to their values', (t) => {
  t.is(evaluateExpression('42', scope), 42);
  t.is(evaluateExpression('-1.5e2', scope), -150);
  t.is(evaluateExpression("'single'", scope), 'single');
  t.is(evaluateExpression('"double"', scope), 'double');
  t.is(evaluateExpression('true', scope), true);
  t.is(evaluateExpression('false', scope), false);
  t.is(evaluateExpression('null', scope), null);
});

test('string escapes', (t) => {
  t.is(evaluateExpression(String.raw`'it\'s'`, scope), "it's");
  t.is(evaluateExpression(String.raw`"a\"b\\c\nd\te\u0041"`, scope), 'a"b\\c\nd\teA');
  t.is(evaluateExpression(`"contains }} and {{"`, scope), 'contains }} and {{');
});

test('paths with dots, indexes and quoted keys', (t) => {
  t.is(evaluateExpression('input.itemId', scope), 42);
  t.is(evaluateExpression('input.items[0].id', scope), 'a1');
  t.is(evaluateExpression('input.items[1]["n"]', scope), 2);
  t.is(evaluateExpression("input['odd key']", scope), 'spaced');
  t.is(evaluateExpression('input.obj.nested.deep[2]', scope), 3);
  t.is(evaluateExpression('steps.fetch.output.body.title', scope), 'Hello');
  t.is(evaluateExpression("steps['my-step'].output", scope), 'hyphenated');
  t.is(evaluateExpression('steps.my-step.output', scope), 'hyphenated');
  t.is(evaluateExpression('run.id', scope), 'run_1');
  t.is(evaluateExpression('run.attempt', scope), 2);
  t.is(evaluateExpression('input.items.length', scope), 2);
  t.deepEqual(evaluateExpression('input.obj', scope), { k: 'v', nested: { deep: [1, 2, 3] } });
});

test('missing paths yield undefined, never throw', (t) => {
  t.is(evaluateExpression('input.nope', scope), undefined);
  t.is(evaluateExpression('input.nope.deeper[3].x', scope), undefined);
  t.is(evaluateExpression('input.items[9]', scope), undefined);
  t.is(evaluateExpression('input.nothing.x', scope), undefined);
  t.is(evaluateExpression('input.name.length', scope), undefined, 'strings are not objects');
  t.is(evaluateExpression('steps.missing.output', scope), undefined);
  t.is(evaluateExpression('unknownRoot.x', scope), undefined);
});

// --- prototype safety ----------------------------------------------------------------

test('prototype members are never read', (t) => {
  for (const src of [
    'input.constructor',
    'input.__proto__',
    'input.prototype',
    'input.toString',
    'input.hasOwnProperty',
    'input.items.map',
    'input.items.constructor',
    "input['constructor']['constructor']",
    'input.constructor.constructor',
    'steps.constructor',
    'run.__proto__',
    'input.obj.valueOf',
  ]) {
    t.is(evaluateExpression(src, scope), undefined, src);
  }
  t.deepEqual(renderTemplate({ a: '{{ input.constructor }}', b: '{{ input.__proto__ }}', c: 'x{{ input.toString }}y' }, scope), {
    a: null,
    b: null,
    c: 'xy',
  });
});

test('own __proto__ keys from JSON and getters are not read', (t) => {
  const input = JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}') as unknown;
  let called = false;
  const withGetter = Object.defineProperty({}, 'g', {
    enumerable: true,
    get: () => {
      called = true;
      return 'secret';
    },
  });
  const s: TemplateScope = { ...scope, input: { j: input, withGetter, fn: () => 'x' } };
  t.is(evaluateExpression('input.j.__proto__', s), undefined);
  t.is(evaluateExpression('input.j.ok', s), 1);
  t.is(evaluateExpression('input.withGetter.g', s), undefined);
  t.false(called);
  t.is(evaluateExpression('input.fn', s), undefined);
});

test('Object.prototype names are not keywords or roots', (t) => {
  for (const src of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf.call']) {
    t.is(evaluateExpression(src, scope), undefined, src);
  }
  t.deepEqual(templateReferences('{{ toString }}')[0]?.roots, ['toString']);
});

test('the evaluator has no route to host code', (t) => {
  // The compiled test lives in dist/test/unit; the source is three levels up.
  const source = readFileSync(new URL('../../../core/workflows/templates.ts', import.meta.url), 'utf8');
  for (const banned of ['eval(', 'Function(', "'vm'", 'node:vm', 'import(', 'require(']) t.false(source.includes(banned), banned);
});

test('non-plain objects are opaque', (t) => {
  const s: TemplateScope = { ...scope, input: { d: new Date(0), m: new Map([['k', 1]]) } };
  t.is(evaluateExpression('input.d.getTime', s), undefined);
  t.is(evaluateExpression('input.m.size', s), undefined);
});

test('there is no call syntax', (t) => {
  const err = syntaxError(() => parseExpression('input.toString()'));
  t.is(err.message, 'function calls are not supported at column 15');
  t.is(syntaxError(() => parseExpression('(input.x)(1)')).message, 'unexpected "(" at column 10');
  t.is(syntaxError(() => parseExpression('input = 1')).message, 'unexpected character "="; use "==" to compare at column 7');
  t.is(syntaxError(() => parseExpression('`x`')).message, 'unexpected character "`" at column 1');
  t.is(syntaxError(() => parseExpression('a + b')).message, 'unexpected character "+" at column 3');
});

// --- operators -----------------------------------------------------------------------

test('equality is strict and deep', (t) => {
  t.true(evaluateExpression('input.itemId == 42', scope) as boolean);
  t.false(evaluateExpression("input.itemId == '42'", scope) as boolean);
  t.true(evaluateExpression("input.itemId != '42'", scope) as boolean);
  t.true(evaluateExpression('input.obj.nested == input.obj.nested', scope) as boolean);
  t.true(evaluateExpression('steps.fetch.output.body == steps.fetch.output.body', scope) as boolean);
  t.false(evaluateExpression('input.items[0] == input.items[1]', scope) as boolean);
  t.true(evaluateExpression('input.nothing == null', scope) as boolean);
  t.true(evaluateExpression('input.missing == null', scope) as boolean, 'missing equals null');
  t.false(evaluateExpression('input.zero == false', scope) as boolean);
  t.false(evaluateExpression('input.empty == 0', scope) as boolean);
});

test('ordering compares numbers with numbers and strings with strings only', (t) => {
  t.true(evaluateExpression('input.itemId > 41', scope) as boolean);
  t.true(evaluateExpression('input.itemId >= 42', scope) as boolean);
  t.false(evaluateExpression('input.itemId < 42', scope) as boolean);
  t.true(evaluateExpression('input.itemId <= 42', scope) as boolean);
  t.true(evaluateExpression("'abc' < 'abd'", scope) as boolean);
  t.false(evaluateExpression("'10' < 9", scope) as boolean);
  t.false(evaluateExpression("'10' > 9", scope) as boolean);
  t.false(evaluateExpression('input.missing < 1', scope) as boolean);
  t.false(evaluateExpression('null >= 0', scope) as boolean);
});

test('&& and || short-circuit and return operand values', (t) => {
  t.is(evaluateExpression("input.nope || 'fallback'", scope), 'fallback');
  t.is(evaluateExpression("input.name || 'fallback'", scope), 'Ada');
  t.is(evaluateExpression('input.zero && input.name', scope), 0);
  t.is(evaluateExpression('input.flag && input.name', scope), 'Ada');
  t.is(evaluateExpression('input.empty || input.nothing', scope), null);
});

test('! negates truthiness; precedence and parentheses', (t) => {
  t.is(evaluateExpression('!input.flag', scope), false);
  t.is(evaluateExpression('!!input.name', scope), true);
  t.is(evaluateExpression('!input.missing', scope), true);
  // && binds tighter than ||, comparisons tighter than &&.
  t.is(evaluateExpression('true || false && false', scope), true);
  t.is(evaluateExpression('(true || false) && false', scope), false);
  t.is(evaluateExpression('input.itemId > 1 && input.itemId < 100', scope), true);
  t.is(evaluateExpression('!(input.itemId == 42)', scope), false);
  t.is(evaluateExpression('1 < 2 == true', scope), true);
});

// --- syntax errors -------------------------------------------------------------------

test('syntax errors say what and at which column', (t) => {
  const cases: [string, string][] = [
    ['', 'empty expression at column 1'],
    ['   ', 'empty expression at column 1'],
    ['input.x ==', 'expected an expression after "==" at column 11'],
    ['input.x.', 'expected a property name after "." but found end of expression at column 9'],
    ['input.x.1', 'expected a property name after "." but found "1" at column 9'],
    ["'abc", 'unterminated string at column 1'],
    ['"a\\qb"', 'invalid escape "\\q" in string at column 3'],
    ['(input.x', 'expected ")" to close "(" but found end of expression at column 9'],
    ['input.x)', 'unexpected ")" at column 8'],
    ['input[-1]', 'expected a non-negative integer or a quoted key inside "[ ]" but found "-1" at column 7'],
    ['input[1.5]', 'expected a non-negative integer or a quoted key inside "[ ]" but found "1.5" at column 7'],
    ['input[input.i]', 'expected a non-negative integer or a quoted key inside "[ ]" but found "input" at column 7'],
    ["input['a'", 'expected "]" after the key but found end of expression at column 10'],
    ['a && || b', 'expected a value but found "||" at column 6'],
    ['1 2', 'unexpected "2" at column 3'],
    ['12abc', 'invalid number "12a" at column 1'],
    ['a & b', 'unexpected character "&"; use "&&" at column 3'],
    ['a | b', 'unexpected character "|"; use "||" at column 3'],
  ];
  for (const [src, message] of cases) {
    const err = syntaxError(() => parseExpression(src));
    t.is(err.message, message, src);
  }
});

test('deep nesting is refused rather than overflowing the stack', (t) => {
  t.is(syntaxError(() => parseExpression('('.repeat(100) + '1' + ')'.repeat(100))).problem, 'expression is nested too deeply');
  t.is(syntaxError(() => parseExpression('!'.repeat(100) + 'true')).problem, 'expression is nested too deeply');
  t.is(syntaxError(() => parseExpression(Array(600).fill('a').join(' || '))).problem, 'expression is longer than 1000 tokens');
  t.is(evaluateExpression('('.repeat(30) + '1' + ')'.repeat(30), scope), 1);
});

test('parsed expressions are cached', (t) => {
  t.is(parseExpression('input.cached == 1'), parseExpression('input.cached == 1'));
});

// --- rendering -----------------------------------------------------------------------

test('a whole-string template keeps the value type', (t) => {
  t.is(renderTemplate('{{ input.itemId }}', scope), 42);
  t.is(renderTemplate('  {{input.flag}}  ', scope), true);
  t.is(renderTemplate('{{ input.nothing }}', scope), null);
  t.is(renderTemplate('{{ input.missing }}', scope), null, 'undefined becomes null');
  t.deepEqual(renderTemplate('{{ input.items }}', scope), [
    { id: 'a1', n: 1 },
    { id: 'b2', n: 2 },
  ]);
  t.deepEqual(renderTemplate('{{ steps.fetch.output }}', scope), { status: 200, body: { title: 'Hello' } });
  t.is(renderTemplate('{{ input.zero }}', scope), 0);
});

test('templates mixed with text are interpolated', (t) => {
  t.is(renderTemplate('https://api.example.com/items/{{ input.itemId }}', scope), 'https://api.example.com/items/42');
  t.is(renderTemplate('{{ input.name }} is {{ input.flag }} / {{ input.off }}', scope), 'Ada is true / false');
  t.is(renderTemplate('[{{ input.nothing }}][{{ input.missing }}]', scope), '[][]');
  t.is(renderTemplate('obj={{ input.obj.nested }} arr={{ input.obj.nested.deep }}', scope), 'obj={"deep":[1,2,3]} arr=[1,2,3]');
  t.is(renderTemplate('{{ input.name }}{{ input.itemId }}', scope), 'Ada42');
  t.is(renderTemplate('x {{ "}}" }} y', scope), 'x }} y');
  t.is(renderTemplate('run {{ run.id }} attempt {{ run.attempt }}', scope), 'run run_1 attempt 2');
});

test('strings without templates and non-strings pass through', (t) => {
  t.is(renderTemplate('plain text', scope), 'plain text');
  t.is(renderTemplate('a } and }} and { alone', scope), 'a } and }} and { alone');
  t.is(renderTemplate(7, scope), 7);
  t.is(renderTemplate(null, scope), null);
  t.is(renderTemplate(false, scope), false);
});

test('objects and arrays are walked; keys are not templated', (t) => {
  const value = {
    method: 'GET',
    url: 'https://x/{{ input.itemId }}',
    '{{ input.name }}': '{{ input.name }}',
    headers: { Authorization: 'Bearer {{ run.id }}' },
    list: ['{{ input.itemId }}', 3, { deep: '{{ input.flag }}' }],
  };
  const before = JSON.stringify(value);
  t.deepEqual(renderTemplate(value, scope), {
    method: 'GET',
    url: 'https://x/42',
    '{{ input.name }}': 'Ada',
    headers: { Authorization: 'Bearer run_1' },
    list: [42, 3, { deep: true }],
  });
  t.is(JSON.stringify(value), before, 'the input is not mutated');
});

test('rendering keeps an own __proto__ key as data', (t) => {
  const value = JSON.parse('{"__proto__": "{{ input.name }}"}') as unknown;
  const out = renderTemplate(value, scope) as Record<string, unknown>;
  t.is(Object.getPrototypeOf(out), Object.prototype);
  t.true(Object.hasOwn(out, '__proto__'));
  t.is(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, 'Ada');
});

test('rendering a malformed template throws with the column in the string', (t) => {
  t.is(syntaxError(() => renderTemplate('abc {{ input.x ) }}', scope)).message, 'unexpected ")" at column 16');
  t.is(syntaxError(() => renderTemplate('abc {{ input.x', scope)).message, '"{{" is never closed by "}}" at column 5');
  t.is(syntaxError(() => renderTemplate({ a: ['{{ }}'] }, scope)).message, 'empty expression at column 3');
});

// --- conditions ----------------------------------------------------------------------

test('conditions accept a template or a bare expression', (t) => {
  t.true(evaluateCondition('{{ input.flag }}', scope));
  t.true(evaluateCondition('input.flag', scope));
  t.false(evaluateCondition('{{ input.off }}', scope));
  t.false(evaluateCondition(' {{ input.missing }} ', scope));
  t.true(evaluateCondition("steps.fetch.status == 'SUCCEEDED' && steps.fetch.output.status < 300", scope));
  t.false(evaluateCondition('{{ !steps.fetch.output }}', scope));
});

test('conditions use JS truthiness', (t) => {
  t.false(evaluateCondition('input.zero', scope));
  t.false(evaluateCondition('input.empty', scope));
  t.false(evaluateCondition('input.nothing', scope));
  t.true(evaluateCondition('input.name', scope));
  t.true(evaluateCondition('input.items', scope));
  t.true(evaluateCondition('input.obj', scope));
});

test('conditions mixing text and templates, or empty, are syntax errors', (t) => {
  t.is(
    syntaxError(() => evaluateCondition('x {{ input.flag }}', scope)).problem,
    'a condition must be one "{{ ... }}" or a bare expression, not text mixed with templates',
  );
  t.is(syntaxError(() => evaluateCondition('', scope)).message, 'empty expression at column 1');
  t.is(syntaxError(() => evaluateCondition('{{ input.flag', scope)).message, '"{{" is never closed by "}}" at column 1');
});

// --- references ----------------------------------------------------------------------

test('templateReferences reports paths, roots and step ids', (t) => {
  const refs = templateReferences(
    {
      url: 'https://x/{{ input.id }}',
      headers: { Authorization: 'Bearer {{ steps.auth.output.token }}', 'X-Key': "{{ steps['my-step'].output || run.id }}" },
      items: ['plain', '{{ steps.a.output == steps.b.output && steps.a.status }}'],
      all: '{{ steps }}',
      byIndex: '{{ steps[0] }}',
      unknown: '{{ inputs.x }} and {{ true }}',
    },
    'with',
  );
  t.deepEqual(refs, [
    { path: 'with.url', expression: 'input.id', roots: ['input'], stepIds: [], readsAllSteps: false },
    {
      path: 'with.headers.Authorization',
      expression: 'steps.auth.output.token',
      roots: ['steps'],
      stepIds: ['auth'],
      readsAllSteps: false,
    },
    {
      path: 'with.headers["X-Key"]',
      expression: "steps['my-step'].output || run.id",
      roots: ['steps', 'run'],
      stepIds: ['my-step'],
      readsAllSteps: false,
    },
    {
      path: 'with.items[1]',
      expression: 'steps.a.output == steps.b.output && steps.a.status',
      roots: ['steps'],
      stepIds: ['a', 'b'],
      readsAllSteps: false,
    },
    { path: 'with.all', expression: 'steps', roots: ['steps'], stepIds: [], readsAllSteps: true },
    { path: 'with.byIndex', expression: 'steps[0]', roots: ['steps'], stepIds: [], readsAllSteps: true },
    { path: 'with.unknown', expression: 'inputs.x', roots: ['inputs'], stepIds: [], readsAllSteps: false },
    { path: 'with.unknown', expression: 'true', roots: [], stepIds: [], readsAllSteps: false },
  ]);
});

test('templateReferences collects every syntax error instead of throwing', (t) => {
  t.deepEqual(templateReferences({ a: '{{ input.x ) }} then {{ run.id }} then {{ oops' }, ''), [
    { path: 'a', expression: 'input.x )', roots: [], stepIds: [], readsAllSteps: false, error: 'unexpected ")" at column 12' },
    { path: 'a', expression: 'run.id', roots: ['run'], stepIds: [], readsAllSteps: false },
    { path: 'a', expression: 'oops', roots: [], stepIds: [], readsAllSteps: false, error: '"{{" is never closed by "}}" at column 40' },
  ]);
  t.deepEqual(templateReferences('no templates', 'x'), []);
  t.deepEqual(templateReferences(undefined), []);
  t.deepEqual(templateReferences('{{ input }}'), [{ path: '', expression: 'input', roots: ['input'], stepIds: [], readsAllSteps: false }]);
});

test('conditionReferences handles templated, bare and malformed conditions', (t) => {
  t.deepEqual(conditionReferences('{{ steps.a.output.ok }}', 'if'), [
    { path: 'if', expression: 'steps.a.output.ok', roots: ['steps'], stepIds: ['a'], readsAllSteps: false },
  ]);
  t.deepEqual(conditionReferences('input.x && steps.b.status', 'if'), [
    { path: 'if', expression: 'input.x && steps.b.status', roots: ['input', 'steps'], stepIds: ['b'], readsAllSteps: false },
  ]);
  t.deepEqual(conditionReferences('a {{ b }}', 'if'), [
    {
      path: 'if',
      expression: 'a {{ b }}',
      roots: [],
      stepIds: [],
      readsAllSteps: false,
      error: 'a condition must be one "{{ ... }}" or a bare expression, not text mixed with templates at column 1',
    },
  ]);
});
