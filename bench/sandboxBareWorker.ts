import ivm from 'isolated-vm';

/**
 * The bare isolated-vm baseline of the sandbox benchmark (bench/sandbox.ts): a piscina task that
 * runs a plugin action with isolated-vm directly, as cheaply as that can be done with a fresh
 * context per call. Per thread, one isolate per script with the script and a one-line
 * `defineAction` shim compiled once; per call, a new context, the shim, the script and the action.
 * No supervisor, no sandbox process, no IPC, no bootstrap hardening, no limits beyond `timeout`.
 */
export interface BareTask {
  sha256: string;
  source: string;
  action: string;
  input: unknown;
}

const SHIM = `'use strict'; (() => {
  const actions = new Map();
  globalThis.defineAction = (name, fn) => { actions.set(name, fn); };
  return async (name, json) => JSON.stringify(await actions.get(name)(JSON.parse(json)));
})()`;

const isolates = new Map<string, { isolate: ivm.Isolate; script: ivm.Script; shim: ivm.Script }>();

export default async function bareInvoke(task: BareTask): Promise<unknown> {
  let cached = isolates.get(task.sha256);
  if (cached === undefined) {
    const isolate = new ivm.Isolate({ memoryLimit: 64 });
    cached = { isolate, script: await isolate.compileScript(task.source), shim: await isolate.compileScript(SHIM) };
    isolates.set(task.sha256, cached);
  }
  const context = cached.isolate.createContextSync();
  try {
    const run = cached.shim.runSync(context, { reference: true, timeout: 1_000 }) as ivm.Reference;
    (await cached.script.run(context, { timeout: 1_000, reference: true })).release();
    const json = await run.apply(undefined, [task.action, JSON.stringify(task.input)], {
      arguments: { copy: true },
      result: { copy: true, promise: true },
      timeout: 1_000,
    });
    run.release();
    return JSON.parse(json as string);
  } finally {
    context.release();
  }
}
