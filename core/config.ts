import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Which parts of the appliance this process runs. */
export type ProcessRole = 'all' | 'api' | 'worker';

/**
 * The appliance's whole configuration: read once at start from the environment,
 * validated, frozen and passed down. No other module reads `process.env`.
 * Every option is documented in the README's configuration table.
 */
export interface Config {
  /** Interface to listen on. `HOST`, default `127.0.0.1`. */
  readonly host: string;
  /** TCP port. `PORT`, default `8080`. */
  readonly port: number;
  /** External PostgreSQL (14+). `DATABASE_URL`; unset means the embedded server. */
  readonly databaseUrl: string | undefined;
  /**
   * The runtime role's connection: a role that owns no table and has no BYPASSRLS, so
   * row-level security confines it. `SWITCHYARD_RUNTIME_DATABASE_URL`; unset means the
   * role `dbRuntimeRole` on DATABASE_URL's server, created by the owner with a password
   * derived from the owner's credentials.
   */
  readonly runtimeDatabaseUrl: string | undefined;
  /** Name of the derived runtime role. `SWITCHYARD_DB_RUNTIME_ROLE`, default `switchyard_runtime`. */
  readonly dbRuntimeRole: string;
  /** Data directory (embedded PostgreSQL lives in `<dataDir>/postgres`). `SWITCHYARD_DATA_DIR`, default `./data`. */
  readonly dataDir: string;
  /** Port of the embedded PostgreSQL. `SWITCHYARD_EMBEDDED_PG_PORT`, default `54329`. */
  readonly embeddedPgPort: number;
  /** System-admin token to install when the database is first initialised. `SWITCHYARD_ADMIN_TOKEN`. */
  readonly adminToken: string | undefined;
  /** `api`, `worker` or `all`. `SWITCHYARD_ROLE`, default `all`. */
  readonly role: ProcessRole;
  /** pino level. `SWITCHYARD_LOG_LEVEL`, default `info`. */
  readonly logLevel: string;
  /** How often engine processes look for due schedules. `SWITCHYARD_SCHEDULE_TICK_MS`, default 1000. */
  readonly scheduleTickMs: number;
  /** Largest accepted HTTP request body. `SWITCHYARD_MAX_BODY_BYTES`, default 1 MiB. */
  readonly maxBodyBytes: number;
  /**
   * The address senders and users reach the appliance at (behind a proxy or a DNS name),
   * used in the webhook URLs the API shows. `SWITCHYARD_PUBLIC_URL`; unset: the address it listens on.
   */
  readonly publicUrl: string | null;
  /** Largest accepted workflow definition (JSON bytes). `SWITCHYARD_MAX_DEFINITION_BYTES`, default 256 KiB. */
  readonly maxDefinitionBytes: number;
  /** Most steps in one workflow definition. `SWITCHYARD_MAX_STEPS`, default 200. */
  readonly maxSteps: number;
  /** Largest run input (JSON bytes). `SWITCHYARD_MAX_INPUT_BYTES`, default 256 KiB. */
  readonly maxInputBytes: number;
  /** Run timeout when the definition sets none. `SWITCHYARD_DEFAULT_RUN_TIMEOUT_MS`, default 7 days. */
  readonly defaultRunTimeoutMs: number;
  /** Concurrent step jobs per worker process. `SWITCHYARD_WORKER_CONCURRENCY`, default 32. */
  readonly workerConcurrency: number;
  /** Jobs fetched per batch by a worker process; 0 turns batching off. `SWITCHYARD_WORKER_BATCH_SIZE`, default 64. */
  readonly workerBatchSize: number;
  /**
   * Step jobs a tenant may queue per window before its jobs yield to quieter tenants'
   * (fair share). `SWITCHYARD_FAIR_SHARE_BURST`, default 64.
   */
  readonly fairShareBurst: number;
  /**
   * Most step jobs of one tenant a worker process runs at once, so one tenant's flood
   * leaves workers (and machine) for the others. `SWITCHYARD_TENANT_MAX_RUNNING_STEPS`,
   * default: three quarters of the worker concurrency.
   */
  readonly tenantMaxRunningSteps: number;
  /**
   * Most ready step jobs of one tenant in the shared job queue at once, across every worker
   * process; the tenant's further steps wait in order in its own backlog and enter the
   * queue as earlier ones finish, so no tenant's flood makes the queue deep for the others.
   * `SWITCHYARD_TENANT_MAX_READY_STEPS`, default 16 times the worker concurrency (a
   * limit near the concurrency made a flood's steps trickle into the queue a few per
   * commit, and drain 2.7 times slower); 0 turns the backlog off.
   */
  readonly tenantMaxReadySteps: number;
  /**
   * Load shedding: steps waiting for a worker (in the queue or in backlogs) above which startRun answers
   * OVERLOADED (HTTP 503, Retry-After). `SWITCHYARD_ADMISSION_MAX_QUEUE_DEPTH`, default
   * 100000; 0 turns it off.
   */
  readonly admissionMaxQueueDepth: number;
  /** Database round trip above which startRun answers OVERLOADED. `SWITCHYARD_ADMISSION_MAX_DB_LATENCY_MS`, default 2000; 0 off. */
  readonly admissionMaxDbLatencyMs: number;
  /** How often queue depth and database latency are sampled. `SWITCHYARD_ADMISSION_SAMPLE_MS`, default 500. */
  readonly admissionSampleIntervalMs: number;
  /** The fair share's counting window. `SWITCHYARD_FAIR_SHARE_WINDOW_MS`, default 10000. */
  readonly fairShareWindowMs: number;
  /** Fallback poll interval for scheduled jobs. `SWITCHYARD_POLL_INTERVAL_MS`, default 1000. */
  readonly pollIntervalMs: number;
  /** PostgreSQL connections per process. `SWITCHYARD_DB_POOL_SIZE`, default 20. */
  readonly dbPoolSize: number;
  /** How long SIGTERM waits for running steps before releasing them. `SWITCHYARD_SHUTDOWN_GRACE_MS`, default 10000. */
  readonly shutdownGraceMs: number;
  /** Milliseconds between sweeps that release a dead worker's claimed steps are released. `SWITCHYARD_DEAD_WORKER_SWEEP_MS`, default 5000. */
  readonly deadWorkerSweepMs: number;
  /**
   * PEM file of the publisher CAs whose signed plugin packages may be installed.
   * `SWITCHYARD_PLUGIN_TRUST_STORE`, default `<dataDir>/plugin-trust-store.pem` (absent: no
   * third-party publisher is trusted).
   */
  readonly pluginTrustStore: string;
  /**
   * Development switch: install plugin packages without a signature (each install is
   * audited). `SWITCHYARD_ALLOW_UNSIGNED_PLUGINS`, default `false`.
   */
  readonly allowUnsignedPlugins: boolean;
  /**
   * The master key file (base64 keys, one per line, current first; mode 0600) that wraps
   * the tenants' credential data keys. Created on first start when missing.
   * `SWITCHYARD_MASTER_KEY_FILE`, default `<dataDir>/master.key`.
   */
  readonly masterKeyFile: string;
  /**
   * The audit signing key and its certificate (PEM, mode 0600), which sign audit
   * checkpoints and export manifests. Created on first start when missing.
   * `SWITCHYARD_AUDIT_SIGNING_KEY_FILE`, default `<dataDir>/audit-signing.pem`.
   */
  readonly auditSigningKeyFile: string;
  /** Sign a tenant's audit chain once it has this many unsigned events. `SWITCHYARD_AUDIT_CHECKPOINT_EVENTS`, default 1000. */
  readonly auditCheckpointEvents: number;
  /** Sign a chain with unsigned events when its last checkpoint is this old. `SWITCHYARD_AUDIT_CHECKPOINT_SECONDS`, default 300. */
  readonly auditCheckpointSeconds: number;
  /** How often engine processes run the audit retention job. `SWITCHYARD_AUDIT_RETENTION_SWEEP_SECONDS`, default 3600. */
  readonly auditRetentionSweepSeconds: number;
  /** Worker threads in the sandbox process. `SWITCHYARD_SANDBOX_POOL_SIZE`, default: CPU cores. */
  readonly sandboxPoolSize: number;
  /** Most isolate heap a plugin may ask for. `SWITCHYARD_SANDBOX_MAX_MEMORY_MB`, default 128. */
  readonly sandboxMaxMemoryMb: number;
  /** Longest a plugin attempt may run. `SWITCHYARD_SANDBOX_MAX_TIMEOUT_MS`, default 300000. */
  readonly sandboxMaxTimeoutMs: number;
  /** Most CPU time a plugin attempt may use. `SWITCHYARD_SANDBOX_MAX_CPU_MS`, default 60000. */
  readonly sandboxMaxCpuMs: number;
  /** Most outbound requests of one plugin attempt. `SWITCHYARD_EGRESS_MAX_REQUESTS`, default 100. */
  readonly egressMaxRequests: number;
  /** Largest response body a plugin may receive. `SWITCHYARD_EGRESS_MAX_RESPONSE_BYTES`, default 10 MiB. */
  readonly egressMaxResponseBytes: number;
  /** Per-request timeout of plugin requests. `SWITCHYARD_EGRESS_REQUEST_TIMEOUT_MS`, default 30000. */
  readonly egressRequestTimeoutMs: number;
  /** PEM file of extra CAs for plugin requests (TLS-inspecting proxies). `SWITCHYARD_EXTRA_CA_FILE`. */
  readonly extraCaFile: string | undefined;
  /** Proxy for plugin requests: `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` (or their lower-case forms). */
  readonly proxy: { httpsProxy?: string; httpProxy?: string; noProxy?: string };
  /**
   * `production` keeps "Did you mean" suggestions out of errors (they would show the schema
   * to a client before it authenticates); `development` keeps them. `SWITCHYARD_ENV`, default `production`.
   */
  readonly environment: 'production' | 'development';
  /**
   * Whether introspection is answered: `on` for any authenticated token (never without one),
   * `off` for nobody. `SWITCHYARD_GRAPHQL_INTROSPECTION`, default `on`.
   */
  readonly graphqlIntrospection: 'on' | 'off';
  /** Deepest field nesting of a GraphQL operation. `SWITCHYARD_GRAPHQL_MAX_DEPTH`, default 12. */
  readonly graphqlMaxDepth: number;
  /**
   * Largest estimated cost of a GraphQL operation (graphql-armor: scalar 1, object 2, each
   * nesting level x1.5, a `first`/`last: N` literal multiplies its field by N).
   * `SWITCHYARD_GRAPHQL_MAX_COST`, default 20000.
   */
  readonly graphqlMaxCost: number;
  /** Most aliases in a GraphQL operation. `SWITCHYARD_GRAPHQL_MAX_ALIASES`, default 30. */
  readonly graphqlMaxAliases: number;
  /** Most directives in a GraphQL operation. `SWITCHYARD_GRAPHQL_MAX_DIRECTIVES`, default 50. */
  readonly graphqlMaxDirectives: number;
  /** Most lexical tokens in a GraphQL document; parsing stops past it. `SWITCHYARD_GRAPHQL_MAX_TOKENS`, default 5000. */
  readonly graphqlMaxTokens: number;
  /** Most operations in one batched request (a JSON array). `SWITCHYARD_GRAPHQL_MAX_BATCH`, default 10. */
  readonly graphqlMaxBatch: number;
  /**
   * JSON file mapping SHA-256 hex to GraphQL document; when set, only those operations are
   * accepted (`extensions.persistedQuery.sha256Hash`). `SWITCHYARD_PERSISTED_OPERATIONS_FILE`, default unset.
   */
  readonly persistedOperationsFile: string | undefined;
  /** Sustained GraphQL operations per second per API token. `SWITCHYARD_API_RATE_LIMIT_PER_SECOND`, default 50. */
  readonly apiRateLimitPerSecond: number;
  /** Operations an API token may send at once before the per-second rate applies. `SWITCHYARD_API_RATE_LIMIT_BURST`, default 100. */
  readonly apiRateLimitBurst: number;
  /**
   * HTTPS: the server certificate (PEM, with any intermediates after it) and its private
   * key. `SWITCHYARD_TLS_CERT_FILE` and `SWITCHYARD_TLS_KEY_FILE`, both or neither; unset
   * means plain HTTP (behind a TLS-terminating proxy, or on loopback).
   */
  readonly tls: { certFile: string; keyFile: string } | null;
  /**
   * A `worker`-role process serves /health, /ready and /metrics (no API) on HOST and this
   * port, so each worker can be probed and scraped. `SWITCHYARD_WORKER_HTTP_PORT`, default
   * 9464; 0 turns it off. Other roles serve them on PORT with the API.
   */
  readonly workerHttpPort: number;
  /**
   * OpenTelemetry: send spans (a root span per run, a child per step attempt) over OTLP/HTTP
   * to this collector, e.g. `http://otel-collector:4318`. `SWITCHYARD_OTLP_ENDPOINT`, or the
   * standard `OTEL_EXPORTER_OTLP_ENDPOINT`; unset means no tracing.
   */
  readonly otlpEndpoint: string | null;
}

type Env = Record<string, string | undefined>;

class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got ${JSON.stringify(raw)}`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function proxySettings(env: Env): Config['proxy'] {
  const pick = (name: string) => env[name] || env[name.toLowerCase()] || undefined;
  const settings: { httpsProxy?: string; httpProxy?: string; noProxy?: string } = {};
  for (const [key, name] of [
    ['httpsProxy', 'HTTPS_PROXY'],
    ['httpProxy', 'HTTP_PROXY'],
  ] as const) {
    const value = pick(name);
    if (value === undefined) continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ConfigError(`${name} must be a URL such as http://proxy.example:3128`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name} must be an http:// or https:// URL`);
    settings[key] = value;
  }
  const noProxy = pick('NO_PROXY');
  if (noProxy !== undefined) settings.noProxy = noProxy;
  return Object.freeze(settings);
}

function otlpEndpoint(env: Env): string | null {
  const name = env['SWITCHYARD_OTLP_ENDPOINT'] ? 'SWITCHYARD_OTLP_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const raw = env[name];
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL such as http://otel-collector:4318, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name} must be an http:// or https:// URL`);
  return raw;
}

function publicUrl(env: Env): string | null {
  const value = env['SWITCHYARD_PUBLIC_URL'];
  if (!value) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`SWITCHYARD_PUBLIC_URL must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username || url.password) {
    throw new ConfigError('SWITCHYARD_PUBLIC_URL must be an http(s) URL without credentials, query or fragment');
  }
  return url.toString().replace(/\/+$/, '');
}

function tlsFiles(env: Env): Config['tls'] {
  const certFile = env['SWITCHYARD_TLS_CERT_FILE'] || undefined;
  const keyFile = env['SWITCHYARD_TLS_KEY_FILE'] || undefined;
  if (!certFile && !keyFile) return null;
  if (!certFile || !keyFile)
    throw new ConfigError(
      `SWITCHYARD_TLS_CERT_FILE and SWITCHYARD_TLS_KEY_FILE go together; only ${certFile ? 'the certificate' : 'the key'} is set`,
    );
  for (const [name, file] of [
    ['SWITCHYARD_TLS_CERT_FILE', certFile],
    ['SWITCHYARD_TLS_KEY_FILE', keyFile],
  ] as const) {
    if (!fs.existsSync(file)) throw new ConfigError(`${name}: ${file} does not exist`);
  }
  return Object.freeze({ certFile: path.resolve(certFile), keyFile: path.resolve(keyFile) });
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

function databaseUrl(env: Env, name = 'DATABASE_URL'): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL (expected postgres://user@host:port/database)`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`${name} must use postgres:// or postgresql://, got ${url.protocol}`);
  }
  return raw;
}

function roleName(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(raw))
    throw new ConfigError(
      `${name} must be a PostgreSQL role name (lower-case letters, digits and _, at most 63), got ${JSON.stringify(raw)}`,
    );
  return raw;
}

/** Reads and validates the configuration; throws a ConfigError naming the bad option. */
export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const adminToken = env['SWITCHYARD_ADMIN_TOKEN'] || undefined;
  if (adminToken !== undefined && adminToken.length < 24) {
    throw new ConfigError('SWITCHYARD_ADMIN_TOKEN must be at least 24 characters long');
  }
  const dataDir = path.resolve(env['SWITCHYARD_DATA_DIR'] || './data');
  const workerConcurrency = int(env, 'SWITCHYARD_WORKER_CONCURRENCY', 32, 1, 256);
  const config: Config = {
    host: env['HOST'] || '127.0.0.1',
    port: int(env, 'PORT', 8080, 0, 65535),
    databaseUrl: databaseUrl(env),
    runtimeDatabaseUrl: databaseUrl(env, 'SWITCHYARD_RUNTIME_DATABASE_URL'),
    dbRuntimeRole: roleName(env, 'SWITCHYARD_DB_RUNTIME_ROLE', 'switchyard_runtime'),
    dataDir,
    embeddedPgPort: int(env, 'SWITCHYARD_EMBEDDED_PG_PORT', 54329, 1, 65535),
    adminToken,
    role: oneOf(env, 'SWITCHYARD_ROLE', 'all', ['all', 'api', 'worker'] as const),
    logLevel: oneOf(env, 'SWITCHYARD_LOG_LEVEL', 'info', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const),
    maxBodyBytes: int(env, 'SWITCHYARD_MAX_BODY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    publicUrl: publicUrl(env),
    scheduleTickMs: int(env, 'SWITCHYARD_SCHEDULE_TICK_MS', 1000, 50, 60_000),
    maxDefinitionBytes: int(env, 'SWITCHYARD_MAX_DEFINITION_BYTES', 256 * 1024, 1024, 16 * 1024 * 1024),
    maxSteps: int(env, 'SWITCHYARD_MAX_STEPS', 200, 1, 10_000),
    maxInputBytes: int(env, 'SWITCHYARD_MAX_INPUT_BYTES', 256 * 1024, 16, 64 * 1024 * 1024),
    defaultRunTimeoutMs: int(env, 'SWITCHYARD_DEFAULT_RUN_TIMEOUT_MS', 7 * 24 * 3600 * 1000, 1000, 365 * 24 * 3600 * 1000),
    workerConcurrency,
    workerBatchSize: int(env, 'SWITCHYARD_WORKER_BATCH_SIZE', 64, 0, 10_000),
    tenantMaxRunningSteps: int(
      env,
      'SWITCHYARD_TENANT_MAX_RUNNING_STEPS',
      Math.max(1, Math.ceil(workerConcurrency * 0.75)),
      1,
      workerConcurrency,
    ),
    tenantMaxReadySteps: int(env, 'SWITCHYARD_TENANT_MAX_READY_STEPS', workerConcurrency * 16, 0, 1_000_000),
    admissionMaxQueueDepth: int(env, 'SWITCHYARD_ADMISSION_MAX_QUEUE_DEPTH', 100_000, 0, 100_000_000),
    admissionMaxDbLatencyMs: int(env, 'SWITCHYARD_ADMISSION_MAX_DB_LATENCY_MS', 2000, 0, 600_000),
    admissionSampleIntervalMs: int(env, 'SWITCHYARD_ADMISSION_SAMPLE_MS', 500, 10, 60_000),
    fairShareBurst: int(env, 'SWITCHYARD_FAIR_SHARE_BURST', 64, 1, 1_000_000),
    fairShareWindowMs: int(env, 'SWITCHYARD_FAIR_SHARE_WINDOW_MS', 10_000, 100, 3_600_000),
    pollIntervalMs: int(env, 'SWITCHYARD_POLL_INTERVAL_MS', 1000, 50, 60_000),
    dbPoolSize: int(env, 'SWITCHYARD_DB_POOL_SIZE', 20, 4, 500),
    shutdownGraceMs: int(env, 'SWITCHYARD_SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    deadWorkerSweepMs: int(env, 'SWITCHYARD_DEAD_WORKER_SWEEP_MS', 5000, 100, 600_000),
    pluginTrustStore: path.resolve(env['SWITCHYARD_PLUGIN_TRUST_STORE'] || path.join(dataDir, 'plugin-trust-store.pem')),
    allowUnsignedPlugins: bool(env, 'SWITCHYARD_ALLOW_UNSIGNED_PLUGINS', false),
    masterKeyFile: path.resolve(env['SWITCHYARD_MASTER_KEY_FILE'] || path.join(dataDir, 'master.key')),
    auditSigningKeyFile: path.resolve(env['SWITCHYARD_AUDIT_SIGNING_KEY_FILE'] || path.join(dataDir, 'audit-signing.pem')),
    auditCheckpointEvents: int(env, 'SWITCHYARD_AUDIT_CHECKPOINT_EVENTS', 1000, 1, 100_000_000),
    auditCheckpointSeconds: int(env, 'SWITCHYARD_AUDIT_CHECKPOINT_SECONDS', 300, 1, 31 * 86_400),
    auditRetentionSweepSeconds: int(env, 'SWITCHYARD_AUDIT_RETENTION_SWEEP_SECONDS', 3600, 1, 31 * 86_400),
    sandboxPoolSize: int(env, 'SWITCHYARD_SANDBOX_POOL_SIZE', os.availableParallelism(), 1, 256),
    sandboxMaxMemoryMb: int(env, 'SWITCHYARD_SANDBOX_MAX_MEMORY_MB', 128, 8, 4096),
    sandboxMaxTimeoutMs: int(env, 'SWITCHYARD_SANDBOX_MAX_TIMEOUT_MS', 300_000, 100, 3_600_000),
    sandboxMaxCpuMs: int(env, 'SWITCHYARD_SANDBOX_MAX_CPU_MS', 60_000, 10, 3_600_000),
    egressMaxRequests: int(env, 'SWITCHYARD_EGRESS_MAX_REQUESTS', 100, 1, 100_000),
    egressMaxResponseBytes: int(env, 'SWITCHYARD_EGRESS_MAX_RESPONSE_BYTES', 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    egressRequestTimeoutMs: int(env, 'SWITCHYARD_EGRESS_REQUEST_TIMEOUT_MS', 30_000, 100, 600_000),
    extraCaFile: env['SWITCHYARD_EXTRA_CA_FILE'] ? path.resolve(env['SWITCHYARD_EXTRA_CA_FILE']) : undefined,
    proxy: proxySettings(env),
    environment: oneOf(env, 'SWITCHYARD_ENV', 'production', ['production', 'development'] as const),
    graphqlIntrospection: oneOf(env, 'SWITCHYARD_GRAPHQL_INTROSPECTION', 'on', ['on', 'off'] as const),
    graphqlMaxDepth: int(env, 'SWITCHYARD_GRAPHQL_MAX_DEPTH', 12, 1, 1000),
    graphqlMaxCost: int(env, 'SWITCHYARD_GRAPHQL_MAX_COST', 20_000, 1, 100_000_000),
    graphqlMaxAliases: int(env, 'SWITCHYARD_GRAPHQL_MAX_ALIASES', 30, 0, 100_000),
    graphqlMaxDirectives: int(env, 'SWITCHYARD_GRAPHQL_MAX_DIRECTIVES', 50, 0, 100_000),
    graphqlMaxTokens: int(env, 'SWITCHYARD_GRAPHQL_MAX_TOKENS', 5000, 10, 1_000_000),
    graphqlMaxBatch: int(env, 'SWITCHYARD_GRAPHQL_MAX_BATCH', 10, 1, 1000),
    persistedOperationsFile: env['SWITCHYARD_PERSISTED_OPERATIONS_FILE']
      ? path.resolve(env['SWITCHYARD_PERSISTED_OPERATIONS_FILE'])
      : undefined,
    apiRateLimitPerSecond: int(env, 'SWITCHYARD_API_RATE_LIMIT_PER_SECOND', 50, 1, 1_000_000),
    apiRateLimitBurst: int(env, 'SWITCHYARD_API_RATE_LIMIT_BURST', 100, 1, 1_000_000),
    tls: tlsFiles(env),
    workerHttpPort: int(env, 'SWITCHYARD_WORKER_HTTP_PORT', 9464, 0, 65535),
    otlpEndpoint: otlpEndpoint(env),
    ...overrides,
  };
  return Object.freeze(config);
}

export { ConfigError };

/** A URL without its user information (credentials never reach the audit log). */
function withoutCredentials(url: string | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(unparsable)';
  }
}

/**
 * The configuration as the audit log records it: every option, secrets left out (the
 * admin token) and credentials stripped from URLs.
 */
export function auditableConfig(config: Config): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(config)) {
    if (key === 'adminToken') out[key] = value === undefined ? null : '(set)';
    else if (key === 'databaseUrl' || key === 'runtimeDatabaseUrl' || key === 'otlpEndpoint')
      out[key] = withoutCredentials(value as string | undefined);
    else if (key === 'proxy') {
      const proxy = value as Config['proxy'];
      out['httpsProxy'] = withoutCredentials(proxy.httpsProxy);
      out['httpProxy'] = withoutCredentials(proxy.httpProxy);
      out['noProxy'] = proxy.noProxy ?? null;
    } else if (key === 'tls') {
      // Where the certificate and key are, never what they hold.
      const tls = value as Config['tls'];
      out['tlsCertFile'] = tls?.certFile ?? null;
      out['tlsKeyFile'] = tls?.keyFile ?? null;
    } else out[key] = value === undefined ? null : (value as string | number | boolean);
  }
  return out;
}
