import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import ivm from 'isolated-vm';
import { bootstrapScript } from './guest/bootstrap.js';
import { failed, failure, isEgressCode, messageOf } from './errors.js';
import { isPluginCode, type StepFailureCode } from '../../core/runs/stepFailures.js';
import { prepareGuestContext, releaseGuestContext, type GuestContext } from './guestContext.js';
import { GUEST_CAPS, HostBridge } from './hostBridge.js';
import { IsolateCache, type CachedIsolate } from './isolateCache.js';
import type { PortToWorker, WorkerTask } from './protocol.js';
import type { SandboxInvocation, SandboxResult, SandboxStats } from './types.js';

/** Per thread: isolates keyed by script and memory limit (a limit is fixed when an isolate is made). */
const cache = new IsolateCache(32);

/** How often the CPU budget is checked while the plugin awaits something. */
const CPU_POLL_MS = 10;

const BOOTSTRAP = bootstrapScript(GUEST_CAPS);

/** Bound on making a spare context between invocations (normally under a millisecond); past it the isolate is disposed. */
const SPARE_TIMEOUT_MS = 1_000;

type Phase = 'compile' | 'load' | 'action';

/**
 * One invocation on this thread. Three things can end it besides the plugin itself: the wall
 * deadline, the CPU budget and a cancel from the port; each disposes the isolate, because
 * isolated-vm's `timeout` does not cover awaited promises and a half-run isolate is not reused.
 */
export class Attempt {
  readonly #inv: SandboxInvocation;
  readonly #port: WorkerTask['port'];
  readonly #bridge: HostBridge;
  readonly #started = performance.now();
  readonly #deadline: number;
  #entry: CachedIsolate | undefined;
  #guest: GuestContext | undefined;
  #cold = false;
  #cpuStart: bigint | undefined;
  #cpuMs = 0;
  #phase: Phase = 'compile';
  #limitWasCpu = false;
  #settled = false;
  #stop!: (result: SandboxResult) => void;
  readonly #stopped = new Promise<SandboxResult>((resolve) => (this.#stop = resolve));

  constructor(task: WorkerTask) {
    this.#inv = task.invocation;
    this.#port = task.port;
    this.#bridge = new HostBridge(task.invocation, task.port);
    this.#deadline = this.#started + task.invocation.limits.timeoutMs;
  }

  async run(): Promise<SandboxResult> {
    const { name } = this.#inv.script;
    const deadline = setTimeout(
      () => this.#kill('SANDBOX_TIMEOUT', `${name} did not finish within ${this.#inv.limits.timeoutMs} ms`),
      this.#inv.limits.timeoutMs,
    );
    const cpuWatch = setInterval(() => {
      if (this.#cpuUsedMs() > this.#inv.limits.cpuMs) this.#kill('SANDBOX_CPU', this.#cpuMessage());
    }, CPU_POLL_MS);
    this.#port.on('message', (msg: PortToWorker) => {
      if (msg?.type === 'cancel') this.#kill('SANDBOX_CANCELLED', 'the invocation was cancelled');
    });
    const work = this.#work();
    // After a kill, the isolate's pending promise rejects with "disposed"; the race is already decided.
    work.catch(() => undefined);
    try {
      const result = await Promise.race([work, this.#stopped]);
      this.#settled = true;
      return result;
    } finally {
      clearTimeout(deadline);
      clearInterval(cpuWatch);
      this.#bridge.close();
      const guest = this.#guest;
      if (guest !== undefined) {
        guest.bridge = undefined;
        releaseQuietly(guest.run);
        releaseGuestContext(guest.context);
      }
      if (this.#entry !== undefined) {
        this.#entry.busy -= 1;
        // A host reply arriving after the end would run plugin code in this isolate outside
        // every deadline; disposing it stops that code and anything already queued.
        if (this.#bridge.requested) this.#discard();
        else this.#rest(this.#entry);
      }
    }
  }

  #rest(entry: CachedIsolate): void {
    try {
      if (!entry.isolate.isDisposed) entry.cpuAtRest = entry.isolate.cpuTime;
    } catch {
      // Disposed meanwhile: nothing to watch.
    }
  }

  /**
   * Once the result has been handed back: makes the next invocation's context for this isolate
   * if it is still cached and healthy, so the next warm invocation of this script starts with
   * one (making it is most of a warm invocation's cost). Piscina parks the thread between
   * tasks, so this runs inside the task, after the caller already has its result. Not after a
   * cold invocation: a script seen once may never come back, and the spare's CPU would be lost.
   * An isolate that cannot make a context in time (an ended invocation's leftover promise keeps
   * it busy) is disposed, as the next invocation's deadline would have done.
   */
  async prepareNext(): Promise<void> {
    const entry = this.#entry;
    if (entry === undefined || this.#cold || entry.busy > 0 || entry.spare !== undefined || entry.isolate.isDisposed || !cache.holds(entry))
      return;
    const timer = setTimeout(() => cache.discard(entry), SPARE_TIMEOUT_MS);
    try {
      const spare = await prepareGuestContext(entry.isolate, entry.bootstrap, SPARE_TIMEOUT_MS);
      if (cache.holds(entry) && entry.busy === 0) {
        entry.spare = spare;
        this.#rest(entry);
      } else releaseGuestContext(spare.context);
    } catch {
      // The next invocation makes its own (and reports whatever is wrong with the isolate).
    } finally {
      clearTimeout(timer);
    }
  }

  async #work(): Promise<SandboxResult> {
    const inv = this.#inv;
    try {
      const entry = await this.#isolate();
      if (typeof entry === 'string') return failed('SCRIPT_HASH_MISMATCH', entry);
      const { isolate } = entry;
      this.#phase = 'load';
      // A context is never reused: the spare was made for this invocation alone, or one is made now.
      const guest = entry.spare ?? (await prepareGuestContext(isolate, entry.bootstrap, this.#limit()));
      entry.spare = undefined;
      guest.bridge = this.#bridge;
      this.#guest = guest;
      // The budget covers the plugin's own code, not the context and bootstrap made for it.
      this.#cpuStart = isolate.cpuTime;
      const loaded = await entry.script.run(guest.context, { timeout: this.#limit(), reference: true });
      loaded.release();
      this.#phase = 'action';
      const envelope: unknown = await guest.run.apply(
        undefined,
        [inv.action, JSON.stringify(inv.input ?? null), JSON.stringify(inv.context), inv.limits.maxOutputBytes],
        { arguments: { copy: true }, result: { copy: true, promise: true }, timeout: this.#limit() },
      );
      if (this.#cpuUsedMs() > inv.limits.cpuMs) return failed('SANDBOX_CPU', this.#cpuMessage(), this.#stats());
      return fromEnvelope(envelope, inv, this.#stats());
    } catch (err) {
      return this.#classify(err);
    }
  }

  /** The cached isolate for this script, or a new one with the script compiled once. */
  async #isolate(): Promise<CachedIsolate | string> {
    const { script, limits } = this.#inv;
    // Per tenant: two tenants never share an isolate (its heap), only the compiled-once cost.
    const key = `${this.#inv.context.tenantId}:${script.sha256}:${limits.memoryMb}`;
    let entry = cache.get(key);
    if (entry !== undefined && entry.busy === 0 && ranWhileIdle(entry)) {
      cache.discard(entry);
      entry = undefined;
    }
    if (entry === undefined) {
      // The cache trusts the key, so the key must really be the source's hash.
      if (createHash('sha256').update(script.source).digest('hex') !== script.sha256.toLowerCase()) {
        return `${script.name}: sha256 does not match the source`;
      }
      const isolate = new ivm.Isolate({ memoryLimit: Math.max(8, limits.memoryMb), onCatastrophicError });
      this.#entry = {
        key,
        isolate,
        script: undefined as unknown as ivm.Script,
        bootstrap: undefined as unknown as ivm.Script,
        spare: undefined,
        busy: 1,
      };
      entry = this.#entry;
      entry.script = await isolate.compileScript(script.source, { filename: `plugin:${script.name}` });
      entry.bootstrap = await isolate.compileScript(BOOTSTRAP, { filename: 'switchyard:bootstrap' });
      this.#cold = true;
      cache.add(entry);
    } else {
      entry.busy += 1;
      this.#entry = entry;
    }
    return entry;
  }

  /** The `timeout` for the next isolated-vm call: what is left of the deadline or of the CPU budget. */
  #limit(): number {
    const wallLeft = this.#deadline - performance.now();
    const cpuLeft = this.#inv.limits.cpuMs - this.#cpuUsedMs();
    this.#limitWasCpu = cpuLeft < wallLeft;
    return Math.max(1, Math.ceil(Math.min(wallLeft, cpuLeft)));
  }

  #cpuUsedMs(): number {
    const entry = this.#entry;
    if (entry !== undefined && this.#cpuStart !== undefined && !entry.isolate.isDisposed) {
      try {
        this.#cpuMs = Number(entry.isolate.cpuTime - this.#cpuStart) / 1e6;
      } catch {
        // Disposed between the check and the read: keep the last figure.
      }
    }
    return this.#cpuMs;
  }

  #cpuMessage(): string {
    return `${this.#inv.script.name} used more than its CPU budget of ${this.#inv.limits.cpuMs} ms`;
  }

  #stats(): SandboxStats {
    const uses = this.#bridge.credentialUses();
    const httpCalls = this.#bridge.httpCalls();
    return {
      cpuMs: round(this.#cpuUsedMs()),
      wallMs: round(performance.now() - this.#started),
      cold: this.#cold,
      ...(Object.keys(uses).length > 0 ? { credentialUses: uses } : {}),
      ...(httpCalls.length > 0 ? { httpCalls } : {}),
    };
  }

  #kill(code: StepFailureCode, message: string): void {
    if (this.#settled) return;
    this.#settled = true;
    const stats = this.#stats();
    this.#discard();
    this.#stop(failed(code, message, stats));
  }

  #discard(): void {
    if (this.#entry !== undefined) cache.discard(this.#entry);
  }

  #classify(err: unknown): SandboxResult {
    const {
      script: { name },
      action,
    } = this.#inv;
    const message = messageOf(err);
    const stats = this.#stats();
    if (this.#entry?.isolate.isDisposed === true || /memory limit/i.test(message)) {
      this.#discard();
      return failed('SANDBOX_MEMORY', `${name} exceeded its memory limit of ${this.#inv.limits.memoryMb} MB`, stats);
    }
    if (/timed out/i.test(message)) {
      this.#discard();
      if (this.#limitWasCpu || stats.cpuMs >= this.#inv.limits.cpuMs) return failed('SANDBOX_CPU', this.#cpuMessage(), stats);
      return failed('SANDBOX_TIMEOUT', `${name} did not finish within ${this.#inv.limits.timeoutMs} ms`, stats);
    }
    if (this.#phase === 'compile') {
      this.#discard();
      return failed('SANDBOX_ERROR', `${name} does not compile: ${message}`, stats);
    }
    if (this.#phase === 'load') return failed('SANDBOX_ERROR', `${name} failed to load: ${message}`, stats);
    return failed('SANDBOX_ERROR', `${name}.${action} failed: ${message}`, stats);
  }
}

function fromEnvelope(envelope: unknown, inv: SandboxInvocation, stats: SandboxStats): SandboxResult {
  const env = (envelope !== null && typeof envelope === 'object' ? envelope : {}) as Record<string, unknown>;
  const max = inv.limits.maxOutputBytes;
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  switch (env.kind) {
    case 'ok': {
      const json = env.json;
      if (typeof json !== 'string') break;
      if (json.length > max || Buffer.byteLength(json) > max)
        return failed('OUTPUT_TOO_LARGE', `the action's result is larger than ${max} bytes`, stats);
      try {
        return { ok: true, output: JSON.parse(json), stats };
      } catch {
        break;
      }
    }
    case 'too_large':
      return failed('OUTPUT_TOO_LARGE', `the action's result is larger than ${max} bytes`, stats);
    case 'unknown_action':
      return failed('UNKNOWN_ACTION', `${inv.script.name} has no action "${inv.action.slice(0, 200)}"`, stats);
    case 'plugin':
      if (isPluginCode(env.code)) return { ok: false, error: failure(env.code, text(env.message), env.retryable === true), stats };
      return failed('SANDBOX_ERROR', `PluginError with an invalid code: ${text(env.message)}`, stats);
    case 'egress':
      if (isEgressCode(env.code)) return failed(env.code, text(env.message), stats);
      break;
    case 'error':
      return failed('SANDBOX_ERROR', text(env.message), stats);
  }
  return failed('SANDBOX_ERROR', "the action's result is not JSON", stats);
}

function onCatastrophicError(message: string): void {
  // isolated-vm: V8 has lost control of the isolate and its memory; only a process restart is safe.
  process.stderr.write(`sandbox: catastrophic isolate error: ${message}\n`);
  process.abort();
}

// A backstop for leftover work the rules above miss: more CPU between invocations than the
// garbage collector spends, i.e. code ran while nobody invoked it.
const IDLE_CPU_TOLERANCE_NS = 50_000_000n;

function ranWhileIdle(entry: CachedIsolate): boolean {
  if (entry.cpuAtRest === undefined) return false;
  try {
    return entry.isolate.cpuTime - entry.cpuAtRest > IDLE_CPU_TOLERANCE_NS;
  } catch {
    return true;
  }
}

function releaseQuietly(reference: ivm.Reference): void {
  try {
    reference.release();
  } catch {
    // The isolate is gone with everything in it.
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
