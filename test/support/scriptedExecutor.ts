import { StepError, type StepExecutor, type StepRequest } from '../../core/engine/executor.js';
import { isPluginCode, type PluginFailureCode } from '../../core/runs/stepFailures.js';

/** A code of the plugin this executor stands in for: plugins' codes are theirs, not the catalogue's. */
function pluginCode(code: string): PluginFailureCode {
  if (!isPluginCode(code)) throw new Error(`a plugin may not raise ${code}`);
  return code;
}
const UPSTREAM_UNAVAILABLE = pluginCode('UPSTREAM_UNAVAILABLE');
const UPSTREAM_REJECTED = pluginCode('UPSTREAM_REJECTED');

/**
 * A plugin stand-in at the engine's StepExecutor boundary (the sandbox plugs in there in
 * the next issue). The step's `with.mode` says how the attempt behaves, so tests can
 * drive retries, permanent failures, timeouts and cancellation through real runs.
 */
export class ScriptedExecutor implements StepExecutor {
  readonly calls: StepRequest[] = [];
  readonly aborted: string[] = [];
  private readonly failedOnce = new Set<string>();

  async execute(request: StepRequest, signal: AbortSignal): Promise<unknown> {
    this.calls.push(request);
    const input = (request.input ?? {}) as { mode?: string; failUntil?: number; ms?: number; value?: unknown };
    switch (input.mode) {
      case 'flaky':
        if (request.attempt < (input.failUntil ?? 2))
          throw new StepError(UPSTREAM_UNAVAILABLE, `attempt ${request.attempt}: upstream answered 503`, true);
        return { attempt: request.attempt };
      case 'permanent':
        throw new StepError(UPSTREAM_REJECTED, 'upstream answered 400', false);
      case 'fail-once':
        if (!this.failedOnce.has(request.idempotencyKey)) {
          this.failedOnce.add(request.idempotencyKey);
          throw new StepError(UPSTREAM_REJECTED, 'first call rejected', false);
        }
        return { recovered: true };
      case 'sleep':
      case 'hang':
        await new Promise<void>((resolve, reject) => {
          const timer = input.mode === 'sleep' ? setTimeout(resolve, input.ms ?? 100) : null;
          signal.addEventListener(
            'abort',
            () => {
              if (timer) clearTimeout(timer);
              this.aborted.push(request.idempotencyKey);
              reject(signal.reason);
            },
            { once: true },
          );
        });
        return { slept: input.ms ?? 0 };
      default:
        return { value: input.value ?? null, attempt: request.attempt };
    }
  }

  callsFor(runId: string, stepId: string): StepRequest[] {
    return this.calls.filter((c) => c.runId === runId && c.stepId === stepId);
  }
}
