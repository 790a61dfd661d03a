import { Attempt } from './attempt.js';
import { failed, messageOf } from './errors.js';
import type { WorkerTask } from './protocol.js';
import type { SandboxResult } from './types.js';

/**
 * The piscina task: one invocation in an isolated-vm isolate on this thread. Piscina runs one
 * task per thread at a time (the default `concurrentTasksPerWorker`), so an isolate's CPU time
 * belongs to the invocation that reads it.
 */
export default async function runInvocation(task: WorkerTask): Promise<SandboxResult> {
  try {
    return await new Attempt(task).run();
  } catch (err) {
    return failed('SANDBOX_ERROR', `sandbox worker failed: ${messageOf(err)}`);
  }
}
