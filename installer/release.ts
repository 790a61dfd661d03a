/**
 * Where an installation keeps its application: every version in
 * `<prefix>/opt/switchyard/releases/<version>`, and `current`, a symlink to the one the
 * services run. An upgrade adds a release and moves the symlink; a rollback moves it back.
 */
import fs from 'node:fs';
import path from 'node:path';

/** What a release holds, relative to an application root (a checkout after the build, or a bundle). */
const DIST_PARTS = ['bin', 'core', 'server', 'sandbox', 'plugins', 'installer', 'admin-ui'];
const FILES = ['package.json', 'package-lock.json', 'README.md'];

export interface ReleaseManifest {
  version: string;
  /** The oldest version this one can upgrade from directly (package.json `switchyard.upgradesFrom`). */
  upgradesFrom: string;
}

export function releaseLayout(prefix: string) {
  const base = path.join(prefix, 'opt/switchyard');
  return { base, releases: path.join(base, 'releases'), current: path.join(base, 'current'), state: path.join(base, 'upgrade-state.json') };
}

export function readRelease(appRoot: string): ReleaseManifest {
  const pkg = JSON.parse(fs.readFileSync(path.join(appRoot, 'package.json'), 'utf8')) as {
    version: string;
    switchyard?: { upgradesFrom?: string };
  };
  return { version: pkg.version, upgradesFrom: pkg.switchyard?.upgradesFrom ?? '0.0.0' };
}

/** Copies the application at `from` (dist, migrations, first-party plugins, node_modules) to `to`. */
export function copyApplication(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const part of DIST_PARTS)
    fs.cpSync(path.join(from, 'dist', part), path.join(to, 'dist', part), { recursive: true, filter: (src) => !src.endsWith('.map') });
  fs.cpSync(path.join(from, 'core/db/migrations'), path.join(to, 'core/db/migrations'), { recursive: true });
  fs.cpSync(path.join(from, 'plugins/firstParty'), path.join(to, 'plugins/firstParty'), {
    recursive: true,
    filter: (src) => !src.endsWith('.ts'),
  });
  for (const f of FILES) fs.copyFileSync(path.join(from, f), path.join(to, f));
  if (fs.existsSync(path.join(from, 'bin/switchyard'))) fs.cpSync(path.join(from, 'bin'), path.join(to, 'bin'), { recursive: true });
  fs.cpSync(path.join(from, 'node_modules'), path.join(to, 'node_modules'), { recursive: true, verbatimSymlinks: true });
}

/** The release `current` points at, or null before the first install. */
export function currentRelease(prefix: string): { dir: string; release: ReleaseManifest } | null {
  const { current } = releaseLayout(prefix);
  if (!fs.existsSync(current)) return null;
  const dir = fs.realpathSync(current);
  return { dir, release: readRelease(dir) };
}

/** Copies `appRoot` in as a release (unless that version is there already) and returns its folder. */
export function addRelease(prefix: string, appRoot: string): string {
  const { version } = readRelease(appRoot);
  const dir = path.join(releaseLayout(prefix).releases, version);
  if (path.resolve(appRoot) === path.resolve(dir) || fs.existsSync(path.join(dir, 'package.json'))) return dir;
  const temp = `${dir}.partial-${process.pid}`;
  fs.rmSync(temp, { recursive: true, force: true });
  copyApplication(appRoot, temp);
  fs.renameSync(temp, dir);
  return dir;
}

/** Points `current` at `dir`, atomically (a new symlink renamed over the old). */
export function switchCurrent(prefix: string, dir: string): void {
  const { current } = releaseLayout(prefix);
  const temp = `${current}.new-${process.pid}`;
  fs.rmSync(temp, { force: true });
  fs.symlinkSync(dir, temp);
  fs.renameSync(temp, current);
}

/** Semantic version order of `a` and `b` (major.minor.patch). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}
