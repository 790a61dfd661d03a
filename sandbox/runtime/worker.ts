import { Attempt } from './attempt.js';
import { failed, messageOf } from './errors.js';
import type { PortFromWorker, WorkerTask } from './protocol.js';
import type { SandboxResult } from './types.js';

/**
 * The piscina task: one invocation in an isolated-vm isolate on this thread. Piscina runs one
 * task per thread at a time (the default `concurrentTasksPerWorker`), so an isolate's CPU time
 * belongs to the invocation that reads it.
 *
 * The result goes back on the task's own port, after its log lines, and the task goes on to
 * ready the thread for the next invocation; the task's own return value is not used.
 */
export default async function runInvocation(task: WorkerTask): Promise<void> {
  let attempt: Attempt | undefined;
  let result: SandboxResult;
  try {
    attempt = new Attempt(task);
    result = await attempt.run();
  } catch (err) {
    result = failed('SANDBOX_ERROR', `sandbox worker failed: ${messageOf(err)}`);
  }
  try {
    task.port.postMessage({ type: 'end', result } satisfies PortFromWorker);
  } catch (err) {
    task.port.postMessage({
      type: 'end',
      result: failed('SANDBOX_ERROR', `the result cannot be sent: ${messageOf(err)}`),
    } satisfies PortFromWorker);
  } finally {
    task.port.close();
  }
  await attempt?.prepareNext();
}
