/**
 * Preflight: what `switchyard install` checks before it changes anything. Each check says
 * PASS, WARN or FAIL, what it found, and for anything but PASS how to fix it. Any FAIL
 * stops the install (unless --ignore-preflight, which the install records).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { releaseRuntime } from './runtime.js';

export type CheckStatus = 'PASS' | 'WARN' | 'FAIL';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a WARN or FAIL. */
  fix?: string;
}

export interface PreflightTarget {
  /** The application being installed (an unpacked bundle or a checkout): its runtime is checked. */
  appDir: string;
  configDir: string;
  dataDir: string;
  host: string;
  port: number;
  /** The owner role's connection; null: the embedded PostgreSQL. */
  databaseUrl: string | null;
  env: Record<string, string | undefined>;
}

const GIB = 2 ** 30;
const RUNTIME_MAJOR = 24;
const MIN_PG_VERSION_NUM = 140000;

const pass = (name: string, detail: string): CheckResult => ({ name, status: 'PASS', detail });
const warn = (name: string, detail: string, fix: string): CheckResult => ({ name, status: 'WARN', detail, fix });
const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, status: 'FAIL', detail, fix });

export async function runPreflight(target: PreflightTarget): Promise<CheckResult[]> {
  return [
    runtime(target.appDir),
    cpus(os.availableParallelism()),
    memory(os.totalmem()),
    freeDisk(target.dataDir),
    await portFree(target.host, target.port),
    ...(await database(target.databaseUrl)),
    writable('config directory', target.configDir),
    writable('data directory', target.dataDir),
    proxy(target.env, target.databaseUrl),
  ];
}

/**
 * The Node.js the appliance carries, not the host's (which it does not need): present,
 * and able to run here. Running it is the real test of the platform: a host that is not
 * Linux x64, or whose C library is older than the runtime's (glibc 2.28), fails here.
 */
export function runtime(
  appDir: string,
  exec: (file: string) => string = (file) =>
    execFileSync(file, ['-p', 'process.versions.node'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 }),
): CheckResult {
  const file = releaseRuntime(appDir);
  if (!fs.existsSync(file))
    return fail(
      'Node.js runtime',
      `${file} is missing`,
      'unpack the whole offline bundle (it carries its Node.js) and run its bin/switchyard',
    );
  let version: string;
  try {
    version = exec(file).trim();
  } catch (error) {
    const why = ((error as { stderr?: string }).stderr || (error as NodeJS.ErrnoException).code || (error as Error).message)
      .toString()
      .trim()
      .split('\n')[0];
    return fail(
      'Node.js runtime',
      `the bundled ${file} cannot run on this host: ${why}`,
      'install on Linux x64 with glibc 2.28 or newer (RHEL/Rocky 8+, Debian 10+, Ubuntu 20.04+)',
    );
  }
  const major = Number(version.split('.')[0]);
  return major === RUNTIME_MAJOR
    ? pass('Node.js runtime', `bundled v${version} (the host needs no Node.js)`)
    : fail(
        'Node.js runtime',
        `bundled v${version}; this release is built for Node.js ${RUNTIME_MAJOR}`,
        'the bundle was altered: unpack it again from the original archive',
      );
}

export function cpus(count: number): CheckResult {
  return count >= 2
    ? pass('CPU', `${count} cores`)
    : warn('CPU', `${count} core`, 'give the host 2 or more cores: the engine, the sandbox pool and PostgreSQL compete for one');
}

export function memory(bytes: number): CheckResult {
  const gib = (bytes / GIB).toFixed(1);
  if (bytes < GIB) return fail('memory', `${gib} GiB`, 'at least 1 GiB is needed (2 GiB or more recommended)');
  if (bytes < 2 * GIB)
    return warn('memory', `${gib} GiB`, '2 GiB or more is recommended: each sandbox thread may use up to its memory limit');
  return pass('memory', `${gib} GiB`);
}

/** The nearest directory of `dir` that exists (the install creates the rest). */
function existingAncestor(dir: string): string {
  let at = path.resolve(dir);
  while (!fs.existsSync(at)) at = path.dirname(at);
  return at;
}

export function freeDisk(dataDir: string, statfs: (at: string) => { bavail: number; bsize: number } = fs.statfsSync): CheckResult {
  const at = existingAncestor(dataDir);
  const stats = statfs(at);
  const free = stats.bavail * stats.bsize;
  const detail = `${(free / GIB).toFixed(1)} GiB free at ${at}`;
  if (free < GIB) return fail('free disk', detail, `free space at ${at} or choose another data directory: at least 1 GiB is needed`);
  if (free < 10 * GIB) return warn('free disk', detail, 'the run history, audit log and backups grow; 10 GiB or more is recommended');
  return pass('free disk', detail);
}

export async function portFree(host: string, port: number): Promise<CheckResult> {
  const name = `port ${host}:${port}`;
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      resolve(
        fail(
          name,
          error.code === 'EADDRINUSE' ? 'in use by another program' : `cannot listen: ${error.code ?? error.message}`,
          error.code === 'EADDRINUSE'
            ? `stop what listens there (ss -ltnp 'sport = :${port}') or choose another --port`
            : 'choose an address this host has, and a port above 1023 or run as root',
        ),
      );
    });
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(pass(name, 'free'))));
  });
}

export async function database(url: string | null): Promise<CheckResult[]> {
  if (url === null) return [pass('PostgreSQL', 'embedded server chosen (its binaries ship in the bundle)')];
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    return [
      fail(
        'PostgreSQL',
        `cannot connect: ${(error as Error).message}`,
        'check the database URL, that the server runs and that pg_hba.conf admits this host; or choose the embedded server',
      ),
    ];
  }
  try {
    const t0 = Date.now();
    const {
      rows: [row],
    } = await client.query<{ v: string; su: boolean; createrole: boolean; can_create: boolean; now_ms: string }>(
      `select current_setting('server_version_num') as v, r.rolsuper as su, r.rolcreaterole as createrole,
              has_database_privilege(current_user, current_database(), 'CREATE') as can_create,
              (extract(epoch from clock_timestamp()) * 1000)::bigint::text as now_ms
         from pg_roles r where r.rolname = current_user`,
    );
    const t1 = Date.now();
    const results: CheckResult[] = [];
    const version = Number(row!.v);
    results.push(
      version >= MIN_PG_VERSION_NUM
        ? pass('PostgreSQL', `version ${Math.floor(version / 10000)}.${version % 10000}`)
        : fail(
            'PostgreSQL',
            `version ${Math.floor(version / 10000)}; 14 or newer is needed`,
            'upgrade PostgreSQL, or choose the embedded server',
          ),
    );
    const missing = [
      !(row!.su || row!.createrole) && 'CREATEROLE (to create the runtime role)',
      !(row!.su || row!.can_create) && 'CREATE on the database (to create the schema)',
    ].filter(Boolean);
    results.push(
      missing.length === 0
        ? pass('database privileges', 'the owner role can create the schema and the runtime role')
        : fail(
            'database privileges',
            `the role lacks ${missing.join(' and ')}`,
            'connect as the database owner with CREATEROLE (ALTER ROLE … CREATEROLE; GRANT CREATE ON DATABASE … TO …)',
          ),
    );
    results.push(clockSkew(Number(row!.now_ms), (t0 + t1) / 2));
    return results;
  } finally {
    await client.end();
  }
}

export function clockSkew(databaseMs: number, localMs: number): CheckResult {
  const skew = Math.abs(databaseMs - localMs);
  const detail = `${skew} ms between this host and the database`;
  if (skew > 30_000)
    return fail(
      'clock skew',
      detail,
      'synchronise both clocks (chrony or systemd-timesyncd): tokens, schedules and audit times depend on them',
    );
  if (skew > 1_000) return warn('clock skew', detail, 'synchronise both clocks (chrony or systemd-timesyncd)');
  return pass('clock skew', detail);
}

export function writable(name: string, dir: string): CheckResult {
  const at = existingAncestor(dir);
  try {
    const probe = path.join(at, `.switchyard-preflight-${process.pid}`);
    fs.writeFileSync(probe, '', { flag: 'wx' });
    fs.rmSync(probe);
    return pass(name, at === path.resolve(dir) ? `${dir} is writable` : `${dir} can be created in ${at}`);
  } catch (error) {
    return fail(
      name,
      `${at} is not writable: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      'run the installer as root, or choose a --prefix you can write to',
    );
  }
}

/** Proxy variables: Switchyard reaches its database and integrations directly; a proxy without NO_PROXY for them breaks calls. */
export function proxy(env: Record<string, string | undefined>, databaseUrl: string | null): CheckResult {
  const get = (name: string) => env[name] ?? env[name.toLowerCase()];
  const proxies = ['HTTPS_PROXY', 'HTTP_PROXY', 'ALL_PROXY'].filter((n) => get(n));
  if (proxies.length === 0) return pass('proxy', 'none set');
  const noProxy = (get('NO_PROXY') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const dbHost = databaseUrl ? new URL(databaseUrl).hostname : null;
  const needed = ['localhost', '127.0.0.1', ...(dbHost ? [dbHost] : [])].filter(
    (h) => !noProxy.some((n) => n === '*' || h === n || h.endsWith(n.startsWith('.') ? n : `.${n}`)),
  );
  return needed.length === 0
    ? pass('proxy', `${proxies.join(', ')} set; NO_PROXY covers ${noProxy.join(', ')}`)
    : warn(
        'proxy',
        `${proxies.join(', ')} set; NO_PROXY does not cover ${needed.join(', ')}`,
        `add ${needed.join(',')} to NO_PROXY for the service`,
      );
}

/** The table the installer prints. */
export function formatChecks(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  return results
    .map((r) => `${r.status.padEnd(4)}  ${r.name.padEnd(width)}  ${r.detail}${r.fix ? `\n      ${' '.repeat(width)}  fix: ${r.fix}` : ''}`)
    .join('\n');
}
