import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { failed, messageOf } from './errors.js';
import { parseChildMessage, type ChildMessage, type GuardReply, type ParentMessage, type ProcessConfig } from './protocol.js';
import type { EgressGuard } from '../egress/types.js';
import type { SandboxCrashInfo, SandboxInvocation, SandboxOptions, SandboxResult } from './types.js';

/** Raised by `SandboxSupervisor.start` when the first child does not come up. */
export class SandboxStartError extends Error {
  readonly code = 'SANDBOX_START_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'SandboxStartError';
  }
}

interface Pending {
  id: number;
  invocation: SandboxInvocation;
  resolve: (result: SandboxResult) => void;
  /** The child this was sent to; undefined while it waits for a (re)started child. */
  child: ChildProcess | undefined;
  backstop: NodeJS.Timeout;
  onAbort?: () => void;
  signal?: AbortSignal;
  guard?: EgressGuard;
}

const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 10_000;
/** A child that lived this long was healthy: the next crash starts the backoff afresh. */
const HEALTHY_AFTER_MS = 30_000;
const STOP_GRACE_MS = 5_000;

/**
 * Runs plugin invocations in a separate sandbox process and keeps one running. Every
 * invocation resolves (never rejects) exactly once: with the child's result, or with
 * `SANDBOX_CRASHED`, `SANDBOX_CANCELLED`, `SANDBOX_TIMEOUT` or `SANDBOX_UNAVAILABLE`.
 */
export class SandboxSupervisor {
  readonly #options: SandboxOptions;
  readonly #config: ProcessConfig;
  readonly #pending = new Map<number, Pending>();
  #child: ChildProcess | undefined;
  #ready = false;
  #childStartedAt = 0;
  #nextId = 1;
  #crashes = 0;
  #consecutiveCrashes = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  private constructor(options: SandboxOptions) {
    this.#options = options;
    this.#config = { poolSize: options.poolSize ?? availableParallelism(), maxQueue: options.maxQueue ?? 1024 };
    if (!Number.isInteger(this.#config.poolSize) || this.#config.poolSize < 1) throw new TypeError('poolSize must be a positive integer');
    if (!Number.isInteger(this.#config.maxQueue) || this.#config.maxQueue < 0)
      throw new TypeError('maxQueue must be a non-negative integer');
  }

  static async start(options: SandboxOptions = {}): Promise<SandboxSupervisor> {
    const supervisor = new SandboxSupervisor(options);
    try {
      await supervisor.#spawn();
    } catch (err) {
      await supervisor.stop();
      throw err;
    }
    return supervisor;
  }

  /** Times the sandbox process exited unexpectedly. */
  get crashes(): number {
    return this.#crashes;
  }

  /** The current sandbox process, if one is running (tests kill it). */
  get pid(): number | undefined {
    return this.#ready ? this.#child?.pid : undefined;
  }

  /**
   * `guard` answers the invocation's requests to `network.guardedHosts` (the integration
   * guard, which lives with the engine); without one they are admitted unchecked.
   */
  invoke(invocation: SandboxInvocation, signal?: AbortSignal, guard?: EgressGuard): Promise<SandboxResult> {
    if (this.#stopped) return Promise.resolve(failed('SANDBOX_UNAVAILABLE', 'the sandbox is stopped'));
    if (signal?.aborted) return Promise.resolve(failed('SANDBOX_CANCELLED', 'the invocation was cancelled'));
    return new Promise<SandboxResult>((resolve) => {
      const id = this.#nextId++;
      const grace = this.#options.graceMs ?? 5_000;
      const timeoutMs = Number(invocation?.limits?.timeoutMs) || 0;
      const pending: Pending = {
        id,
        invocation,
        resolve,
        child: undefined,
        // The worker's own deadline fires first; this covers a thread that stopped answering.
        backstop: setTimeout(
          () => this.#abandon(pending, failed('SANDBOX_TIMEOUT', `no result within ${timeoutMs} ms`)),
          timeoutMs + grace,
        ),
        ...(guard !== undefined ? { guard } : {}),
      };
      if (signal !== undefined) {
        pending.signal = signal;
        pending.onAbort = () => this.#abandon(pending, failed('SANDBOX_CANCELLED', 'the invocation was cancelled'));
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.#pending.set(id, pending);
      if (this.#ready) this.#dispatch(pending);
    });
  }

  /** Stops the sandbox process. Invocations still running resolve with `SANDBOX_UNAVAILABLE`. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    for (const pending of [...this.#pending.values()]) this.#settle(pending, failed('SANDBOX_UNAVAILABLE', 'the sandbox is stopping'));
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.#send(child, { type: 'stop' });
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  #spawn(): Promise<void> {
    const entry = fileURLToPath(new URL('./process.js', import.meta.url));
    const child = fork(entry, [JSON.stringify(this.#config)], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // The appliance's environment holds database URLs and tokens; plugins' neighbours get none of it.
      env: {},
      // isolated-vm cannot create isolates in a process started from Node's startup snapshot (Node 20+).
      execArgv: ['--enable-source-maps', '--no-node-snapshot'],
    });
    this.#child = child;
    this.#ready = false;
    return new Promise<void>((resolve, reject) => {
      const startTimeout = this.#options.startTimeoutMs ?? 15_000;
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new SandboxStartError(`the sandbox process did not start within ${startTimeout} ms`));
      }, startTimeout);
      child.on('message', (raw: unknown) => {
        const msg = parseChildMessage(raw);
        if (msg === null || child !== this.#child) return;
        if (msg.type === 'ready') {
          clearTimeout(timer);
          this.#ready = true;
          this.#childStartedAt = Date.now();
          for (const pending of this.#pending.values()) if (pending.child === undefined) this.#dispatch(pending);
          resolve();
          return;
        }
        this.#onChildMessage(msg);
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new SandboxStartError(`the sandbox process failed: ${messageOf(err)}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new SandboxStartError(`the sandbox process exited during start (code ${code}, signal ${signal})`));
        this.#onExit(child, code, signal);
      });
    });
  }

  #dispatch(pending: Pending): void {
    const child = this.#child;
    if (child === undefined) return;
    pending.child = child;
    try {
      child.send({ type: 'invoke', id: pending.id, invocation: pending.invocation } satisfies ParentMessage);
    } catch (err) {
      // Input the structured clone cannot carry (functions, symbols) is the caller's bug.
      this.#settle(pending, failed('SANDBOX_ERROR', `the invocation cannot be sent to the sandbox: ${messageOf(err)}`));
    }
  }

  #onChildMessage(msg: Exclude<ChildMessage, { type: 'ready' }>): void {
    const pending = this.#pending.get(msg.id);
    if (pending === undefined) return;
    if (msg.type === 'result') {
      this.#settle(pending, msg.result);
      return;
    }
    if (msg.type === 'guard') {
      void this.#answerGuard(pending, msg);
      return;
    }
    try {
      this.#options.onLog?.({ invocationId: pending.invocation.invocationId, ...msg.line });
    } catch {
      // A failing log sink must not fail the plugin.
    }
  }

  #onExit(child: ChildProcess, exitCode: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.#child) return;
    this.#child = undefined;
    this.#ready = false;
    if (this.#stopped) return;
    this.#crashes += 1;
    if (Date.now() - this.#childStartedAt > HEALTHY_AFTER_MS) this.#consecutiveCrashes = 0;
    const restartInMs = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.#consecutiveCrashes);
    this.#consecutiveCrashes += 1;
    let inFlight = 0;
    for (const pending of [...this.#pending.values()]) {
      if (pending.child !== child) continue;
      inFlight += 1;
      this.#settle(pending, failed('SANDBOX_CRASHED', `the sandbox process exited (code ${exitCode}, signal ${signal})`));
    }
    const info: SandboxCrashInfo = { pid: child.pid, exitCode, signal, inFlight, restartInMs };
    try {
      this.#options.onCrash?.(info);
    } catch {
      // The restart must happen whatever the observer does.
    }
    this.#restartTimer = setTimeout(() => this.#restart(), restartInMs);
  }

  #restart(): void {
    if (this.#stopped) return;
    // A failed start ends in 'exit' too, which schedules the next attempt with a longer backoff.
    this.#spawn().catch(() => undefined);
  }

  async #answerGuard(pending: Pending, msg: Extract<ChildMessage, { type: 'guard' }>): Promise<void> {
    const { call } = msg;
    let reply: GuardReply;
    try {
      if (call.kind === 'admit') reply = pending.guard ? await pending.guard.admit(call.host) : { ok: true, permit: null };
      else {
        await pending.guard?.report(call.permit, call.result);
        reply = null;
      }
    } catch {
      // The guard fails open on its own troubles; this covers one that throws anyway.
      reply = call.kind === 'admit' ? { ok: true, permit: null } : null;
    }
    const child = pending.child;
    if (child !== undefined && child === this.#child && this.#pending.get(pending.id) === pending) {
      this.#send(child, { type: 'guard', id: pending.id, seq: msg.seq, reply });
    }
  }

  /** Gives up on an invocation the caller no longer waits for, and tells the child to stop it. */
  #abandon(pending: Pending, result: SandboxResult): void {
    if (pending.child !== undefined && pending.child === this.#child) this.#send(pending.child, { type: 'cancel', id: pending.id });
    this.#settle(pending, result);
  }

  #settle(pending: Pending, result: SandboxResult): void {
    if (this.#pending.get(pending.id) !== pending) return;
    this.#pending.delete(pending.id);
    clearTimeout(pending.backstop);
    if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort);
    pending.resolve(result);
  }

  #send(child: ChildProcess, message: ParentMessage): void {
    try {
      if (child.connected) child.send(message);
    } catch {
      // The child is going away; its 'exit' settles what it held.
    }
  }
}
