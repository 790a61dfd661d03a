import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { failed, messageOf, RUNAWAY_EXIT_CODE } from './errors.js';
import {
  invocationProblem,
  parseParentMessage,
  type ChildMessage,
  type PortFromWorker,
  type PortToWorker,
  type ProcessConfig,
  type WorkerTask,
} from './protocol.js';
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
const pool = new Piscina<WorkerTask, void>({
  filename: new URL('./worker.js', import.meta.url).href,
  minThreads: config.poolSize,
  maxThreads: config.poolSize,
  // Piscina's default of 0 ends idle threads at once, and their isolate caches with them.
  idleTimeout: 10 * 60_000,
  maxQueue: config.maxQueue,
});

const running = new Map<number, MessagePortLike>();
let activeThisWindow = false;
type MessagePortLike = { postMessage(message: unknown): void };

async function invoke(id: number, invocation: SandboxInvocation): Promise<void> {
  const problem = invocationProblem(invocation);
  if (problem !== null) {
    send({ type: 'result', id, result: failed('SANDBOX_ERROR', `invalid invocation: ${problem}`) });
    return;
  }
  const { port1, port2 } = new MessageChannel();
  running.set(id, port1);
  activeThisWindow = true;
  const result = await new Promise<SandboxResult>((resolve) => {
    port1.on('message', (msg: PortFromWorker) => {
      if (msg?.type === 'log') send({ type: 'log', id, line: msg.line });
      else if (msg?.type === 'guard') send({ type: 'guard', id, seq: msg.seq, call: msg.call });
      else if (msg?.type === 'end') resolve(msg.result);
    });
    // A port delivers what was sent on it before its 'close'; the task settles on another channel,
    // so only both together (closed, task done, no `end`) mean the thread sent no result.
    let closed = false;
    let done = false;
    const noResult = () => resolve(failed('SANDBOX_ERROR', 'the sandbox thread sent no result'));
    port1.once('close', () => {
      closed = true;
      if (done) noResult();
    });
    // The task settles after the result was sent (the thread then readies its next context).
    pool.run({ invocation, port: port2 }, { transferList: [port2] }).then(
      () => {
        done = true;
        if (closed) noResult();
      },
      (err: unknown) => {
        const message = messageOf(err);
        resolve(
          /queue is at limit/i.test(message)
            ? failed('SANDBOX_UNAVAILABLE', 'the sandbox queue is full')
            : failed('SANDBOX_CRASHED', `a sandbox thread failed: ${message}`),
        );
      },
    );
  });
  running.delete(id);
  port1.close();
  send({ type: 'result', id, result });
}

process.on('message', (raw: unknown) => {
  try {
    const msg = parseParentMessage(raw);
    if (msg === null) return;
    if (msg.type === 'invoke') void invoke(msg.id, msg.invocation);
    else if (msg.type === 'cancel') running.get(msg.id)?.postMessage({ type: 'cancel' } satisfies PortToWorker);
    else if (msg.type === 'guard')
      running.get(msg.id)?.postMessage({ type: 'guard', seq: msg.seq, reply: msg.reply } satisfies PortToWorker);
    else void pool.destroy().finally(() => process.exit(0));
  } catch (err) {
    process.stderr.write(`sandbox: ignored a bad message: ${messageOf(err)}\n`);
  }
});

/*
 * Plugin code resumed after its invocation ended (a continuation of a host reply that arrived
 * late) runs outside every deadline, and disposing its isolate does not always stop it. Such
 * code is the only thing that can burn CPU here while no invocation is in flight; when that
 * happens, the process exits and the supervisor starts a clean one. Nothing is in flight, so
 * nothing is lost.
 */
const WATCH_MS = 1000;
const IDLE_CPU_LIMIT_MICROS = 300_000;
// Two windows in a row: a garbage collection or an isolate's disposal can spike once; a runaway never stops.
const RUNAWAY_WINDOWS = 2;
let cpuMark = process.cpuUsage();
let busyIdleWindows = 0;
setInterval(() => {
  const used = process.cpuUsage(cpuMark);
  cpuMark = process.cpuUsage();
  const idle = !activeThisWindow && running.size === 0;
  activeThisWindow = running.size > 0;
  busyIdleWindows = idle && used.user + used.system > IDLE_CPU_LIMIT_MICROS ? busyIdleWindows + 1 : 0;
  if (busyIdleWindows >= RUNAWAY_WINDOWS) {
    process.stderr.write(
      `sandbox: ${Math.round((used.user + used.system) / 1000)} ms of CPU in ${WATCH_MS} ms with no invocation running: leftover plugin code; restarting\n`,
    );
    process.exit(RUNAWAY_EXIT_CODE);
  }
}, WATCH_MS).unref();

// The supervisor is gone: nobody can receive results, so stop rather than linger as an orphan.
process.on('disconnect', () => process.exit(0));

send({ type: 'ready' });
