import type { Queryable } from '../db/database.js';

/**
 * The workflow definition language of the API contract: a DAG of steps.
 * Definitions are immutable once published as a workflow version.
 */

export interface RetryPolicy {
  /** Attempts in all, the first included. Default 3 for plugin steps, 1 for core actions. */
  maxAttempts?: number;
  /** Backoff base. Default 1000 ms. */
  initialDelayMs?: number;
  /** Backoff ceiling. Default 60000 ms. */
  maxDelayMs?: number;
}

/**
 * What undoes a step's effect when its run fails for good after the step succeeded. Its
 * templates may read the step's own output (`steps.<id>.output`) besides what the step could.
 */
export interface CompensationDefinition {
  uses: string;
  with?: Record<string, unknown>;
  retry?: RetryPolicy;
  timeoutMs?: number;
  credential?: string;
}

export interface StepDefinition {
  /** Unique within the definition: letters, digits, `_` and `-`, starting with a letter. */
  id: string;
  /** `plugin/action@major`, e.g. `core/noop@1`, `http/request@1`. */
  uses: string;
  /** The action's input; strings may hold `{{ ... }}` templates. */
  with?: Record<string, unknown>;
  /** Steps that must settle first. */
  needs?: string[];
  /** A template; the step is SKIPPED when it evaluates falsy. */
  if?: string;
  retry?: RetryPolicy;
  /** Per-attempt timeout for executor steps; for `core/approval@1` how long the approval may wait. */
  timeoutMs?: number;
  /** `fail` (default) fails the run when the step fails for good; `continue` lets dependents run. */
  onError?: 'fail' | 'continue';
  /** Name of a tenant credential the step's plugin may use. */
  credential?: string;
  compensate?: CompensationDefinition;
}

export interface WorkflowDefinition {
  steps: StepDefinition[];
  /** Whole-run timeout; the appliance default applies when absent. */
  timeoutMs?: number;
  /** Template for the run output; default: the outputs of the steps nothing depends on, by step id. */
  output?: unknown;
  description?: string;
}

/** Variables a template may read. */
export interface TemplateScope {
  input: unknown;
  steps: Record<string, { output?: unknown; status?: string; error?: unknown }>;
  run: { id: string; attempt: number };
}

/** The actions installed at one moment; validation checks against it and publication records what it resolves. */
export interface ActionCatalog {
  /** Returns undefined when `uses` names an installed action, else a reason it does not. */
  checkAction(uses: string): string | undefined;
  /** The plugin version a plugin action runs on (null for actions the engine runs itself). */
  resolve(uses: string): string | null;
}

/** Where the current catalog comes from; supplied by the composition root. */
export interface ActionDirectory {
  catalog(q: Queryable): Promise<ActionCatalog>;
}

export interface DefinitionLimits {
  maxSteps: number;
  maxDefinitionBytes: number;
}

const USES = /^([a-z][a-z0-9-]{0,63})\/([a-z][a-zA-Z0-9_-]{0,63})@([0-9]{1,6})$/;

/** `plugin/action@major` taken apart; null when `uses` is not of that form. */
export function parseUses(uses: string): { plugin: string; action: string; major: number } | null {
  const match = USES.exec(uses);
  return match ? { plugin: match[1]!, action: match[2]!, major: Number(match[3]) } : null;
}
