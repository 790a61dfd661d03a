import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import ivm from 'isolated-vm';
import { BOOTSTRAP_SOURCE } from './guest/bootstrap.js';
import { EGRESS_CODES, failed, failure, isPluginCode, messageOf } from './errors.js';
import { GUEST_CAPS, HostBridge } from './hostBridge.js';
import { IsolateCache, type CachedIsolate } from './isolateCache.js';
import type { PortFromWorker, PortToWorker, WorkerTask } from './protocol.js';
import type { SandboxInvocation, SandboxResult, SandboxStats } from './types.js';

/** Per thread: isolates keyed by script and memory limit (a limit is fixed when an isolate is made). */
const cache = new IsolateCache(32);

/** How often the CPU budget is checked while the plugin awaits something. */
const CPU_POLL_MS = 10;

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
  #context: ivm.Context | undefined;
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
    const deadline = setTimeout(() => this.#kill('SANDBOX_TIMEOUT', `${name} did not finish within ${this.#inv.limits.timeoutMs} ms`), this.#inv.limits.timeoutMs);
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
      this.#port.postMessage({ type: 'end' } satisfies PortFromWorker);
      this.#port.close();
      if (this.#context !== undefined) releaseQuietly(this.#context);
      if (this.#entry !== undefined) this.#entry.busy -= 1;
    }
  }

  async #work(): Promise<SandboxResult> {
    const inv = this.#inv;
    try {
      const entry = await this.#isolate();
      if (typeof entry === 'string') return failed('SCRIPT_HASH_MISMATCH', entry);
      const { isolate } = entry;
      this.#cpuStart = isolate.cpuTime;
      this.#phase = 'load';
      const context = (this.#context = await isolate.createContext());
      const caps = new ivm.ExternalCopy(GUEST_CAPS);
      const runFn = await context.evalClosure(
        BOOTSTRAP_SOURCE,
        [
          new ivm.Callback((level: unknown, message: unknown, fields: unknown) => this.#bridge.log(level, message, fields)),
          new ivm.Reference(async (json: unknown) => this.#bridge.http(json)),
          caps.copyInto({ release: true }),
        ],
        { result: { reference: true }, timeout: this.#limit() },
      );
      const loaded = await entry.script.run(context, { timeout: this.#limit(), reference: true });
      loaded.release();
      this.#phase = 'action';
      const envelope: unknown = await runFn.apply(
        undefined,
        [inv.action, JSON.stringify(inv.input ?? null), JSON.stringify(inv.context), inv.limits.maxOutputBytes],
        { arguments: { copy: true }, result: { copy: true, promise: true }, timeout: this.#limit() },
      );
      runFn.release();
      if (this.#cpuUsedMs() > inv.limits.cpuMs) return failed('SANDBOX_CPU', this.#cpuMessage(), this.#stats());
      return fromEnvelope(envelope, inv, this.#stats());
    } catch (err) {
      return this.#classify(err);
    }
  }

  /** The cached isolate for this script, or a new one with the script compiled once. */
  async #isolate(): Promise<CachedIsolate | string> {
    const { script, limits } = this.#inv;
    const key = `${script.sha256}:${limits.memoryMb}`;
    let entry = cache.get(key);
    if (entry === undefined) {
      // The cache trusts the key, so the key must really be the source's hash.
      if (createHash('sha256').update(script.source).digest('hex') !== script.sha256.toLowerCase()) {
        return `${script.name}: sha256 does not match the source`;
      }
      const isolate = new ivm.Isolate({ memoryLimit: Math.max(8, limits.memoryMb), onCatastrophicError });
      this.#entry = { key, isolate, script: undefined as unknown as ivm.Script, busy: 1 };
      entry = this.#entry;
      entry.script = await isolate.compileScript(script.source, { filename: `plugin:${script.name}` });
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
    return { cpuMs: round(this.#cpuUsedMs()), wallMs: round(performance.now() - this.#started), cold: this.#cold };
  }

  #kill(code: string, message: string): void {
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
    const { script: { name }, action } = this.#inv;
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
      if (json.length > max || Buffer.byteLength(json) > max) return failed('OUTPUT_TOO_LARGE', `the action's result is larger than ${max} bytes`, stats);
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
      if (typeof env.code === 'string' && EGRESS_CODES.has(env.code)) return failed(env.code, text(env.message), stats);
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

function releaseQuietly(context: ivm.Context): void {
  try {
    context.release();
  } catch {
    // The isolate is gone with everything in it.
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

