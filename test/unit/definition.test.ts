import test from 'ava';
import { AppError, type ValidationIssue } from '../../core/errors.js';
import type { ActionCatalog, DefinitionLimits, WorkflowDefinition } from '../../core/workflows/definition.js';
import { validateDefinition } from '../../core/workflows/validate.js';

const INSTALLED = new Set([
  'core/noop@1',
  'core/delay@1',
  'core/approval@1',
  'core/code@1',
  'http/request@1',
  'llm/chat@1',
  'webhook/post@1',
]);
const catalog: ActionCatalog = {
  checkAction: (uses) => (INSTALLED.has(uses) ? undefined : `action "${uses}" is not installed`),
  resolve: () => null,
};
const limits: DefinitionLimits = { maxSteps: 50, maxDefinitionBytes: 262_144 };

const contractExample = {
  steps: [
    {
      id: 'fetch',
      uses: 'http/request@1',
      with: { method: 'GET', url: 'https://api.example.com/items/{{ input.itemId }}' },
      credential: 'example-api',
      retry: { maxAttempts: 5, initialDelayMs: 1000, maxDelayMs: 60000 },
      timeoutMs: 10000,
    },
    {
      id: 'summarise',
      uses: 'llm/chat@1',
      needs: ['fetch'],
      with: { model: 'gpt-4o-mini', prompt: 'Summarise: {{ steps.fetch.output.body }}' },
    },
    { id: 'review', uses: 'core/approval@1', needs: ['summarise'], if: '{{ steps.summarise.output.flagged }}' },
    { id: 'notify', uses: 'webhook/post@1', needs: ['summarise', 'review'], onError: 'continue' },
  ],
};

const noop = (id: string, extra: Record<string, unknown> = {}) => ({ id, uses: 'core/noop@1', ...extra });

/** The issues of the BAD_USER_INPUT error validation must throw. */
function issuesOf(raw: unknown, lim: DefinitionLimits = limits, cat: ActionCatalog = catalog): ValidationIssue[] {
  try {
    validateDefinition(raw, lim, cat);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    if (err.code !== 'BAD_USER_INPUT') throw new Error(`unexpected code ${err.code}`, { cause: err });
    return (err.details as { issues: ValidationIssue[] }).issues;
  }
  throw new Error('expected the definition to be rejected');
}

/** Issues rendered as `path: message`, the way clients see them. */
const problems = (raw: unknown, lim?: DefinitionLimits, cat?: ActionCatalog): string[] =>
  issuesOf(raw, lim, cat).map((i) => `${i.path}: ${i.message}`);

// --- accepted definitions -------------------------------------------------------------

test('the contract example validates and comes back normalised', (t) => {
  const def = validateDefinition(contractExample, limits, catalog);
  t.deepEqual(
    def.steps.map((s) => s.needs),
    [[], ['fetch'], ['summarise'], ['summarise', 'review']],
  );
  t.deepEqual(def.steps[0], { ...contractExample.steps[0], needs: [] });
  t.is(def.steps[3]?.onError, 'continue');
  t.is(def.steps[2]?.if, '{{ steps.summarise.output.flagged }}');
});

test('the result is a deep copy', (t) => {
  const raw = structuredClone(contractExample);
  const def = validateDefinition(raw, limits, catalog);
  t.not(def, raw as unknown as WorkflowDefinition);
  (def.steps[0]?.with as Record<string, unknown>).url = 'changed';
  def.steps[1]?.needs?.push('x');
  t.deepEqual(raw, contractExample);
});

test('a 10-step diamond DAG with transitive references validates', (t) => {
  const middle = ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
  const raw = {
    description: 'diamond',
    timeoutMs: 3_600_000,
    steps: [
      noop('a', { with: { seed: '{{ input.seed }}' } }),
      ...middle.map((id) => noop(id, { needs: ['a'], with: { v: `{{ steps.a.output.seed }}-${id}` } })),
      // `a` is only a transitive ancestor of `j`, through every middle step.
      noop('j', {
        needs: middle,
        if: "steps.b.status == 'SUCCEEDED' || steps.a.output",
        with: { all: middle.map((id) => `{{ steps.${id}.output.v }}`), root: '{{ steps.a.output }}', run: '{{ run.id }}' },
      }),
    ],
    output: { first: '{{ steps.a.output }}', last: '{{ steps.j.output }}', anyStep: '{{ steps.c.output }}', all: '{{ steps }}' },
  };
  const def = validateDefinition(raw, limits, catalog);
  t.is(def.steps.length, 10);
  t.deepEqual(def.steps[9]?.needs, middle);
});

test('exactly maxSteps steps are accepted, one more is rejected', (t) => {
  const lim = { ...limits, maxSteps: 5 };
  const steps = (n: number) => Array.from({ length: n }, (_, i) => noop(`s${i}`, i > 0 ? { needs: [`s${i - 1}`] } : {}));
  t.is(validateDefinition({ steps: steps(5) }, lim, catalog).steps.length, 5);
  t.deepEqual(problems({ steps: steps(6) }, lim), ['steps: at most 5 steps allowed, got 6']);
});

test('exactly maxDefinitionBytes bytes are accepted, one more is rejected', (t) => {
  // Multi-byte characters: the limit is in UTF-8 bytes, not characters.
  const raw = { description: 'é'.repeat(100), steps: [noop('a')] };
  const size = Buffer.byteLength(JSON.stringify(raw));
  t.is(size, JSON.stringify(raw).length + 100);
  t.notThrows(() => validateDefinition(raw, { ...limits, maxDefinitionBytes: size }, catalog));
  t.deepEqual(problems(raw, { ...limits, maxDefinitionBytes: size - 1 }), [
    `(root): definition is ${size} bytes; the limit is ${size - 1}`,
  ]);
});

test('an oversized definition reports only its size', (t) => {
  const raw = { steps: [{ id: '1bad', uses: 'nope' }], extra: 'x'.repeat(300_000) };
  const size = Buffer.byteLength(JSON.stringify(raw));
  t.deepEqual(problems(raw), [`(root): definition is ${size} bytes; the limit is 262144`]);
});

// --- structure ------------------------------------------------------------------------

test('the error is BAD_USER_INPUT naming the first path', (t) => {
  const err = t.throws(() => validateDefinition({ steps: [noop('a', { needs: ['fetchh'] })] }, limits, catalog), { instanceOf: AppError });
  t.is(err?.code, 'BAD_USER_INPUT');
  t.is(err?.path, 'steps[0].needs[0]');
  t.is(err?.message, 'invalid workflow definition: steps[0].needs[0]: unknown step "fetchh"');
});

test('the root must be an object with steps', (t) => {
  t.deepEqual(problems(null), ['(root): must be an object']);
  t.deepEqual(problems([]), ['(root): must be an object']);
  t.deepEqual(problems('steps'), ['(root): must be an object']);
  t.deepEqual(problems(undefined), ['(root): must be a JSON object']);
  t.deepEqual(problems({}), ['steps: is required']);
  t.deepEqual(problems({ steps: [] }), ['steps: must have at least 1 step']);
  t.deepEqual(problems({ steps: {} }), ['steps: must be an array']);
});

test('non-JSON input is refused, not crashed on', (t) => {
  const cyclic: Record<string, unknown> = { steps: [] };
  cyclic.self = cyclic;
  t.deepEqual(problems(cyclic), ['(root): must be a JSON object']);
});

test('root properties are checked', (t) => {
  t.deepEqual(problems({ steps: [noop('a')], timeoutMs: 0, description: 'x'.repeat(2001), name: 'n', output: { any: ['thing', 1] } }), [
    'name: unknown property',
    'timeoutMs: must be an integer from 1 to 31536000000, got 0',
    'description: must be at most 2000 characters',
  ]);
  t.deepEqual(problems({ steps: [noop('a')], timeoutMs: 31_536_000_001 }), [
    'timeoutMs: must be an integer from 1 to 31536000000, got 31536000001',
  ]);
  t.deepEqual(problems({ steps: [noop('a')], timeoutMs: 1.5 }), ['timeoutMs: must be an integer']);
  t.notThrows(() => validateDefinition({ steps: [noop('a')], timeoutMs: 31_536_000_000, description: 'x'.repeat(2000) }, limits, catalog));
});

test('step properties are checked, all problems at once', (t) => {
  t.deepEqual(
    problems({
      steps: [
        { id: 'a', uses: 'core/noop@1', wiht: {}, with: [], needs: ['x', 'x', 3], if: true, timeoutMs: 86_400_001 },
        {
          id: 'b',
          onError: 'ignore',
          credential: '-bad',
          retry: { maxAttempts: 0, initialDelayMs: -1, maxDelayMs: 86_400_001, jitter: true },
        },
        'not a step',
      ],
    }),
    [
      'steps[0].wiht: unknown property',
      'steps[0].with: must be an object',
      'steps[0].needs[2]: must be a string',
      'steps[0].needs[1]: duplicate "x" (also steps[0].needs[0])',
      'steps[0].if: must be a string',
      'steps[0].timeoutMs: must be an integer from 1 to 86400000, got 86400001',
      'steps[1].uses: is required',
      'steps[1].retry.jitter: unknown property',
      'steps[1].retry.maxAttempts: must be an integer from 1 to 100, got 0',
      'steps[1].retry.initialDelayMs: must be an integer from 0 to 3600000, got -1',
      'steps[1].retry.maxDelayMs: must be an integer from 0 to 86400000, got 86400001',
      'steps[1].onError: must be one of "fail", "continue"',
      'steps[1].credential: must be a credential name: letters, digits, ".", "_" and "-", starting with a letter or digit (at most 128 characters)',
      'steps[2]: must be an object',
    ],
  );
});

test('step ids, uses and credentials follow their patterns', (t) => {
  const idHint = 'must start with a letter and contain only letters, digits, "_" and "-" (at most 64 characters)';
  const usesHint = 'must be "plugin/action@major", e.g. "http/request@1"';
  for (const id of ['1abc', '-a', '', 'a b', 'a.b', 'a'.repeat(65)]) {
    t.deepEqual(problems({ steps: [noop(id)] }), [`steps[0].id: ${idHint}`], id);
  }
  for (const id of ['a', 'A_b-c9', 'a'.repeat(64)]) t.notThrows(() => validateDefinition({ steps: [noop(id)] }, limits, catalog), id);
  for (const uses of ['http/request', 'HTTP/request@1', 'http/request@v1', 'http-request@1', '/request@1', 'http/Request@1']) {
    t.deepEqual(problems({ steps: [{ id: 'a', uses }] }), [`steps[0].uses: ${usesHint}`], uses);
  }
  t.deepEqual(problems({ steps: [noop('a', { id: 7 })] }), ['steps[0].id: must be a string']);
  t.notThrows(() => validateDefinition({ steps: [noop('a', { credential: 'example-api.v2_x' })] }, limits, catalog));
});

test('structural problems stop semantic checks', (t) => {
  t.deepEqual(problems({ steps: [noop('a', { needs: ['ghost'] }), noop('a', { bogus: 1 })] }), ['steps[1].bogus: unknown property']);
});

// --- graph ------------------------------------------------------------------------------

test('duplicate step ids', (t) => {
  t.deepEqual(problems({ steps: [noop('x'), noop('a'), noop('b'), noop('a')] }), ['steps[3].id: duplicate step id "a" (also steps[1])']);
});

test('unknown needs', (t) => {
  t.deepEqual(problems({ steps: [noop('fetch'), noop('b'), noop('c', { needs: ['fetchh', 'b', 'zz'] })] }), [
    'steps[2].needs[0]: unknown step "fetchh"',
    'steps[2].needs[2]: unknown step "zz"',
  ]);
});

test('self-dependency', (t) => {
  t.deepEqual(problems({ steps: [noop('a'), noop('b', { needs: ['a', 'b'] })] }), ['steps[1].needs[1]: step "b" cannot depend on itself']);
});

test('cycles are reported once, with their path', (t) => {
  t.deepEqual(problems({ steps: [noop('a', { needs: ['b'] }), noop('b', { needs: ['c'] }), noop('c', { needs: ['a'] })] }), [
    'steps[0].needs[0]: cycle a -> b -> c -> a',
  ]);
  t.deepEqual(
    problems({
      steps: [
        noop('root'),
        noop('x', { needs: ['root', 'y'] }),
        noop('y', { needs: ['x'] }),
        noop('p', { needs: ['q'] }),
        noop('q', { needs: ['p'] }),
      ],
    }),
    ['steps[1].needs[1]: cycle x -> y -> x'],
  );
});

// --- actions and retry --------------------------------------------------------------------

test('unknown actions use the catalog reason', (t) => {
  t.deepEqual(problems({ steps: [noop('a'), { id: 'b', uses: 'crm/upsert@2' }, { id: 'c', uses: 'crm/upsert@2' }] }), [
    'steps[1].uses: action "crm/upsert@2" is not installed',
    'steps[2].uses: action "crm/upsert@2" is not installed',
  ]);
});

test('the catalog is asked once per distinct action', (t) => {
  const asked: string[] = [];
  const counting: ActionCatalog = { checkAction: (u) => (asked.push(u), undefined), resolve: () => null };
  validateDefinition({ steps: [noop('a'), noop('b'), { id: 'c', uses: 'http/request@1' }] }, limits, counting);
  t.deepEqual(asked, ['core/noop@1', 'http/request@1']);
});

test('retry.initialDelayMs may not exceed retry.maxDelayMs', (t) => {
  t.deepEqual(problems({ steps: [noop('a', { retry: { initialDelayMs: 5000, maxDelayMs: 1000 } })] }), [
    'steps[0].retry.initialDelayMs: must not exceed retry.maxDelayMs (5000 > 1000)',
  ]);
  t.notThrows(() => validateDefinition({ steps: [noop('a', { retry: { initialDelayMs: 1000, maxDelayMs: 1000 } })] }, limits, catalog));
});

// --- templates ----------------------------------------------------------------------------

test('template syntax errors in with, if and output', (t) => {
  t.deepEqual(
    problems({
      steps: [
        noop('a', { with: { url: 'https://x/{{ input.id ) }}', headers: { Authorization: 'Bearer {{ input.token' } } }),
        noop('b', { needs: ['a'], if: '{{ steps.a.output.ok == }}' }),
        noop('c', { if: 'ok: {{ input.ok }}' }),
      ],
      output: { x: ['{{ steps.a.output..x }}'] },
    }),
    [
      'steps[0].with.url: invalid template: unexpected ")" at column 23',
      'steps[0].with.headers.Authorization: invalid template: "{{" is never closed by "}}" at column 8',
      'steps[1].if: invalid template: expected an expression after "==" at column 25',
      'steps[2].if: invalid template: a condition must be one "{{ ... }}" or a bare expression, not text mixed with templates at column 1',
      'output.x[0]: invalid template: expected a property name after "." but found "." at column 19',
    ],
  );
});

test('templates may only read input, steps and run', (t) => {
  t.deepEqual(problems({ steps: [noop('a', { with: { a: '{{ inputs.x }}', b: '{{ env.HOME }} {{ process }}' }, if: 'secrets.key' })] }), [
    'steps[0].with.a: unknown variable "inputs"; templates may read input, steps and run',
    'steps[0].with.b: unknown variable "env"; templates may read input, steps and run',
    'steps[0].with.b: unknown variable "process"; templates may read input, steps and run',
    'steps[0].if: unknown variable "secrets"; templates may read input, steps and run',
  ]);
  t.deepEqual(problems({ steps: [noop('a', { with: { a: '{{ constructor }}', b: '{{ toString }}' } })] }), [
    'steps[0].with.a: unknown variable "constructor"; templates may read input, steps and run',
    'steps[0].with.b: unknown variable "toString"; templates may read input, steps and run',
  ]);
});

test('steps may only read upstream steps', (t) => {
  t.deepEqual(
    problems({
      steps: [
        noop('fetch', { with: { prompt: '{{ steps.summarise.output }}' } }),
        noop('summarise', { needs: ['fetch'], with: { self: '{{ steps.summarise.output }}', ok: '{{ steps.fetch.output }}' } }),
        noop('side', { if: "{{ steps['fetch'].status == 'FAILED' }}" }),
        noop('ghost', { with: { x: '{{ steps.nope.output }}', all: ['{{ steps }}'] } }),
      ],
    }),
    [
      'steps[0].with.prompt: step "summarise" is not upstream of "fetch"; add it to needs',
      'steps[1].with.self: step "summarise" cannot read its own output',
      'steps[2].if: step "fetch" is not upstream of "side"; add it to needs',
      'steps[3].with.x: unknown step "nope"',
      'steps[3].with.all[0]: a step may only read named upstream steps, as in steps.<id>.output',
    ],
  );
});

test('root output may read any existing step, but not unknown ones', (t) => {
  const steps = [noop('a'), noop('b')];
  t.notThrows(() => validateDefinition({ steps, output: { a: '{{ steps.a.output }}', b: 'B={{ steps.b.output }}' } }, limits, catalog));
  t.deepEqual(problems({ steps, output: '{{ steps.c.output || inputs }}' }), [
    'output: unknown variable "inputs"; templates may read input, steps and run',
    'output: unknown step "c"',
  ]);
});

test('the issue list is capped at 50', (t) => {
  const steps = Array.from({ length: 80 }, (_, i) => noop(`s${i}`, { needs: [`missing${i}`] }));
  const issues = issuesOf({ steps }, { ...limits, maxSteps: 100 });
  t.is(issues.length, 50);
  t.deepEqual(issues[49], { path: 'steps[49].needs[0]', message: 'unknown step "missing49"' });
});
