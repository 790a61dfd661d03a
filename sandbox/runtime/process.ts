import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { failed, messageOf } from './errors.js';
import { invocationProblem, parseParentMessage, type ChildMessage, type PortFromWorker, type ProcessConfig, type WorkerTask } from './protocol.js';
import type { SandboxInvocation, SandboxResult } from './types.js';

/**
 * The sandbox process: a piscina pool of isolated-vm threads, driven by the supervisor over IPC.
 * It lives apart from the appliance because V8 is not resilient to out-of-memory: if an isolate
 * takes this process down, the supervisor starts another and the API never notices.
 */

function send(message: ChildMessage): void {
  // A send after the parent has gone is pointless; 'disconnect' below ends us.
  if (process.connected) process.send?.(message);
}

function readConfig(): ProcessConfig {
  const raw: unknown = JSON.parse(process.argv[2] ?? '{}');
  const cfg = (raw ?? {}) as Partial<ProcessConfig>;
  const poolSize = Number.isInteger(cfg.poolSize) && cfg.poolSize! > 0 ? cfg.poolSize! : 1;
  const maxQueue = Number.isInteger(cfg.maxQueue) && cfg.maxQueue! >= 0 ? cfg.maxQueue! : 1024;
  return { poolSize, maxQueue };
}

const config = readConfig();
const pool = new Piscina<WorkerTask, SandboxResult>({
  filename: new URL('./worker.js', import.meta.url).href,
  minThreads: config.poolSize,
  maxThreads: config.poolSize,
  // Piscina's default of 0 ends idle threads at once, and their isolate caches with them.
  idleTimeout: 10 * 60_000,
  maxQueue: config.maxQueue,
});

const running = new Map<number, MessagePortLike>();
type MessagePortLike = { postMessage(message: unknown): void };

async function invoke(id: number, invocation: SandboxInvocation): Promise<void> {
  const problem = invocationProblem(invocation);
  if (problem !== null) {
    send({ type: 'result', id, result: failed('SANDBOX_ERROR', `invalid invocation: ${problem}`) });
    return;
  }
  const { port1, port2 } = new MessageChannel();
  let drained!: () => void;
  const ended = new Promise<void>((resolve) => (drained = resolve));
  port1.on('message', (msg: PortFromWorker) => {
    if (msg?.type === 'log') send({ type: 'log', id, line: msg.line });
    else if (msg?.type === 'end') drained();
  });
  port1.once('close', () => drained());
  running.set(id, port1);
  let result: SandboxResult;
  try {
    result = await pool.run({ invocation, port: port2 }, { transferList: [port2] });
    // The result arrives on piscina's port; its log lines must reach the supervisor first.
    await ended;
  } catch (err) {
    const message = messageOf(err);
    result = /queue is at limit/i.test(message)
      ? failed('SANDBOX_UNAVAILABLE', 'the sandbox queue is full')
      : failed('SANDBOX_CRASHED', `a sandbox thread failed: ${messageOf(err)}`);
  } finally {
    running.delete(id);
    port1.close();
  }
  send({ type: 'result', id, result });
}

process.on('message', (raw: unknown) => {
  try {
    const msg = parseParentMessage(raw);
    if (msg === null) return;
    if (msg.type === 'invoke') void invoke(msg.id, msg.invocation);
    else if (msg.type === 'cancel') running.get(msg.id)?.postMessage({ type: 'cancel' });
    else void pool.destroy().finally(() => process.exit(0));
  } catch (err) {
    process.stderr.write(`sandbox: ignored a bad message: ${messageOf(err)}\n`);
  }
});

// The supervisor is gone: nobody can receive results, so stop rather than linger as an orphan.
process.on('disconnect', () => process.exit(0));

send({ type: 'ready' });
