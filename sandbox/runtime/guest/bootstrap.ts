/**
 * Trusted guest code, run in every fresh context before the plugin script. It is kept as source
 * text (the isolate has no module loader) and uses nothing but the JS language.
 *
 * `bootstrapScript` is compiled once per isolate; running it in a context yields a strict
 * factory `(hostLog, hostHttp)`, applied once per fresh context: `hostLog` is the host's log
 * Callback (a plain function inside the isolate, arguments copied), `hostHttp` a Reference to
 * the host's async http function (a Callback cannot await a host promise). Both stay in this
 * strict-mode closure; the plugin reaches them only through the wrappers, which hand over
 * strings alone. The factory returns `run`, which the host holds as a Reference the plugin
 * never sees. The script declares no global: only the factory's result reaches the host.
 *
 * Intrinsics are captured before the plugin runs, so a plugin that patches `JSON`, `Map` or
 * `String.prototype` breaks only its own result; the host validates everything that comes out.
 */
export function bootstrapScript(caps: Readonly<Record<string, number>>): string {
  return `'use strict';\n(function bootstrap(hostLog, hostHttp) {\nconst caps = Object.freeze(${JSON.stringify(caps)});\n${BOOTSTRAP_BODY}\n})`;
}

const BOOTSTRAP_BODY = String.raw`
// Null prototypes: a plugin that adds \`reference\` to Object.prototype must not change how
// isolated-vm hands the reply over (it would wrap a host value in a Reference).
const HTTP_APPLY = Object.freeze({ __proto__: null, arguments: Object.freeze({ __proto__: null, copy: true }), result: Object.freeze({ __proto__: null, promise: true, copy: true }) });
const G = globalThis;
const stringify = JSON.stringify;
const parse = JSON.parse;
const Str = String;
const call = Function.prototype.call;
const sliceText = call.bind(String.prototype.slice);
const mapGet = call.bind(Map.prototype.get);
const mapSet = call.bind(Map.prototype.set);
const mapHas = call.bind(Map.prototype.has);
const weakAdd = call.bind(WeakSet.prototype.add);
const weakHas = call.bind(WeakSet.prototype.has);
const applyHost = call.bind(Object.getPrototypeOf(hostHttp).apply);
const defineProperty = Object.defineProperty;
const freeze = Object.freeze;
const ErrorClass = Error;
const PromiseClass = Promise;
const TypeErrorClass = TypeError;

// Not part of the plugin API: console is silent without an inspector, the rest are shared
// memory and compilation surfaces no plugin needs.
for (const name of ['console', 'SharedArrayBuffer', 'Atomics', 'WebAssembly', 'FinalizationRegistry', 'WeakRef']) delete G[name];

function text(value, max) {
  try { return sliceText(Str(value), 0, max); } catch { return '[unprintable]'; }
}

class PluginError extends ErrorClass {
  constructor(code, message, options) {
    const spec = code !== null && typeof code === 'object' ? code : { code, message, retryable: options && options.retryable };
    super(spec.message === undefined ? '' : text(spec.message, caps.maxMessage));
    this.name = 'PluginError';
    this.code = spec.code;
    this.retryable = spec.retryable === true;
  }
}
freeze(PluginError.prototype);
freeze(PluginError);

const actions = new Map();
function defineAction(name, fn) {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) throw new TypeErrorClass('defineAction: name must be a non-empty string');
  if (typeof fn !== 'function') throw new TypeErrorClass('defineAction: ' + name + ' needs a function');
  if (mapHas(actions, name)) throw new ErrorClass('defineAction: ' + name + ' is defined twice');
  mapSet(actions, name, fn);
}

let lines = 0;
function logAt(level) {
  return function (message, fields) {
    // One line past the cap still goes out, so the host can say that lines were dropped.
    if (++lines > caps.maxLines + 1) return;
    let json;
    if (fields !== undefined) {
      try { json = stringify(fields); } catch { json = undefined; }
      if (typeof json !== 'string' || json.length > caps.maxFieldsChars) json = '{"fieldsDropped":true}';
    }
    hostLog(level, text(message, caps.maxLineChars), json);
  };
}
const log = freeze({ debug: logAt('debug'), info: logAt('info'), warn: logAt('warn'), error: logAt('error') });

const egressErrors = new WeakSet();
function egressError(code, message, retryAfterMs) {
  const err = new ErrorClass(text(message, caps.maxMessage));
  err.name = 'HttpError';
  err.code = code;
  // Integration guard refusals say when a request may go; a plugin may wait or give up.
  if (typeof retryAfterMs === 'number') err.retryAfterMs = retryAfterMs;
  weakAdd(egressErrors, err);
  return err;
}
function headersOf(value) {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') throw new TypeErrorClass('http.request: headers must be an object of strings');
  const out = {};
  for (const key of Object.keys(value)) out[text(key, 1000)] = text(value[key], 16384);
  return out;
}
async function request(req) {
  if (req === null || typeof req !== 'object') throw new TypeErrorClass('http.request needs an object');
  if (typeof req.url !== 'string') throw new TypeErrorClass('http.request: url must be a string');
  const plain = {
    method: req.method === undefined ? 'GET' : text(req.method, 32),
    url: req.url,
    headers: headersOf(req.headers),
    body: req.body === undefined ? undefined : text(req.body, caps.maxBodyChars + 1),
    credential: req.credential === undefined ? undefined : text(req.credential, 1000),
  };
  const reply = parse(await applyHost(hostHttp, undefined, [stringify(plain)], HTTP_APPLY));
  if (reply.ok) return reply.response;
  throw egressError(reply.code, reply.message, reply.retryAfterMs);
}
// Requests the action started and has not seen settle. The invocation ends only when they have
// (and the reactions chained on them first have run), so their continuations run inside the
// invocation, under its deadline, not after its result went back.
const promiseThen = call.bind(PromiseClass.prototype.then);
let outstanding = 0;
let whenIdle = null;
function settledOne() {
  outstanding -= 1;
  if (outstanding === 0 && whenIdle !== null) { const wake = whenIdle; whenIdle = null; wake(); }
}
function trackedRequest(req) {
  const pending = request(req);
  outstanding += 1;
  promiseThen(pending, settledOne, settledOne);
  return pending;
}
function idle() {
  return outstanding === 0 ? undefined : new PromiseClass((resolve) => { whenIdle = resolve; });
}
const http = freeze({ request: trackedRequest });

function define(name, value) {
  defineProperty(G, name, { value, writable: false, enumerable: false, configurable: false });
}
define('defineAction', defineAction);
define('PluginError', PluginError);
define('log', log);
define('http', http);

const TOO_LARGE = {};
const NOT_JSON = {};
function encode(result, maxChars) {
  if (result === undefined) return { kind: 'ok', json: 'null' };
  let size = 0;
  // Counts as it goes so a huge result stops early instead of being built in full.
  function replacer(key, value) {
    const type = typeof value;
    if (type === 'function' || type === 'symbol' || type === 'bigint') throw NOT_JSON;
    size += key.length + 4 + (type === 'string' ? value.length + 2 : 8);
    if (size > maxChars) throw TOO_LARGE;
    return value;
  }
  let json;
  try { json = stringify(result, replacer); } catch (e) { return { kind: e === TOO_LARGE ? 'too_large' : 'not_json' }; }
  if (typeof json !== 'string') return { kind: 'not_json' };
  if (json.length > maxChars) return { kind: 'too_large' };
  return { kind: 'ok', json };
}

function describe(e) {
  try {
    if (e instanceof PluginError) return { kind: 'plugin', code: text(e.code, 100), message: text(e.message, caps.maxMessage), retryable: e.retryable === true };
    if (e !== null && typeof e === 'object' && weakHas(egressErrors, e)) return { kind: 'egress', code: text(e.code, 100), message: text(e.message, caps.maxMessage) };
    if (e instanceof ErrorClass) {
      const name = text(e.name, 100);
      const message = text(e.message, caps.maxMessage);
      return { kind: 'error', message: name === 'Error' || name === '' ? message : name + ': ' + message };
    }
    return { kind: 'error', message: text(e, caps.maxMessage) };
  } catch {
    return { kind: 'error', message: 'the action threw a value that cannot be described' };
  }
}

async function run(name, inputJson, contextJson, maxChars) {
  const fn = mapGet(actions, name);
  if (typeof fn !== 'function') return { kind: 'unknown_action' };
  let result;
  let failure = null;
  try {
    result = await fn(parse(inputJson), freeze(parse(contextJson)));
  } catch (e) {
    failure = describe(e);
  }
  while (outstanding > 0) await idle();
  return failure !== null ? failure : encode(result, maxChars);
}
return run;
`;
