/**
 * The `{{ ... }}` template language. Workflow authors are tenants, so templates must only
 * read data: this is a hand-written tokenizer and recursive-descent parser over a tiny
 * grammar (literals, paths, `!`, comparisons, `&&`, `||`, parentheses) evaluated by a tree
 * walk. There is deliberately no eval/Function/vm and no call syntax anywhere.
 */
import { appendPath } from '../jsonPaths.js';
import type { TemplateScope } from './definition.js';

/**
 * What a template reads: a run's scope, or another feature's named values (a webhook
 * delivery's body, headers and query). Only the scope's own properties are roots.
 */
export type TemplateValues = TemplateScope | Readonly<Record<string, unknown>>;

export type BinaryOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | '&&' | '||';

export type Expr =
  | { kind: 'literal'; value: string | number | boolean | null }
  | { kind: 'path'; root: string; keys: (string | number)[] }
  | { kind: 'not'; operand: Expr }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr };

/** `problem` says what is wrong; `column` is 1-based in the text parsed (the whole string, for templates). */
export class TemplateSyntaxError extends Error {
  constructor(
    readonly problem: string,
    readonly column: number,
  ) {
    super(`${problem} at column ${column}`);
    this.name = 'TemplateSyntaxError';
  }
}

/** The roots a template may read; anything else is rejected by validation. */
export const TEMPLATE_ROOTS: readonly string[] = ['input', 'steps', 'run'];

// Limits keep pathological expressions from blowing the stack of the recursive parser and
// evaluator; real templates are nowhere near them.
const MAX_TOKENS = 1000;
const MAX_DEPTH = 64;
const CACHE_SIZE = 5000;

/** FIFO-bounded memo: the engine re-evaluates the same few templates on every step. */
function remember<V>(cache: Map<string, V>, key: string, value: V): V {
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  cache.set(key, value);
  return value;
}

interface Token {
  type: 'num' | 'str' | 'ident' | 'punct' | 'eof';
  value: string | number;
  col: number;
}

// Groups: whitespace, number, name, operator, opening quote. There is no subtraction, so a
// '-' before a digit can only start a negative number, and names may keep inner hyphens
// (step ids like `my-step` allow them).
const TOKEN =
  /(\s+)|(-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)|([A-Za-z_$](?:[A-Za-z0-9_$]|-(?=[A-Za-z0-9_$]))*)|(==|!=|<=|>=|&&|\|\||[<>!.[\]()])|(["'])/y;
const IDENT_PART = /[A-Za-z0-9_$]/;
const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
  v: '\v',
  '0': '\0',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '/': '/',
};
const HINTS: Record<string, string> = { '=': '; use "==" to compare', '&': '; use "&&"', '|': '; use "||"' };

const KEYWORDS: Record<string, boolean | null> = Object.assign(Object.create(null) as object, { true: true, false: false, null: null });

const show = (t: Token): string =>
  t.type === 'eof' ? 'end of expression' : t.type === 'str' ? `string ${JSON.stringify(t.value)}` : `"${t.value}"`;

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const col = i + 1;
    TOKEN.lastIndex = i;
    const m = TOKEN.exec(src);
    if (!m) {
      const c = src[i] as string;
      throw new TemplateSyntaxError(`unexpected character ${JSON.stringify(c)}${HINTS[c] ?? ''}`, col);
    }
    if (m[1] !== undefined) {
      i = TOKEN.lastIndex;
      continue;
    }
    if (tokens.length >= MAX_TOKENS) throw new TemplateSyntaxError(`expression is longer than ${MAX_TOKENS} tokens`, col);
    if (m[5] !== undefined) {
      const [value, end] = readString(src, i);
      tokens.push({ type: 'str', value, col });
      i = end;
      continue;
    }
    i = TOKEN.lastIndex;
    if (m[2] !== undefined) {
      if (IDENT_PART.test(src[i] ?? '')) throw new TemplateSyntaxError(`invalid number "${m[2]}${src[i]}"`, col);
      tokens.push({ type: 'num', value: Number(m[2]), col });
    } else tokens.push({ type: m[3] !== undefined ? 'ident' : 'punct', value: m[0], col });
  }
  tokens.push({ type: 'eof', value: '', col: src.length + 1 });
  return tokens;
}

/** Reads the quoted string starting at `start`; returns its value and the index after it. */
function readString(src: string, start: number): [string, number] {
  const quote = src[start];
  let out = '';
  for (let i = start + 1; i < src.length; i++) {
    const c = src[i] as string;
    if (c === quote) return [out, i + 1];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = src[++i] ?? '';
    const hex = e === 'u' ? /^[0-9a-fA-F]{4}/.exec(src.slice(i + 1))?.[0] : undefined;
    if (ESCAPES[e] !== undefined) out += ESCAPES[e];
    else if (hex !== undefined) {
      out += String.fromCharCode(parseInt(hex, 16));
      i += 4;
    } else if (e) throw new TemplateSyntaxError(`invalid escape "\\${e}" in string`, i);
  }
  throw new TemplateSyntaxError('unterminated string', start + 1);
}

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): Expr {
    if (this.peek().type === 'eof') throw new TemplateSyntaxError('empty expression', 1);
    const expr = this.or();
    if (this.peek().type !== 'eof') throw new TemplateSyntaxError(`unexpected ${show(this.peek())}`, this.peek().col);
    return expr;
  }

  private peek = (): Token => this.tokens[this.pos] as Token;
  private next = (): Token => this.tokens[this.pos++] as Token;
  private isPunct = (value: string): boolean => this.peek().type === 'punct' && this.peek().value === value;
  private expectPunct(value: string, context: string): void {
    const t = this.next();
    if (t.type !== 'punct' || t.value !== value)
      throw new TemplateSyntaxError(`expected "${value}" ${context} but found ${show(t)}`, t.col);
  }

  private binary(ops: readonly BinaryOp[], operand: () => Expr): Expr {
    let left = operand();
    for (;;) {
      const t = this.peek();
      const op = ops.find((o) => t.type === 'punct' && t.value === o);
      if (!op) return left;
      this.pos++;
      if (this.peek().type === 'eof') throw new TemplateSyntaxError(`expected an expression after "${op}"`, this.peek().col);
      left = { kind: 'binary', op, left, right: operand() };
    }
  }
  private or = (): Expr => this.binary(['||'], this.and);
  private and = (): Expr => this.binary(['&&'], this.equality);
  private equality = (): Expr => this.binary(['==', '!='], this.comparison);
  private comparison = (): Expr => this.binary(['<=', '>=', '<', '>'], this.unary);

  private unary = (): Expr => {
    if (++this.depth > MAX_DEPTH) throw new TemplateSyntaxError('expression is nested too deeply', this.peek().col);
    try {
      if (!this.isPunct('!')) return this.primary();
      this.pos++;
      return { kind: 'not', operand: this.unary() };
    } finally {
      this.depth--;
    }
  };

  private primary(): Expr {
    const t = this.next();
    if (t.type === 'num' || t.type === 'str') return { kind: 'literal', value: t.value };
    if (t.type === 'punct' && t.value === '(') {
      const inner = this.or();
      this.expectPunct(')', 'to close "("');
      return inner;
    }
    if (t.type === 'ident') {
      const name = t.value as string;
      return name in KEYWORDS ? { kind: 'literal', value: KEYWORDS[name] as boolean | null } : this.path(name);
    }
    throw new TemplateSyntaxError(`expected a value but found ${show(t)}`, t.col);
  }

  private path(root: string): Expr {
    const keys: (string | number)[] = [];
    for (;;) {
      if (this.isPunct('.')) {
        this.pos++;
        const name = this.next();
        if (name.type !== 'ident') throw new TemplateSyntaxError(`expected a property name after "." but found ${show(name)}`, name.col);
        keys.push(name.value as string);
      } else if (this.isPunct('[')) {
        this.pos++;
        const key = this.next();
        if (key.type === 'str') keys.push(key.value as string);
        else if (key.type === 'num' && Number.isSafeInteger(key.value) && (key.value as number) >= 0) keys.push(key.value as number);
        else throw new TemplateSyntaxError(`expected a non-negative integer or a quoted key inside "[ ]" but found ${show(key)}`, key.col);
        this.expectPunct(']', 'after the key');
      } else if (this.isPunct('(')) throw new TemplateSyntaxError('function calls are not supported', this.peek().col);
      else return { kind: 'path', root, keys };
    }
  }
}

const expressionCache = new Map<string, Expr>();

/** Parses one expression (the text between `{{` and `}}`); throws TemplateSyntaxError. */
export function parseExpression(src: string): Expr {
  return expressionCache.get(src) ?? remember(expressionCache, src, new Parser(tokenize(src)).parse());
}

const BLOCKED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && [Object.prototype, null].includes(Object.getPrototypeOf(v));

/** Reads an own data property only: never the prototype chain, never a getter. */
function member(obj: unknown, key: string | number): unknown {
  const k = String(key);
  if (BLOCKED_KEYS.has(k) || !(Array.isArray(obj) || isPlainObject(obj)) || !Object.hasOwn(obj, k)) return undefined;
  const d = Object.getOwnPropertyDescriptor(obj, k);
  return d && 'value' in d && typeof d.value !== 'function' ? d.value : undefined;
}

const rootValue = (scope: TemplateValues, root: string): unknown =>
  Object.hasOwn(scope, root) ? (scope as Readonly<Record<string, unknown>>)[root] : undefined;

/** Deep equality over JSON values; a missing value (undefined) equals null, as JSON has no undefined. */
function jsonEqual(a: unknown, b: unknown): boolean {
  const x = a === undefined ? null : a;
  const y = b === undefined ? null : b;
  if (x === y) return true;
  if (Array.isArray(x)) return Array.isArray(y) && x.length === y.length && x.every((v, i) => jsonEqual(v, y[i]));
  if (isPlainObject(x) && isPlainObject(y)) {
    const kx = Object.keys(x);
    return kx.length === Object.keys(y).length && kx.every((k) => Object.hasOwn(y, k) && jsonEqual(x[k], y[k]));
  }
  return false;
}

/** Ordering only between two numbers or two strings; mixed types compare false rather than coerce. */
function compare(op: '<' | '<=' | '>' | '>=', a: unknown, b: unknown): boolean {
  if (!((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string'))) return false;
  return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
}

export function evaluate(expr: Expr, scope: TemplateValues): unknown {
  switch (expr.kind) {
    case 'literal':
      return expr.value;
    case 'not':
      return !evaluate(expr.operand, scope);
    case 'path':
      return expr.keys.reduce<unknown>((v, key) => member(v, key), rootValue(scope, expr.root));
    case 'binary': {
      const left = evaluate(expr.left, scope);
      switch (expr.op) {
        case '&&':
          return left ? evaluate(expr.right, scope) : left;
        case '||':
          return left ? left : evaluate(expr.right, scope);
        case '==':
          return jsonEqual(left, evaluate(expr.right, scope));
        case '!=':
          return !jsonEqual(left, evaluate(expr.right, scope));
        default:
          return compare(expr.op, left, evaluate(expr.right, scope));
      }
    }
  }
}

/** Parses (cached) and evaluates one bare expression. */
export function evaluateExpression(src: string, scope: TemplateValues): unknown {
  return evaluate(parseExpression(src), scope);
}

type Segment =
  | { kind: 'text'; text: string }
  | { kind: 'expr'; src: string; offset: number }
  | { kind: 'error'; error: TemplateSyntaxError; src: string };

/** Splits a string into text and `{{ }}` segments; `offset` is where the expression source starts. */
function scanTemplate(str: string): Segment[] {
  const segments: Segment[] = [];
  let i = 0;
  while (i < str.length) {
    const open = str.indexOf('{{', i);
    if (open < 0) break;
    if (open > i) segments.push({ kind: 'text', text: str.slice(i, open) });
    const end = findClose(str, open + 2);
    if (end < 0) {
      segments.push({ kind: 'error', src: str.slice(open + 2), error: new TemplateSyntaxError('"{{" is never closed by "}}"', open + 1) });
      return segments;
    }
    segments.push({ kind: 'expr', src: str.slice(open + 2, end), offset: open + 2 });
    i = end + 2;
  }
  if (i < str.length) segments.push({ kind: 'text', text: str.slice(i) });
  return segments;
}

/** Finds the `}}` closing an expression, skipping quoted strings so `{{ 'a}}b' }}` works. */
function findClose(str: string, from: number): number {
  for (let i = from; i < str.length; i++) {
    const c = str[i];
    if (c === '}' && str[i + 1] === '}') return i;
    if (c !== '"' && c !== "'") continue;
    for (i++; i < str.length && str[i] !== c; i++) if (str[i] === '\\') i++;
    // An unterminated quote: fall back to the first `}}` so the parser can point at the quote.
    if (i >= str.length) return str.indexOf('}}', from);
  }
  return -1;
}

function parseAt(src: string, offset: number): Expr {
  try {
    return parseExpression(src);
  } catch (err) {
    if (err instanceof TemplateSyntaxError) throw new TemplateSyntaxError(err.problem, err.column + offset);
    throw err;
  }
}

interface CompiledTemplate {
  parts: (string | Expr)[];
  /** Set when the trimmed string is exactly one `{{ }}`: its value is returned with its type. */
  whole: Expr | undefined;
}

const templateCache = new Map<string, CompiledTemplate>();

function compileTemplate(str: string): CompiledTemplate {
  const hit = templateCache.get(str);
  if (hit) return hit;
  const parts: (string | Expr)[] = [];
  for (const s of scanTemplate(str)) {
    if (s.kind === 'error') throw s.error;
    parts.push(s.kind === 'text' ? s.text : parseAt(s.src, s.offset));
  }
  const exprs = parts.filter((p): p is Expr => typeof p !== 'string');
  const onlyBlankText = parts.every((p) => typeof p !== 'string' || p.trim() === '');
  return remember(templateCache, str, { parts, whole: exprs.length === 1 && onlyBlankText ? exprs[0] : undefined });
}

const toText = (v: unknown): string =>
  v === undefined || v === null ? '' : typeof v === 'string' ? v : typeof v === 'object' ? (JSON.stringify(v) ?? '') : String(v);

function renderString(str: string, scope: TemplateValues): unknown {
  if (!str.includes('{{')) return str;
  const t = compileTemplate(str);
  if (t.whole) return evaluate(t.whole, scope) ?? null;
  let out = '';
  for (const p of t.parts) out += typeof p === 'string' ? p : toText(evaluate(p, scope));
  return out;
}

/**
 * Renders every string in a JSON value. A string that is exactly one `{{ expr }}` (ignoring
 * surrounding whitespace) becomes the expression's value with its type (missing → null);
 * the value is shared with the scope, not copied. Other templates are interpolated as text.
 * Object keys are left alone. Throws TemplateSyntaxError on a malformed template.
 */
export function renderTemplate(value: unknown, scope: TemplateValues): unknown {
  if (typeof value === 'string') return renderString(value, scope);
  if (Array.isArray(value)) return value.map((v) => renderTemplate(v, scope));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // Plain assignment of "__proto__" would set the prototype instead of a key.
      if (k === '__proto__')
        Object.defineProperty(out, k, { value: renderTemplate(v, scope), enumerable: true, writable: true, configurable: true });
      else out[k] = renderTemplate(v, scope);
    }
    return out;
  }
  return value;
}

function conditionExpr(src: string): { expr: Expr } | { error: TemplateSyntaxError } {
  try {
    if (!src.includes('{{')) return { expr: parseExpression(src) };
    const t = compileTemplate(src);
    if (t.whole) return { expr: t.whole };
    return { error: new TemplateSyntaxError('a condition must be one "{{ ... }}" or a bare expression, not text mixed with templates', 1) };
  } catch (err) {
    if (err instanceof TemplateSyntaxError) return { error: err };
    throw err;
  }
}

/** Evaluates a step `if`: either `{{ expr }}` or a bare `expr`; JS truthiness of the value. */
export function evaluateCondition(src: string, scope: TemplateValues): boolean {
  const c = conditionExpr(src);
  if ('error' in c) throw c.error;
  return Boolean(evaluate(c.expr, scope));
}

/** One expression found in a value, as reported by templateReferences/conditionReferences. */
export interface TemplateReference {
  /** Path of the string holding it, prefixed by basePath: `with.url`, `with.headers["X-Key"]`, `with.items[0]`. */
  path: string;
  /** The expression source between the braces, trimmed (for a bare condition, the condition). */
  expression: string;
  /** Distinct root identifiers read, in order of appearance (may include unknown ones like `inputs`). */
  roots: string[];
  /** Distinct step ids read as `steps.X` or `steps['X']`. */
  stepIds: string[];
  /** True when `steps` is read without naming a step (`{{ steps }}`, `steps[0]`). */
  readsAllSteps: boolean;
  /** The syntax error message (with column in the string) when it does not parse; the lists are then empty. */
  error?: string;
}

function describe(path: string, src: string, expr: Expr): TemplateReference {
  const ref: TemplateReference = { path, expression: src.trim(), roots: [], stepIds: [], readsAllSteps: false };
  const visit = (e: Expr): void => {
    if (e.kind === 'not') visit(e.operand);
    else if (e.kind === 'binary') [e.left, e.right].forEach(visit);
    else if (e.kind === 'path') {
      if (!ref.roots.includes(e.root)) ref.roots.push(e.root);
      const id = e.keys[0];
      if (e.root === 'steps' && typeof id !== 'string') ref.readsAllSteps = true;
      else if (e.root === 'steps' && !ref.stepIds.includes(id as string)) ref.stepIds.push(id as string);
    }
  };
  visit(expr);
  return ref;
}

const failed = (path: string, src: string, error: unknown): TemplateReference => {
  if (!(error instanceof TemplateSyntaxError)) throw error;
  return { path, expression: src.trim(), roots: [], stepIds: [], readsAllSteps: false, error: error.message };
};

/**
 * Every `{{ }}` expression in the strings of a JSON value (objects and arrays walked, keys
 * not), each with where it is and what it reads. Syntax errors are reported, not thrown.
 */
export function templateReferences(value: unknown, basePath = ''): TemplateReference[] {
  const out: TemplateReference[] = [];
  const walk = (v: unknown, path: string): void => {
    if (typeof v === 'string') {
      if (!v.includes('{{')) return;
      for (const s of scanTemplate(v)) {
        if (s.kind === 'text') continue;
        try {
          out.push(s.kind === 'error' ? failed(path, s.src, s.error) : describe(path, s.src, parseAt(s.src, s.offset)));
        } catch (err) {
          out.push(failed(path, s.src, err));
        }
      }
    } else if (Array.isArray(v)) v.forEach((item, i) => walk(item, appendPath(path, i)));
    else if (isPlainObject(v)) for (const [k, item] of Object.entries(v)) walk(item, appendPath(path, k));
  };
  walk(value, basePath);
  return out;
}

/** The single expression of a step `if` (templated or bare), as a one-element list. */
export function conditionReferences(src: string, path: string): TemplateReference[] {
  const c = conditionExpr(src);
  const inner = src.trim().replace(/^\{\{([\s\S]*)\}\}$/, '$1');
  return ['error' in c ? failed(path, inner, c.error) : describe(path, inner, c.expr)];
}
