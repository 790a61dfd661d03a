/**
 * `switchyard support-bundle`: what a support engineer needs to see, with every secret
 * taken out before anything is written: versions, the configuration (as the audit log
 * records it, secrets replaced), the config file with secret values redacted, recent log
 * lines with tokens, passwords and keys redacted, and database and queue statistics.
 * Nothing in it comes from a tenant's data: counts and sizes, never rows.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import * as tar from 'tar';
import { auditableConfig, type Config } from '../core/config.js';
import { applianceVersion } from '../server/version.js';

const REDACTED = '[REDACTED]';
/** Names whose values are secrets wherever they appear (config keys, JSON fields, key=value in logs). */
const SECRET_NAME = /(password|passwd|secret|token|api[_-]?key|private[_-]?key|authorization|credential|cookie)/i;

/**
 * Secrets in free text: API tokens, bearer credentials, URL passwords, PEM private keys,
 * and the value after any secret-named key. Applied to every line that leaves the host.
 */
export function redactText(text: string): string {
  return (
    text
      .replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, `-----${REDACTED} PRIVATE KEY-----`)
      .replace(/\bsy_[A-Za-z0-9]{8}_[A-Za-z0-9]{16,}\b/g, `sy_${REDACTED}`)
      .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`)
      .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^:/?#\s@"']*):[^@/\s"']*@/gi, `$1:${REDACTED}@`)
      // A quoted value stays quoted, so JSON stays JSON.
      .replace(
        new RegExp(
          `(["']?[A-Za-z0-9_.-]*${SECRET_NAME.source}[A-Za-z0-9_.-]*["']?\\s*[:=]\\s*)("[^"]*"|'[^']*'|(?!(?:Bearer|Basic)\\s)[^\\s,}]+)`,
          'gi',
        ),
        (_all, key: string, _name: string, value: string) =>
          `${key}${value.startsWith('"') || value.startsWith("'") ? `${value[0]}${REDACTED}${value[0]}` : REDACTED}`,
      )
  );
}

/** A config file's KEY=value lines with secret values and URL passwords redacted. */
export function redactEnvFile(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const match = /^(\s*[A-Za-z_][A-Za-z0-9_]*\s*=)(.*)$/.exec(line);
      if (!match) return redactText(line);
      return SECRET_NAME.test(match[1]!) ? `${match[1]}${REDACTED}` : redactText(line);
    })
    .join('\n');
}

export interface SupportBundleInput {
  config: Config;
  /** The owner's connection, for statistics; null when the database cannot be reached. */
  databaseUrl: string | null;
  configFile: string | null;
  /** Log files to include the end of (the journal export, a file the site's logging writes). */
  logFiles: string[];
  logLines: number;
  out: string;
}

export async function writeSupportBundle(input: SupportBundleInput): Promise<{ file: string; files: string[] }> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-support-'));
  try {
    const files: Record<string, string> = {};
    files['versions.json'] = json({
      switchyard: applianceVersion(),
      node: process.version,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      cpus: os.availableParallelism(),
      memoryBytes: os.totalmem(),
      hostname: os.hostname(),
      collectedAt: new Date().toISOString(),
    });
    // The audited configuration has its secrets out already; its strings are scanned once more.
    files['config.json'] = json(
      Object.fromEntries(Object.entries(auditableConfig(input.config)).map(([k, v]) => [k, typeof v === 'string' ? redactText(v) : v])),
    );
    if (input.configFile && fs.existsSync(input.configFile))
      files['config-file.env'] = redactEnvFile(fs.readFileSync(input.configFile, 'utf8'));
    for (const [i, file] of input.logFiles.entries()) {
      // Redacted whole before the tail is cut, so a key block cut in half is still found.
      const text = fs.existsSync(file) ? redactText(fs.readFileSync(file, 'utf8')) : `(${file} does not exist)`;
      files[`logs/${i + 1}-${path.basename(file)}`] = text.split('\n').slice(-input.logLines).join('\n');
    }
    files['database.json'] = json(
      input.databaseUrl
        ? await databaseStatistics(input.databaseUrl).catch((error: Error) => ({ error: redactText(error.message) }))
        : { error: 'no database configured' },
    );
    const prefix = `switchyard-support-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(work, name)), { recursive: true });
      fs.writeFileSync(path.join(work, name), text, { mode: 0o600 });
    }
    fs.mkdirSync(path.dirname(path.resolve(input.out)), { recursive: true });
    await tar.create(
      { cwd: work, file: input.out, gzip: true, portable: true, prefix, mode: 0o600 } as tar.TarOptionsWithAliasesAsyncFile,
      Object.keys(files),
    );
    fs.chmodSync(input.out, 0o600);
    return { file: input.out, files: Object.keys(files) };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Sizes and counts of the database, the queue and the audit chains; never a row's content. */
async function databaseStatistics(url: string): Promise<Record<string, unknown>> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const q = async (text: string) => (await client.query(text)).rows;
    return {
      server: (
        await q(`select version() as version, current_setting('server_version_num') as num, pg_database_size(current_database()) as bytes`)
      )[0],
      migrations: await q(`select name, applied_at from switchyard_migrations order by name`).catch(() => []),
      tables:
        await q(`select relname as table, n_live_tup as rows, n_dead_tup as dead, pg_total_relation_size(relid) as bytes, last_autovacuum
                         from pg_stat_user_tables order by pg_total_relation_size(relid) desc limit 50`),
      jobs: await q(`select task_identifier as task, count(*)::int as jobs, count(*) filter (where locked_at is not null)::int as locked,
                            count(*) filter (where attempts >= max_attempts)::int as given_up, min(run_at) as oldest
                       from graphile_worker.jobs group by 1 order by 1`).catch(() => []),
      backlogs: await q(`select count(distinct tenant_id)::int as tenants, count(*)::int as steps from step_backlog`).catch(() => []),
      runs: await q(`select status, count(*)::int as runs from runs group by 1 order by 1`).catch(() => []),
      engineNodes: await q(`select hostname, pid, role, started_at from engine_nodes order by started_at`).catch(() => []),
      connections: await q(
        `select application_name, state, count(*)::int as connections from pg_stat_activity where datname = current_database() group by 1, 2 order by 1, 2`,
      ),
    };
  } finally {
    await client.end();
  }
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
