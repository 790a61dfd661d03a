/**
 * Validation of workflow definitions. Structure is checked by a JSON Schema (so every shape
 * problem is found in one pass); the graph, the action catalog and the templates are then
 * checked in code, because their rules depend on the other steps.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { invalid, type ValidationIssue } from '../errors.js';
import type { ActionCatalog, DefinitionLimits, StepDefinition, WorkflowDefinition } from './definition.js';
import { appendPath, pointerToPath, withArticle } from '../jsonPaths.js';
import { conditionReferences, TEMPLATE_ROOTS, templateReferences, type TemplateReference } from './templates.js';

/** Enough to fix a definition in a few rounds without flooding the client. */
const MAX_ISSUES = 50;

const STEP_ID = '^[A-Za-z][A-Za-z0-9_-]{0,63}$';
const USES = '^[a-z][a-z0-9-]*/[a-z][a-zA-Z0-9_-]*@[0-9]+$';
const CREDENTIAL = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';

const PATTERN_HINTS: Record<string, string> = {
  [STEP_ID]: 'must start with a letter and contain only letters, digits, "_" and "-" (at most 64 characters)',
  [USES]: 'must be "plugin/action@major", e.g. "http/request@1"',
  [CREDENTIAL]: 'must be a credential name: letters, digits, ".", "_" and "-", starting with a letter or digit (at most 128 characters)',
};

const integer = (minimum: number, maximum: number) => ({ type: 'integer', minimum, maximum });

const retrySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxAttempts: integer(1, 100),
    initialDelayMs: integer(0, 3_600_000),
    maxDelayMs: integer(0, 86_400_000),
  },
};

/** Actions a compensation may not use: it must run to completion on its own, with nobody to wait for. */
const NOT_COMPENSATIONS: Record<string, string> = {
  'core/approval@1': 'a compensation cannot wait for an approval; it runs when the run has already failed',
  'core/delay@1': 'a compensation cannot be a delay; give the compensating action a retry policy instead',
};

// The step count limit is per tenant, so it is checked in code and the schema compiled once.
const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['steps'],
  properties: {
    steps: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'uses'],
        properties: {
          id: { type: 'string', pattern: STEP_ID },
          uses: { type: 'string', pattern: USES },
          with: { type: 'object' },
          needs: { type: 'array', items: { type: 'string' }, uniqueItems: true },
          if: { type: 'string' },
          retry: retrySchema,
          timeoutMs: integer(1, 86_400_000),
          onError: { type: 'string', enum: ['fail', 'continue'] },
          credential: { type: 'string', pattern: CREDENTIAL },
          compensate: {
            type: 'object',
            additionalProperties: false,
            required: ['uses'],
            properties: {
              uses: { type: 'string', pattern: USES },
              with: { type: 'object' },
              retry: retrySchema,
              timeoutMs: integer(1, 86_400_000),
              credential: { type: 'string', pattern: CREDENTIAL },
            },
          },
        },
      },
    },
    timeoutMs: integer(1, 31_536_000_000),
    output: {},
    description: { type: 'string', maxLength: 2000 },
  },
};

const ajv = new Ajv({ allErrors: true, verbose: true, strict: true });
const checkShape = ajv.compile(schema);

function issueFromAjv(e: ErrorObject): ValidationIssue {
  const at = pointerToPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  const issue = (path: string, message: string): ValidationIssue => ({ path: path || '(root)', message });
  switch (e.keyword) {
    case 'additionalProperties':
      return issue(appendPath(at, String(p.additionalProperty)), 'unknown property');
    case 'required':
      return issue(appendPath(at, String(p.missingProperty)), 'is required');
    case 'type':
      return issue(at, `must be ${withArticle(String(p.type))}`);
    case 'pattern':
      return issue(at, PATTERN_HINTS[String(p.pattern)] ?? `must match ${String(p.pattern)}`);
    case 'minimum':
    case 'maximum':
      return issue(at, `must be an integer from ${String(parent.minimum)} to ${String(parent.maximum)}, got ${JSON.stringify(e.data)}`);
    case 'enum':
      return issue(at, `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`);
    case 'uniqueItems': {
      // ajv reports the later duplicate as i and the earlier one as j.
      const [later, earlier] = [Number(p.i), Number(p.j)].sort((a, b) => b - a) as [number, number];
      const value = (e.data as unknown[])[later];
      return issue(appendPath(at, later), `duplicate ${JSON.stringify(value)} (also ${appendPath(at, earlier)})`);
    }
    case 'minItems':
      return issue(at, at === 'steps' ? 'must have at least 1 step' : `must have at least ${String(p.limit)} items`);
    case 'maxLength':
      return issue(at, `must be at most ${String(p.limit)} characters`);
    default:
      return issue(at, e.message ?? 'is invalid');
  }
}

class Issues {
  readonly list: ValidationIssue[] = [];
  private readonly seen = new Set<string>();
  add(path: string, message: string): void {
    const key = `${path}\u0000${message}`;
    if (this.list.length >= MAX_ISSUES || this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push({ path, message });
  }
}

/** One cycle in the `needs` graph, as the step ids around it and the edge that starts it. */
function findCycle(steps: StepDefinition[], indexById: Map<string, number>): { ids: string[]; step: number; need: number } | undefined {
  // Iterative DFS: a long `needs` chain must not be able to exhaust the call stack.
  const state = new Array<0 | 1 | 2>(steps.length).fill(0);
  for (let start = 0; start < steps.length; start++) {
    if (state[start] !== 0) continue;
    const stack: { i: number; k: number }[] = [{ i: start, k: 0 }];
    state[start] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as { i: number; k: number };
      const needs = (steps[top.i] as StepDefinition).needs ?? [];
      if (top.k >= needs.length) {
        state[top.i] = 2;
        stack.pop();
        continue;
      }
      const j = indexById.get(needs[top.k++] as string);
      if (j === undefined || j === top.i) continue;
      if (state[j] === 1) {
        const from = stack.findIndex((f) => f.i === j);
        const cycle = stack.slice(from).map((f) => (steps[f.i] as StepDefinition).id);
        const first = stack[from] as { i: number; k: number };
        return { ids: [...cycle, (steps[j] as StepDefinition).id], step: first.i, need: first.k - 1 };
      }
      if (state[j] === 0) {
        state[j] = 1;
        stack.push({ i: j, k: 0 });
      }
    }
  }
  return undefined;
}

/** Ids of every step that must settle before step `index` (transitive `needs`). */
function ancestorsOf(index: number, steps: StepDefinition[], indexById: Map<string, number>): Set<string> {
  const seen = new Set<string>();
  const queue = [...((steps[index] as StepDefinition).needs ?? [])];
  while (queue.length > 0) {
    const id = queue.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    const j = indexById.get(id);
    if (j !== undefined) queue.push(...((steps[j] as StepDefinition).needs ?? []));
  }
  return seen;
}

/**
 * `step` is the reading step's index, or undefined for the root `output`, which may read any
 * step. `readsOwnOutput`: a compensation's templates, which run after the step succeeded.
 */
function checkReferences(
  refs: TemplateReference[],
  step: number | undefined,
  steps: StepDefinition[],
  indexById: Map<string, number>,
  issues: Issues,
  readsOwnOutput = false,
): void {
  let ancestors: Set<string> | undefined;
  for (const ref of refs) {
    if (ref.error !== undefined) {
      issues.add(ref.path, `invalid template: ${ref.error}`);
      continue;
    }
    for (const root of ref.roots) {
      if (!TEMPLATE_ROOTS.includes(root)) issues.add(ref.path, `unknown variable "${root}"; templates may read input, steps and run`);
    }
    if (ref.readsAllSteps && step !== undefined) {
      issues.add(ref.path, 'a step may only read named upstream steps, as in steps.<id>.output');
    }
    for (const id of ref.stepIds) {
      if (!indexById.has(id)) {
        issues.add(ref.path, `unknown step "${id}"`);
        continue;
      }
      if (step === undefined) continue;
      const self = (steps[step] as StepDefinition).id;
      if (id === self) {
        if (!readsOwnOutput) issues.add(ref.path, `step "${self}" cannot read its own output`);
        continue;
      }
      ancestors ??= ancestorsOf(step, steps, indexById);
      if (!ancestors.has(id)) issues.add(ref.path, `step "${id}" is not upstream of "${self}"; add it to needs`);
    }
  }
}

function checkRetry(retry: StepDefinition['retry'], at: string, issues: Issues): void {
  const { initialDelayMs, maxDelayMs } = retry ?? {};
  if (initialDelayMs !== undefined && maxDelayMs !== undefined && initialDelayMs > maxDelayMs) {
    issues.add(`${at}.initialDelayMs`, `must not exceed retry.maxDelayMs (${initialDelayMs} > ${maxDelayMs})`);
  }
}

function checkSemantics(def: WorkflowDefinition, catalog: ActionCatalog, issues: Issues): void {
  const { steps } = def;
  const indexById = new Map<string, number>();
  steps.forEach((s, i) => {
    const first = indexById.get(s.id);
    if (first === undefined) indexById.set(s.id, i);
    else issues.add(`steps[${i}].id`, `duplicate step id "${s.id}" (also steps[${first}])`);
  });

  const actionReasons = new Map<string, string | undefined>();
  steps.forEach((s, i) => {
    (s.needs ?? []).forEach((need, j) => {
      if (need === s.id) issues.add(`steps[${i}].needs[${j}]`, `step "${s.id}" cannot depend on itself`);
      else if (!indexById.has(need)) issues.add(`steps[${i}].needs[${j}]`, `unknown step "${need}"`);
    });
    if (!actionReasons.has(s.uses)) actionReasons.set(s.uses, catalog.checkAction(s.uses));
    const reason = actionReasons.get(s.uses);
    if (reason !== undefined) issues.add(`steps[${i}].uses`, reason);
    checkRetry(s.retry, `steps[${i}].retry`, issues);
    const refs = templateReferences(s.with ?? {}, `steps[${i}].with`);
    if (s.if !== undefined) refs.push(...conditionReferences(s.if, `steps[${i}].if`));
    checkReferences(refs, i, steps, indexById, issues);
    if (s.compensate) {
      const at = `steps[${i}].compensate`;
      const refusal = NOT_COMPENSATIONS[s.compensate.uses];
      if (!actionReasons.has(s.compensate.uses)) actionReasons.set(s.compensate.uses, catalog.checkAction(s.compensate.uses));
      const reason = refusal ?? actionReasons.get(s.compensate.uses);
      if (reason !== undefined) issues.add(`${at}.uses`, reason);
      checkRetry(s.compensate.retry, `${at}.retry`, issues);
      checkReferences(templateReferences(s.compensate.with ?? {}, `${at}.with`), i, steps, indexById, issues, true);
    }
  });

  const cycle = findCycle(steps, indexById);
  if (cycle) issues.add(`steps[${cycle.step}].needs[${cycle.need}]`, `cycle ${cycle.ids.join(' -> ')}`);

  if (def.output !== undefined) checkReferences(templateReferences(def.output, 'output'), undefined, steps, indexById, issues);
}

/**
 * Checks a client-supplied definition and returns a normalised deep copy (every step has
 * `needs`), or throws BAD_USER_INPUT listing every problem found (at most 50).
 */
export function validateDefinition(raw: unknown, limits: DefinitionLimits, catalog: ActionCatalog): WorkflowDefinition {
  const issues = new Issues();
  let text: string | undefined;
  try {
    text = JSON.stringify(raw);
  } catch {
    // Cyclic or BigInt-holding values cannot come from JSON; refuse rather than crash.
  }
  if (text === undefined) {
    issues.add('(root)', 'must be a JSON object');
    throw invalid(issues.list, 'workflow definition');
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limits.maxDefinitionBytes) {
    issues.add('(root)', `definition is ${bytes} bytes; the limit is ${limits.maxDefinitionBytes}`);
    throw invalid(issues.list, 'workflow definition');
  }

  // Validate the re-parsed copy: it is what gets stored, and it is plain JSON whatever raw was.
  const copy = JSON.parse(text) as unknown;
  const stepCount = (copy as { steps?: unknown } | null)?.steps;
  if (Array.isArray(stepCount) && stepCount.length > limits.maxSteps) {
    issues.add('steps', `at most ${limits.maxSteps} steps allowed, got ${stepCount.length}`);
  }
  if (!checkShape(copy))
    for (const e of checkShape.errors ?? []) {
      const { path, message } = issueFromAjv(e);
      issues.add(path, message);
    }
  if (issues.list.length > 0) throw invalid(issues.list, 'workflow definition');

  const def = copy as WorkflowDefinition;
  def.steps = def.steps.map((s) => ({ ...s, needs: s.needs ?? [] }));
  checkSemantics(def, catalog, issues);
  if (issues.list.length > 0) throw invalid(issues.list, 'workflow definition');
  return def;
}
