import type { CredentialGrant, EgressPolicy } from '../egress/types.js';
import type { OutboundHttpCall } from '../../core/tracing.js';
import type { PluginFailureCode, StepFailureCode } from '../../core/runs/stepFailures.js';

/** One attempt of one plugin action. Everything is plain data: it crosses IPC and a thread boundary. */
export interface SandboxInvocation {
  /** Chosen by the caller; echoed in log lines. */
  invocationId: string;
  /** `sha256` (hex of `source`) keys the per-thread isolate cache; `name` (like `http@1.0.0`) is only for messages. */
  script: { sha256: string; source: string; name: string };
  action: string;
  /** Copied into the isolate as JSON. */
  input: unknown;
  context: {
    tenantId: string;
    runId: string;
    stepId: string;
    attempt: number;
    idempotencyKey: string;
    /** The step's credential as the plugin sees it: an opaque handle, the type and its non-secret settings (raw `secret` only when approved). */
    credential?: { handle: string; type: string; config: Record<string, string>; secret?: Record<string, string> } | null;
  };
  limits: SandboxLimits;
  network: EgressPolicy;
  credentials: CredentialGrant[];
}

export interface SandboxLimits {
  /** Heap limit of the isolate in MB (isolated-vm minimum 8). A guideline: hostile code can use 2 to 3 times it. */
  memoryMb: number;
  /** Wall-clock deadline of the whole attempt, awaited promises included. */
  timeoutMs: number;
  /** CPU time the isolate may spend on this attempt (compilation excluded). */
  cpuMs: number;
  /** Largest JSON text of the action's result, in UTF-8 bytes (the engine's default is 4 MiB). */
  maxOutputBytes: number;
}

/** A catalogue code (core/runs/stepFailures.ts), or one the plugin raised with `PluginError`. */
export type SandboxErrorCode = StepFailureCode | PluginFailureCode;

export interface SandboxStats {
  /** CPU time of the isolate during this attempt. */
  cpuMs: number;
  /** Wall time inside the worker thread, isolate creation and compilation included. */
  wallMs: number;
  /** True when this attempt created the isolate and compiled the script. */
  cold: boolean;
  /** Requests that carried each credential, by handle (absent when none did). */
  credentialUses?: Record<string, number>;
  /** The plugin's HTTP calls, in order (the first 64), for the step's trace. */
  httpCalls?: HttpCallRecord[];
}

/** One plugin HTTP call as the host saw it, handed back for the step's trace (the domain's shape). */
export type HttpCallRecord = OutboundHttpCall;

export interface SandboxFailure {
  code: SandboxErrorCode;
  /** At most 1,000 characters; never a host stack trace. */
  message: string;
  /** False for permanent failures: the engine fails the step without using its remaining attempts. */
  retryable: boolean;
}

export type SandboxResult = { ok: true; output: unknown; stats: SandboxStats } | { ok: false; error: SandboxFailure; stats?: SandboxStats };

export type SandboxLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface SandboxLogLine {
  invocationId: string;
  level: SandboxLogLevel;
  message: string;
  fields?: Record<string, unknown>;
}

export interface SandboxCrashInfo {
  pid: number | undefined;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Invocations that were resolved with `SANDBOX_CRASHED`. */
  inFlight: number;
  /** When the next child is started. */
  restartInMs: number;
}

export interface SandboxOptions {
  /** Worker threads in the sandbox process. Default `os.availableParallelism()`. */
  poolSize?: number;
  /** Invocations waiting for a thread before new ones fail with `SANDBOX_UNAVAILABLE`. Default 1,024. */
  maxQueue?: number;
  /** How long a starting child may take to say it is ready. Default 15,000 ms. */
  startTimeoutMs?: number;
  /**
   * Extra time past an invocation's `timeoutMs` after which the supervisor stops waiting for the
   * child and resolves `SANDBOX_TIMEOUT` itself (the worker's own deadline normally fires first).
   * Default 5,000 ms.
   */
  graceMs?: number;
  /** Plugin log lines (at most 100 per invocation). A throwing handler is ignored. */
  onLog?: (line: SandboxLogLine) => void;
  /** Called each time the sandbox process exits unexpectedly. */
  onCrash?: (info: SandboxCrashInfo) => void;
}
