/**
 * The catalogue of failures: every code the appliance itself records when a step, a
 * compensation or a run fails, whether another attempt can help, where the failure arose,
 * and what it means. Everything that mints a failure takes its code from here (StepError,
 * StepDeferred, stepFailure, RunFailure, the sandbox's failure()), so a code missing from
 * the catalogue is a type error; the README's table is tested against it.
 */

/** Where a failure arose: what to look at first. The README and the GraphQL enum StepFailureSource say what each covers. */
export const FAILURE_SOURCES = ['WORKFLOW', 'OPERATOR', 'ENGINE', 'SANDBOX', 'EGRESS', 'PLUGIN'] as const;
export type FailureSource = (typeof FAILURE_SOURCES)[number];

export interface CatalogueEntry {
  /** Whether another attempt can help: the engine retries a retryable failure while the step has attempts left. */
  readonly retryable: boolean;
  readonly source: FailureSource;
  /** One line, shown by the API (StepFailure.meaning) and in the README's table. */
  readonly meaning: string;
}

/** What a step or a compensation fails with. The order is the README's. */
export const STEP_FAILURES = {
  TEMPLATE_ERROR: {
    retryable: false,
    source: 'WORKFLOW',
    meaning: "A template in the step's `if` or `with` (or its compensation's `with`) could not be evaluated.",
  },
  BAD_USER_INPUT: {
    retryable: false,
    source: 'WORKFLOW',
    meaning: "The step's rendered `with` is not what its action accepts (its input schema or the action's own checks).",
  },
  UNKNOWN_ACTION: {
    retryable: false,
    source: 'WORKFLOW',
    meaning: '`uses` names an action that the pinned plugin version does not have.',
  },
  CREDENTIAL_NOT_FOUND: { retryable: false, source: 'WORKFLOW', meaning: "The step's `credential` names no credential of the tenant." },
  CREDENTIAL_NOT_ALLOWED: {
    retryable: false,
    source: 'WORKFLOW',
    meaning: "The step's credential is of a type the plugin's manifest does not accept.",
  },
  STEP_TIMEOUT: {
    retryable: true,
    source: 'WORKFLOW',
    meaning: "The attempt ran past the step's `timeoutMs` and the engine stopped waiting for it.",
  },
  APPROVAL_REJECTED: { retryable: false, source: 'OPERATOR', meaning: 'A person rejected the `core/approval@1` step.' },
  APPROVAL_TIMEOUT: {
    retryable: false,
    source: 'OPERATOR',
    meaning: 'Nobody approved or rejected the `core/approval@1` step within its `timeoutMs`.',
  },
  WORKER_LOST: {
    retryable: true,
    source: 'ENGINE',
    meaning: "The worker running the step's last allowed attempt died before it recorded a result.",
  },
  EXECUTOR_ERROR: {
    retryable: true,
    source: 'ENGINE',
    meaning: "The step executor failed unexpectedly; the engine's log has the cause.",
  },
  PLUGIN_MISSING: {
    retryable: false,
    source: 'ENGINE',
    meaning: 'The plugin version that the workflow version pinned is no longer installed.',
  },
  SCRIPT_HASH_MISMATCH: {
    retryable: false,
    source: 'ENGINE',
    meaning: "The installed plugin's script does not match the hash it was installed with.",
  },
  QUOTA_EXCEEDED: {
    retryable: false,
    source: 'ENGINE',
    meaning: "The tenant's sandbox CPU time for the UTC day is used up; the attempt did not run.",
  },
  // Timeouts and crashes may be load or bad luck; limits and plugin bugs (plain throws included) do not get better by retrying.
  SANDBOX_TIMEOUT: { retryable: true, source: 'SANDBOX', meaning: 'The plugin did not finish within its wall-clock deadline.' },
  SANDBOX_CPU: { retryable: false, source: 'SANDBOX', meaning: 'The plugin used more than its CPU budget.' },
  SANDBOX_MEMORY: { retryable: false, source: 'SANDBOX', meaning: "The plugin exceeded its isolate's memory limit." },
  SANDBOX_CRASHED: { retryable: true, source: 'SANDBOX', meaning: 'The sandbox process or thread running the attempt died.' },
  SANDBOX_UNAVAILABLE: {
    retryable: true,
    source: 'SANDBOX',
    meaning: 'The sandbox was stopping or its queue was full; the attempt did not start.',
  },
  SANDBOX_CANCELLED: { retryable: false, source: 'SANDBOX', meaning: 'The attempt was cancelled while it ran in the sandbox.' },
  SANDBOX_ERROR: {
    retryable: false,
    source: 'PLUGIN',
    meaning:
      'The plugin did not compile, threw something other than a PluginError (or one with a code it may not raise), or returned something that is not JSON.',
  },
  OUTPUT_TOO_LARGE: { retryable: false, source: 'PLUGIN', meaning: "The action's output is larger than the appliance's limit." },
  BAD_OUTPUT: { retryable: false, source: 'PLUGIN', meaning: "The action's output does not match its output schema." },
  LLM_SCHEMA_MISMATCH: {
    retryable: true,
    source: 'PLUGIN',
    meaning: "The model's answer to `llm/chat@1` does not match the step's `responseSchema`.",
  },
  EGRESS_DENIED: {
    retryable: false,
    source: 'EGRESS',
    meaning: "A plugin request went to a host, address or scheme that the plugin's policy does not allow.",
  },
  EGRESS_LIMIT: {
    retryable: false,
    source: 'EGRESS',
    meaning: 'The attempt made more requests, or received a larger response, than its caps allow.',
  },
  EGRESS_TIMEOUT: { retryable: true, source: 'EGRESS', meaning: 'A plugin request did not finish within its deadline.' },
  EGRESS_FAILED: {
    retryable: true,
    source: 'EGRESS',
    meaning: 'A plugin request could not reach its host (DNS, connection, TLS or proxy failure).',
  },
  CREDENTIAL_DENIED: {
    retryable: false,
    source: 'EGRESS',
    meaning: 'A plugin request named an unknown or expired credential handle, or a host its credential may not reach.',
  },
  // A guard's refusal defers the step (StepDeferred) rather than failing it: these are a deferral's reason, and a
  // step fails with one only when its plugin raised it itself.
  HOST_RATE_LIMITED: {
    retryable: true,
    source: 'EGRESS',
    meaning: "The host's integration guard held the request back (its rate limit, or the host's Retry-After).",
  },
  CIRCUIT_OPEN: {
    retryable: true,
    source: 'EGRESS',
    meaning: "The host's circuit breaker is open, or half-open with its trial request in flight.",
  },
} as const satisfies Record<string, CatalogueEntry>;

/**
 * What a run's own error says. The engine never retries a run by itself (retryRun is an
 * operator's call), so none of these is retryable.
 */
export const RUN_FAILURES = {
  STEP_FAILED: {
    retryable: false,
    source: 'WORKFLOW',
    meaning: "A step failed for good and the workflow let its failure fail the run; the step's error says why.",
  },
  RUN_TIMEOUT: { retryable: false, source: 'WORKFLOW', meaning: 'The run passed its deadline.' },
  RUN_CANCELLED: { retryable: false, source: 'OPERATOR', meaning: 'The run was cancelled.' },
} as const satisfies Record<string, CatalogueEntry>;

export type StepFailureCode = keyof typeof STEP_FAILURES;
export type RunFailureCode = keyof typeof RUN_FAILURES;

/** The step failure codes of one source. */
export type StepFailureCodeOf<S extends FailureSource> = {
  [C in StepFailureCode]: (typeof STEP_FAILURES)[C]['source'] extends S ? C : never;
}[StepFailureCode];

declare const raisedByPlugin: unique symbol;
/**
 * A code a plugin raised with PluginError and isPluginCode let through: the plugin's own
 * (unknown to the catalogue, shown with source PLUGIN) or a catalogue code plugins may raise.
 */
export type PluginFailureCode = string & { readonly [raisedByPlugin]: true };

/** A failure as the engine records it on a step or a compensation. */
export interface MintedFailure {
  code: StepFailureCode | PluginFailureCode;
  message: string;
  retryable: boolean;
}

/** Why an attempt was held back rather than failed (a STEP_DEFERRED event's reason). */
export type DeferralReason = Pick<MintedFailure, 'code' | 'message'>;

/** A run's error as stored: why it failed, timed out or was cancelled. */
export interface RunFailure {
  code: RunFailureCode;
  message: string;
}

/** A failure the appliance mints, with the catalogue's retryability. */
export function stepFailure(code: StepFailureCode, message: string): MintedFailure {
  return { code, message, retryable: STEP_FAILURES[code].retryable };
}

/** The catalogue's entry for a recorded code, if it holds the code. */
export function catalogueEntry(code: string): CatalogueEntry | undefined {
  if (Object.hasOwn(STEP_FAILURES, code)) return STEP_FAILURES[code as StepFailureCode];
  if (Object.hasOwn(RUN_FAILURES, code)) return RUN_FAILURES[code as RunFailureCode];
  return undefined;
}

const PLUGIN_CODE = /^[A-Z][A-Z0-9_]{2,63}$/;
// A plugin may not pose as the runtime, the engine or a person: their codes would send an
// operator looking in the wrong place. What it may raise of the catalogue means the same from it.
const RAISED_BY_PLUGINS: ReadonlySet<FailureSource> = new Set(['WORKFLOW', 'EGRESS', 'PLUGIN']);

/** Whether a plugin may fail a step with this code (a PluginError's): its own, or one of the catalogue's open to plugins. */
export function isPluginCode(code: unknown): code is PluginFailureCode {
  if (typeof code !== 'string' || !PLUGIN_CODE.test(code) || code.startsWith('SANDBOX_') || Object.hasOwn(RUN_FAILURES, code)) return false;
  const entry = catalogueEntry(code);
  return entry === undefined || RAISED_BY_PLUGINS.has(entry.source);
}

/** What the API shows of a recorded code; one the catalogue does not hold is a plugin's own (or an older release's). */
export function describeFailure(code: string): { retryable: boolean; source: FailureSource; meaning: string | null } {
  const entry = catalogueEntry(code);
  return entry
    ? { retryable: entry.retryable, source: entry.source, meaning: entry.meaning }
    : { retryable: false, source: 'PLUGIN', meaning: null };
}
