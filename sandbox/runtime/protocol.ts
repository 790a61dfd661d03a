import type { MessagePort } from 'node:worker_threads';
import type { GuardAdmission, GuardedHopResult } from '../egress/types.js';
import type { SandboxInvocation, SandboxLogLine, SandboxResult } from './types.js';

/**
 * A question of an invocation's egress session to the integration guard, which lives with
 * the engine: thread to sandbox process to supervisor, and the reply back (`seq` pairs them).
 */
export type GuardCall = { kind: 'admit'; host: string } | { kind: 'report'; permit: string; result: GuardedHopResult };
/** An admission for `admit`; null once a `report` is recorded. */
export type GuardReply = GuardAdmission | null;

/** Supervisor to sandbox process. `id` is the supervisor's, unique per child. */
export type ParentMessage =
  | { type: 'invoke'; id: number; invocation: SandboxInvocation }
  | { type: 'cancel'; id: number }
  | { type: 'guard'; id: number; seq: number; reply: GuardReply }
  | { type: 'stop' };

/** Sandbox process to supervisor. */
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: SandboxResult }
  | { type: 'log'; id: number; line: Omit<SandboxLogLine, 'invocationId'> }
  | { type: 'guard'; id: number; seq: number; call: GuardCall };

/** What the sandbox process hands a piscina thread; `port` carries cancel in and log lines out. */
export interface WorkerTask {
  invocation: SandboxInvocation;
  port: MessagePort;
}

export type PortToWorker = { type: 'cancel' } | { type: 'guard'; seq: number; reply: GuardReply };
/** `end` carries the result and is the last message of a task, so it always follows the task's log lines. */
export type PortFromWorker =
  | { type: 'log'; line: Omit<SandboxLogLine, 'invocationId'> }
  | { type: 'guard'; seq: number; call: GuardCall }
  | { type: 'end'; result: SandboxResult };

/** Configuration of the sandbox process, passed as its one argument (JSON). */
export interface ProcessConfig {
  poolSize: number;
  maxQueue: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isLimit = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** Why an invocation is malformed, or null. The child checks so a bad message cannot crash it. */
export function invocationProblem(value: unknown): string | null {
  if (!isRecord(value)) return 'not an object';
  const { script, context, limits, network, credentials } = value;
  if (!isString(value.invocationId)) return 'invocationId must be a string';
  if (!isRecord(script) || !isString(script.sha256) || !isString(script.source) || !isString(script.name))
    return 'script must have sha256, source and name';
  if (!isString(value.action)) return 'action must be a string';
  if (
    !isRecord(context) ||
    !isString(context.tenantId) ||
    !isString(context.runId) ||
    !isString(context.stepId) ||
    typeof context.attempt !== 'number' ||
    !isString(context.idempotencyKey)
  )
    return 'context is incomplete';
  if (
    !isRecord(limits) ||
    !isLimit(limits.memoryMb) ||
    !isLimit(limits.timeoutMs) ||
    !isLimit(limits.cpuMs) ||
    !isLimit(limits.maxOutputBytes)
  ) {
    return 'limits must be positive numbers';
  }
  if (!isRecord(network) || !Array.isArray(network.allowedHosts)) return 'network policy is missing';
  if (!Array.isArray(credentials)) return 'credentials must be an array';
  return null;
}

export function parseParentMessage(value: unknown): ParentMessage | null {
  if (!isRecord(value)) return null;
  if (value.type === 'stop') return { type: 'stop' };
  if (typeof value.id !== 'number' || !Number.isSafeInteger(value.id)) return null;
  if (value.type === 'cancel') return { type: 'cancel', id: value.id };
  if (value.type === 'guard' && typeof value.seq === 'number')
    return { type: 'guard', id: value.id, seq: value.seq, reply: value.reply as GuardReply };
  if (value.type === 'invoke') return { type: 'invoke', id: value.id, invocation: value.invocation as SandboxInvocation };
  return null;
}

export function parseChildMessage(value: unknown): ChildMessage | null {
  if (!isRecord(value)) return null;
  if (value.type === 'ready') return { type: 'ready' };
  if (typeof value.id !== 'number') return null;
  if (value.type === 'result' && isRecord(value.result) && typeof value.result.ok === 'boolean') {
    return { type: 'result', id: value.id, result: value.result as SandboxResult };
  }
  if (value.type === 'log' && isRecord(value.line))
    return { type: 'log', id: value.id, line: value.line as Omit<SandboxLogLine, 'invocationId'> };
  if (value.type === 'guard' && typeof value.seq === 'number') {
    const call = parseGuardCall(value.call);
    return call === null ? null : { type: 'guard', id: value.id, seq: value.seq, call };
  }
  return null;
}

/**
 * The supervisor's check of a guard call: it comes from the process that runs plugin code,
 * so only the exact shapes pass (a malformed one gets no answer, and its request times out).
 */
function parseGuardCall(value: unknown): GuardCall | null {
  if (!isRecord(value)) return null;
  if (value.kind === 'admit') return isString(value.host) && value.host.length <= 300 ? { kind: 'admit', host: value.host } : null;
  if (value.kind !== 'report' || !isString(value.permit) || !isRecord(value.result)) return null;
  const { status, retryAfter } = value.result;
  if (status === null) return { kind: 'report', permit: value.permit, result: { status: null } };
  if (
    typeof status !== 'number' ||
    !Number.isInteger(status) ||
    (retryAfter !== null && !(isString(retryAfter) && retryAfter.length <= 200))
  )
    return null;
  return { kind: 'report', permit: value.permit, result: { status, retryAfter: retryAfter as string | null } };
}
