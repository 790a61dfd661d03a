/**
 * `switchyard install`: preflight, then the config file, the master key and the audit
 * signing key, TLS, the database roles and schema, the systemd units, and the first
 * system-admin token (printed once). Everything lands under `prefix` (default `/`), so a
 * test or a packager can install into a folder. Running it again keeps the keys, the TLS
 * files and the database, rewrites the config file and units, and prints no new token.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { Database } from '../core/db/database.js';
import { prepareDatabase } from '../core/db/provision.js';
import { MasterKeyRing } from '../core/credentials/masterKeys.js';
import { AuditSigningKey } from '../core/audit/signingKey.js';
import { recordAudit } from '../core/audit/audit.js';
import { ensureSystemAdminToken } from '../server/bootstrap.js';
import { formatChecks, runPreflight, type CheckResult } from './preflight.js';
import { generateLocalCa, issueServerCertificate, providedTlsProblem } from './tls.js';
import { writeUnits } from './systemd.js';
import { addRelease, currentRelease, releaseLayout, switchCurrent } from './release.js';

export interface InstallAnswers {
  /** Root of the installation; `/` installs into the system. */
  prefix: string;
  host: string;
  port: number;
  /** Names and addresses clients use; the generated server certificate holds them all. */
  hostnames: string[];
  /** The database owner's URL; null: the embedded PostgreSQL under the data directory. */
  databaseUrl: string | null;
  tls: { mode: 'generate' } | { mode: 'provided'; certFile: string; keyFile: string } | { mode: 'none' };
  serviceUser: string;
  ignorePreflight: boolean;
}

export type InstallErrorCode =
  | 'ANSWERS_INVALID'
  | 'PREFLIGHT_FAILED'
  | 'TLS_INVALID'
  | 'FILE_UNREADABLE'
  /** The interactive install's input ended before every question was answered. */
  | 'INPUT_ENDED'
  /** Ctrl-C at a prompt. */
  | 'INTERRUPTED';

export class InstallError extends Error {
  constructor(
    readonly code: InstallErrorCode,
    message: string,
    readonly checks: CheckResult[] = [],
  ) {
    super(message);
    this.name = 'InstallError';
  }
}

const ANSWERS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    // A line break in a path would end a setting early in the generated unit files.
    prefix: { type: 'string', minLength: 1, pattern: '^[^\\x00-\\x1f\\x7f]+$' },
    host: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    hostnames: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Za-z0-9.:-]+$' } },
    databaseUrl: { type: ['string', 'null'], pattern: '^postgres(ql)?://' },
    tls: {
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['mode'], properties: { mode: { enum: ['generate', 'none'] } } },
        {
          type: 'object',
          additionalProperties: false,
          required: ['mode', 'certFile', 'keyFile'],
          properties: { mode: { const: 'provided' }, certFile: { type: 'string' }, keyFile: { type: 'string' } },
        },
      ],
    },
    serviceUser: { type: 'string', pattern: '^[a-z_][a-z0-9_-]{0,31}$' },
    ignorePreflight: { type: 'boolean' },
  },
} as const;

const validateAnswers = new Ajv({ allErrors: true }).compile(ANSWERS_SCHEMA);

export function defaultAnswers(): InstallAnswers {
  return {
    prefix: '/',
    host: '0.0.0.0',
    port: 8443,
    hostnames: [...new Set([os.hostname(), 'localhost', '127.0.0.1'])],
    databaseUrl: null,
    tls: { mode: 'generate' },
    serviceUser: 'switchyard',
    ignorePreflight: false,
  };
}

/** Answers from a JSON file, over the defaults, with every wrong field named. */
export function readAnswers(file: string, overrides: Partial<InstallAnswers> = {}): InstallAnswers {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new InstallError('ANSWERS_INVALID', `answers file ${file}: ${(error as Error).message}`);
  }
  return checkAnswers({ ...defaultAnswers(), ...(parsed as object), ...overrides }, file);
}

export function checkAnswers(answers: unknown, source = 'answers'): InstallAnswers {
  if (!validateAnswers(answers)) {
    const problems = (validateAnswers.errors ?? []).map((e) => `${e.instancePath || '(top)'} ${e.message}`).join('; ');
    throw new InstallError('ANSWERS_INVALID', `${source}: ${problems}`);
  }
  const checked = answers as unknown as InstallAnswers;
  // The schema admits the characters; whether they form a name a certificate and a resolver accept is checked here.
  const names: Array<[string, string]> = [
    ['/host', checked.host],
    ...checked.hostnames.map((h, i): [string, string] => [`/hostnames/${i}`, h]),
  ];
  const problems = names.flatMap(([at, name]) => {
    const problem = hostnameProblem(name);
    return problem ? [`${at} ${problem}`] : [];
  });
  if (problems.length > 0) throw new InstallError('ANSWERS_INVALID', `${source}: ${problems.join('; ')}`);
  return checked;
}

/** Why `name` is neither an IP address nor a DNS host name, or null when it is one. */
export function hostnameProblem(name: string): string | null {
  if (net.isIP(name)) return null;
  const shown = JSON.stringify(name);
  if (name === '') return 'is empty';
  if (name.length > 253) return `${shown} is longer than 253 characters`;
  if (/^[0-9.]+$/.test(name)) return `${shown} is not an IPv4 address (four numbers from 0 to 255)`;
  if (name.includes(':')) return `${shown} is not an IPv6 address`;
  for (const label of name.split('.')) {
    if (label === '') return `${shown} has an empty label (two dots in a row, or a dot at either end)`;
    if (label.length > 63) return `${shown} has a label longer than 63 characters`;
    if (!/^[A-Za-z0-9-]+$/.test(label)) return `${shown} may hold only letters, digits, hyphens and dots`;
    if (label.startsWith('-') || label.endsWith('-')) return `${shown} has a label starting or ending with a hyphen`;
  }
  return null;
}

/** Where everything goes, under the prefix. */
export function installLayout(prefix: string) {
  const under = (p: string) => path.join(prefix, p);
  const configDir = under('etc/switchyard');
  return {
    configDir,
    configFile: path.join(configDir, 'switchyard.env'),
    keysDir: path.join(configDir, 'keys'),
    masterKeyFile: path.join(configDir, 'keys', 'master.key'),
    auditSigningKeyFile: path.join(configDir, 'keys', 'audit-signing.pem'),
    tlsDir: path.join(configDir, 'tls'),
    caCertFile: path.join(configDir, 'tls', 'ca.pem'),
    caKeyFile: path.join(configDir, 'tls', 'ca.key'),
    certFile: path.join(configDir, 'tls', 'server.pem'),
    keyFile: path.join(configDir, 'tls', 'server.key'),
    dataDir: under('var/lib/switchyard'),
    unitDir: under('etc/systemd/system'),
  };
}

export interface InstallResult {
  checks: CheckResult[];
  layout: ReturnType<typeof installLayout>;
  /** The first system-admin token, when this install made it (shown once). */
  adminToken: string | null;
  url: string;
  /** The CA clients should trust, when the installer generated the certificate. */
  caCertFile: string | null;
}

export async function install(
  answers: InstallAnswers,
  options: { appDir: string; nodePath?: string; env?: Record<string, string | undefined>; print?: (line: string) => void },
): Promise<InstallResult> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const layout = installLayout(answers.prefix);
  const checks = await runPreflight({
    appDir: options.appDir,
    configDir: layout.configDir,
    dataDir: layout.dataDir,
    host: answers.host,
    port: answers.port,
    databaseUrl: answers.databaseUrl,
    env: options.env ?? process.env,
  });
  print('Preflight:');
  print(formatChecks(checks));
  const failed = checks.filter((c) => c.status === 'FAIL');
  if (failed.length > 0 && !answers.ignorePreflight) {
    throw new InstallError(
      'PREFLIGHT_FAILED',
      `preflight failed (${failed.map((c) => c.name).join(', ')}); nothing was changed. Fix the above, or pass --ignore-preflight to install anyway (recorded in the audit log)`,
      checks,
    );
  }
  if (answers.tls.mode === 'provided') {
    const problem = providedTlsProblem(
      readOrFail(answers.tls.certFile, 'the TLS certificate'),
      readOrFail(answers.tls.keyFile, 'the TLS key'),
    );
    if (problem) throw new InstallError('TLS_INVALID', `TLS: ${answers.tls.certFile}: ${problem}; nothing was changed`, checks);
  }

  // Parents traversable (the embedded server runs as its own OS user under root), the folders themselves private.
  for (const dir of [layout.keysDir, layout.dataDir]) {
    fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o755 });
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  MasterKeyRing.open(layout.masterKeyFile, { create: true });
  AuditSigningKey.open(layout.auditSigningKeyFile, { create: true });
  const tls = writeTls(answers, layout);

  const env: Record<string, string> = {
    HOST: answers.host,
    PORT: String(answers.port),
    SWITCHYARD_DATA_DIR: layout.dataDir,
    SWITCHYARD_MASTER_KEY_FILE: layout.masterKeyFile,
    SWITCHYARD_AUDIT_SIGNING_KEY_FILE: layout.auditSigningKeyFile,
    SWITCHYARD_ENV: 'production',
    ...(answers.databaseUrl ? { DATABASE_URL: answers.databaseUrl } : {}),
    ...(tls ? { SWITCHYARD_TLS_CERT_FILE: tls.certFile, SWITCHYARD_TLS_KEY_FILE: tls.keyFile } : {}),
  };
  writeConfigFile(layout.configFile, env, failed);
  const config = loadConfig(env, { logLevel: 'warn' });

  const logger = createLogger('warn');
  const prepared = await prepareDatabase(config, logger);
  let adminToken: string | null;
  try {
    const db = new Database(prepared.runtimeUrl, 2, 'switchyard-install');
    try {
      adminToken = (await ensureSystemAdminToken(db, undefined)).generatedToken;
      await db.tx('system', (q) =>
        recordAudit(q, null, {
          action: 'config.installed',
          targetType: 'appliance',
          targetId: null,
          tenantId: null,
          outcome: 'SUCCESS',
          ...(failed.length > 0
            ? { reason: `installed with --ignore-preflight despite: ${failed.map((c) => `${c.name} (${c.detail})`).join('; ')}` }
            : {}),
          details: {
            ignorePreflight: answers.ignorePreflight,
            failedChecks: failed.map((c) => c.name),
            warnings: checks.filter((c) => c.status === 'WARN').map((c) => c.name),
            tls: answers.tls.mode,
            embeddedDatabase: answers.databaseUrl === null,
          },
        }),
      );
    } finally {
      await db.close();
    }
  } finally {
    await prepared.stopEmbedded();
  }

  // The services run `current`; an upgrade adds a release beside this one and moves it.
  const release = addRelease(answers.prefix, options.appDir);
  if (!currentRelease(answers.prefix)) switchCurrent(answers.prefix, release);
  writeUnits(layout.unitDir, {
    serviceUser: answers.serviceUser,
    current: releaseLayout(answers.prefix).current,
    configFile: layout.configFile,
    dataDir: layout.dataDir,
    ...(options.nodePath ? { nodePath: options.nodePath } : {}),
  });
  ownForService(answers, layout);
  const scheme = tls ? 'https' : 'http';
  const url = `${scheme}://${answers.hostnames[0]}:${answers.port}`;
  return { checks, layout, adminToken, url, caCertFile: tls?.generated ? layout.caCertFile : null };
}

/**
 * On a real install as root, the service user owns its data and keys and can read the
 * config file; nothing else can. Into a prefix, files stay the installing user's.
 */
function ownForService(answers: InstallAnswers, layout: ReturnType<typeof installLayout>): void {
  if (process.getuid?.() !== 0 || path.resolve(answers.prefix) !== '/') return;
  const user = answers.serviceUser;
  try {
    execFileSync('getent', ['passwd', user], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--home-dir', layout.dataDir, '--no-create-home', '--shell', '/usr/sbin/nologin', user], {
      stdio: 'inherit',
    });
  }
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  const own = (p: string) => {
    fs.chownSync(p, uid, gid);
    if (fs.statSync(p).isDirectory()) for (const entry of fs.readdirSync(p)) own(path.join(p, entry));
  };
  own(layout.dataDir);
  own(layout.keysDir);
  own(layout.tlsDir);
  // The local CA's key signs certificates; it stays root's.
  if (fs.existsSync(layout.caKeyFile)) fs.chownSync(layout.caKeyFile, 0, 0);
  fs.chownSync(layout.configFile, 0, gid);
}

function readOrFail(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new InstallError(
      'FILE_UNREADABLE',
      `${what} ${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; nothing was changed`,
    );
  }
}

/** The TLS files the appliance will use; an existing generated CA and certificate are kept. */
function writeTls(
  answers: InstallAnswers,
  layout: ReturnType<typeof installLayout>,
): { certFile: string; keyFile: string; generated: boolean } | null {
  if (answers.tls.mode === 'none') return null;
  fs.mkdirSync(layout.tlsDir, { recursive: true, mode: 0o700 });
  if (answers.tls.mode === 'provided') {
    fs.copyFileSync(answers.tls.certFile, layout.certFile);
    fs.copyFileSync(answers.tls.keyFile, layout.keyFile);
    fs.chmodSync(layout.certFile, 0o644);
    fs.chmodSync(layout.keyFile, 0o600);
    return { certFile: layout.certFile, keyFile: layout.keyFile, generated: false };
  }
  if (!fs.existsSync(layout.caCertFile)) {
    const ca = generateLocalCa(`Switchyard local CA (${answers.hostnames[0]})`);
    fs.writeFileSync(layout.caKeyFile, ca.keyPem, { mode: 0o600 });
    fs.writeFileSync(layout.caCertFile, ca.certPem, { mode: 0o644 });
  }
  const ca = { certPem: fs.readFileSync(layout.caCertFile, 'utf8'), keyPem: fs.readFileSync(layout.caKeyFile, 'utf8') };
  const server = issueServerCertificate(ca, answers.hostnames);
  fs.writeFileSync(layout.keyFile, server.keyPem, { mode: 0o600 });
  fs.writeFileSync(layout.certFile, server.certPem, { mode: 0o644 });
  return { certFile: layout.certFile, keyFile: layout.keyFile, generated: true };
}

/** The config file: environment variables, as systemd's EnvironmentFile and `switchyard start --config` read them. */
function writeConfigFile(file: string, env: Record<string, string>, failed: CheckResult[]): void {
  const lines = [
    '# Switchyard configuration, written by switchyard install. Every option is in the README.',
    `# Installed ${new Date().toISOString()}${failed.length > 0 ? ` with --ignore-preflight (failed: ${failed.map((c) => c.name).join(', ')})` : ''}.`,
    ...Object.entries(env).map(([k, v]) => `${k}=${quoteEnv(v)}`),
    '',
  ];
  // Group-readable for the service user; it may hold the database password.
  const temp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(temp, lines.join('\n'), { mode: 0o640 });
  fs.renameSync(temp, file);
}

function quoteEnv(value: string): string {
  return /^[A-Za-z0-9_./:@%+,=-]*$/.test(value) ? value : `"${value.replace(/(["\\$`])/g, '\\$1')}"`;
}
