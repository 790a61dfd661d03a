/**
 * `switchyard doctor`: health checks of an installed appliance, in the preflight's
 * PASS/WARN/FAIL form with a fix for each problem. Read-only: it changes nothing.
 */
import fs from 'node:fs';
import forge from 'node-forge';
import pg from 'pg';
import type { Config } from '../core/config.js';
import { pendingMigrations } from '../core/db/migrate.js';
import { clockSkew, freeDisk, type CheckResult } from './preflight.js';

const DAY_MS = 86_400_000;

const pass = (name: string, detail: string): CheckResult => ({ name, status: 'PASS', detail });
const warn = (name: string, detail: string, fix: string): CheckResult => ({ name, status: 'WARN', detail, fix });
const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, status: 'FAIL', detail, fix });

export async function runDoctor(config: Config, ownerUrl: string): Promise<CheckResult[]> {
  const results: CheckResult[] = [
    keyFile(
      'master key',
      config.masterKeyFile,
      'restore it from the key backup (switchyard backup writes it separately): without it no credential can be decrypted',
    ),
    keyFile('audit signing key', config.auditSigningKeyFile, 'restore it from the key backup; a new key would sign new checkpoints only'),
    ...(config.tls ? [tlsCertificate(config.tls.certFile)] : []),
    freeDisk(config.dataDir),
  ];
  const pool = new pg.Pool({ connectionString: ownerUrl, max: 2, connectionTimeoutMillis: 5000 });
  pool.on('error', () => undefined);
  try {
    const t0 = Date.now();
    const {
      rows: [now],
    } = await pool.query<{ now_ms: string; version: string }>(
      `select (extract(epoch from clock_timestamp()) * 1000)::bigint::text as now_ms, current_setting('server_version') as version`,
    );
    results.push(pass('database', `PostgreSQL ${now!.version} answers`), clockSkew(Number(now!.now_ms), (t0 + Date.now()) / 2));
    const pending = await pendingMigrations(pool);
    results.push(
      pending.length === 0
        ? pass('migrations', 'all applied')
        : fail(
            'migrations',
            `${pending.length} pending: ${pending.join(', ')}`,
            'run switchyard migrate (or start the appliance, which migrates first)',
          ),
    );
    results.push(...(await queueChecks(pool)));
  } catch (error) {
    results.push(
      fail(
        'database',
        `cannot query: ${(error as Error).message}`,
        'check that PostgreSQL runs and DATABASE_URL in the config file is right',
      ),
    );
  } finally {
    await pool.end();
  }
  return results;
}

function keyFile(name: string, file: string, fix: string): CheckResult {
  if (!fs.existsSync(file)) return fail(name, `${file} is missing`, fix);
  const mode = fs.statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) return fail(name, `${file} is readable by others (mode ${mode.toString(8)})`, `chmod 600 ${file}`);
  return pass(name, `${file} (mode 600)`);
}

export function tlsCertificate(file: string, now = Date.now()): CheckResult {
  let cert: forge.pki.Certificate;
  try {
    cert = forge.pki.certificateFromPem(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    return fail(
      'TLS certificate',
      `${file} cannot be read: ${(error as Error).message}`,
      'install a PEM certificate (switchyard install --tls-cert, or again to renew the generated one)',
    );
  }
  const left = cert.validity.notAfter.getTime() - now;
  const detail = `${file} valid until ${cert.validity.notAfter.toISOString()}`;
  if (left <= 0)
    return fail(
      'TLS certificate',
      `${file} expired on ${cert.validity.notAfter.toISOString()}`,
      "renew it: run switchyard install again (generated CA), or install the site's new certificate",
    );
  if (left < 30 * DAY_MS)
    return warn(
      'TLS certificate',
      `${detail} (${Math.floor(left / DAY_MS)} days left)`,
      "renew it before it expires: run switchyard install again, or install the site's new certificate",
    );
  return pass('TLS certificate', detail);
}

async function queueChecks(pool: pg.Pool): Promise<CheckResult[]> {
  const {
    rows: [q],
  } = await pool.query<{ nodes: number; waiting: number; oldest_s: number | null; given_up: number; open: number }>(
    `select (select count(*)::int from engine_nodes) as nodes,
            (select count(*)::int from graphile_worker._private_jobs where locked_at is null and attempts < max_attempts and run_at <= now()) as waiting,
            (select extract(epoch from now() - min(run_at))::int from graphile_worker._private_jobs where locked_at is null and attempts < max_attempts and run_at <= now()) as oldest_s,
            (select count(*)::int from graphile_worker._private_jobs where attempts >= max_attempts and locked_at is null) as given_up,
            (select breakers from circuit_breaker_counts() where state = 'OPEN') as open`,
  );
  const r: CheckResult[] = [];
  r.push(
    q!.nodes > 0
      ? pass('engine', `${q!.nodes} worker process(es) registered`)
      : warn('engine', 'no worker process is registered: runs will not progress', 'start switchyard-worker (or a process with --role all)'),
  );
  const oldest = q!.oldest_s ?? 0;
  r.push(
    oldest > 60
      ? warn(
          'queue',
          `${q!.waiting} step jobs waiting, the oldest for ${oldest} s`,
          'add worker processes, or look for a tenant flooding the queue (/metrics: switchyard_queue_depth)',
        )
      : pass('queue', `${q!.waiting} step jobs waiting${q!.waiting > 0 ? `, the oldest for ${oldest} s` : ''}`),
  );
  r.push(
    q!.given_up > 0
      ? warn(
          'failed jobs',
          `${q!.given_up} jobs the queue gave up on`,
          'see the worker logs for the errors; their runs were failed or timed out',
        )
      : pass('failed jobs', 'none'),
  );
  r.push(
    q!.open > 0
      ? warn('circuit breakers', `${q!.open} open`, 'an integration host keeps failing; see integrationGuards in the API')
      : pass('circuit breakers', 'none open'),
  );
  return r;
}
