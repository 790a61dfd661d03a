import ivm from 'isolated-vm';
import type { HostBridge } from './hostBridge.js';
import type { EgressErrorCode } from '../egress/types.js';

/**
 * A fresh context of a cached isolate with the bootstrap already run in it, used by exactly one
 * invocation and released after it. `bridge` is that invocation's host side; it is set when the
 * invocation takes the context and cleared when it ends, so a late call from a leftover promise
 * reaches nothing.
 */
export interface GuestContext {
  context: ivm.Context;
  /** The bootstrap's `run`. */
  run: ivm.Reference;
  bridge: HostBridge | undefined;
}

const ENDED = JSON.stringify({ ok: false, code: 'EGRESS_FAILED' satisfies EgressErrorCode, message: 'the invocation has ended' });

/**
 * Creates a context and runs the bootstrap in it (compiled once per isolate). Only trusted code
 * runs here, but the isolate may still be busy with an ended invocation's leftover promise, so
 * this uses the asynchronous API: the thread stays free for the deadline that disposes such an
 * isolate, where a synchronous call would wait for it without end.
 */
export async function prepareGuestContext(isolate: ivm.Isolate, bootstrap: ivm.Script, timeoutMs: number): Promise<GuestContext> {
  const context = await isolate.createContext();
  try {
    const guest: GuestContext = { context, run: undefined as unknown as ivm.Reference, bridge: undefined };
    const factory = (await bootstrap.run(context, { reference: true, timeout: timeoutMs })) as ivm.Reference;
    try {
      guest.run = (await factory.apply(
        undefined,
        [
          new ivm.Callback((level: unknown, message: unknown, fields: unknown) => guest.bridge?.log(level, message, fields)),
          new ivm.Reference(async (json: unknown) => (guest.bridge === undefined ? ENDED : guest.bridge.http(json))),
        ],
        { result: { reference: true }, timeout: timeoutMs },
      )) as ivm.Reference;
    } finally {
      factory.release();
    }
    return guest;
  } catch (err) {
    releaseGuestContext(context);
    throw err;
  }
}

/** Frees a context; a no-op once its isolate is gone. */
export function releaseGuestContext(context: ivm.Context): void {
  try {
    context.release();
  } catch {
    // The isolate is gone with everything in it.
  }
}
