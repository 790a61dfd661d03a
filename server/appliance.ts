import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Hapi from '@hapi/hapi';
import { auditableConfig, type Config } from '../core/config.js';
import { createLogger, registerSecret, type Logger } from '../core/logger.js';
import { Database } from '../core/db/database.js';
import { prepareDatabase } from '../core/db/provision.js';
import { pendingMigrations } from '../core/db/migrate.js';
import { TokenService } from '../core/auth/tokens.js';
import { TenantService } from '../core/tenants/tenants.js';
import { WorkflowService } from '../core/workflows/workflows.js';
import { RunService } from '../core/runs/runs.js';
import { Notifier } from '../core/engine/notifier.js';
import { Engine } from '../core/engine/engine.js';
import { ENGINE_ACTIONS } from '../core/engine/coreActions.js';
import { FairShare } from '../core/engine/fairShare.js';
import { AdmissionControl } from '../core/engine/admission.js';
import type { StepExecutor } from '../core/engine/executor.js';
import { SandboxSupervisor } from '../sandbox/runtime/index.js';
import { SandboxExecutor } from '../sandbox/executor.js';
import { RunEventStream } from '../core/graphql/runEventStream.js';
import type { Services } from '../core/graphql/context.js';
import { PluginService } from '../core/plugins/plugins.js';
import { CredentialService } from '../core/credentials/credentials.js';
import { AuditSigningKey } from '../core/audit/signingKey.js';
import { recordConfigurationChanges } from '../core/audit/configAudit.js';
import { SignInAuditor } from '../core/auth/signInAudit.js';
import { AuditCheckpointer } from '../core/audit/checkpoints.js';
import { AuditMaintenance } from '../core/audit/maintenance.js';
import { AuditExportService } from '../core/audit/export.js';
import { IntegrationGuardGate } from '../core/integrationGuards/gate.js';
import { IntegrationGuardService } from '../core/integrationGuards/integrationGuards.js';
import { MasterKeyRing } from '../core/credentials/masterKeys.js';
import { LlmChatHooks } from '../core/llm/llmChatHooks.js';
import { loadFirstPartyPlugins } from '../plugins/firstParty/index.js';
import { createPackageVerifier, readTrustStore } from '../plugins/packageVerifier.js';
import { applianceVersion } from './version.js';
import { createGraphQL, graphqlOptions } from './graphql.js';
import { createHttpServer } from './http.js';
import { ApplianceMetrics } from './metrics.js';
import { startTracing, type Tracing } from './tracing.js';
import { ensureSystemAdminToken } from './bootstrap.js';
import { WebhookTriggerService } from '../core/triggers/webhooks.js';
import { ScheduleService } from '../core/triggers/schedules.js';
import { ScheduleTicker } from '../core/triggers/scheduleTicker.js';

export interface Appliance {
  readonly config: Config;
  readonly logger: Logger;
  readonly services: Services;
  readonly engine: Engine | null;
  /** The supervised sandbox process, in processes that run the engine with the real executor. */
  readonly sandbox: SandboxSupervisor | null;
  readonly http: Hapi.Server | null;
  /** Base URL of the HTTP server, when this process serves the API. */
  readonly url: string | null;
  /** The system-admin token generated at first initialisation, if this start generated it. */
  readonly generatedAdminToken: string | null;
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  executor?: StepExecutor;
  /** Apply migrations before starting (default true). */
  migrate?: boolean;
}

/**
 * The composition root: database (embedded or external), migrations, services, the
 * engine for `worker`/`all` roles and the HTTP API for `api`/`all` roles.
 */
export async function startAppliance(config: Config, options: StartOptions = {}): Promise<Appliance> {
  const logger = options.logger ?? createLogger(config.logLevel);
  if (config.adminToken) registerSecret(config.adminToken);
  const prepared = await prepareDatabase(config, logger, { migrate: options.migrate !== false });
  registerSecret(prepared.runtimeRole.password);
  if (prepared.migrations?.applied.length) logger.info({ applied: prepared.migrations.applied }, 'database migrations applied');
  const embedded = prepared.embedded;
  const connectionString = prepared.runtimeUrl;
  const db = new Database(connectionString, config.dbPoolSize);
  const notifier = new Notifier(connectionString, logger);
  let engine: Engine | null = null;
  let sandbox: { supervisor: SandboxSupervisor; executor: SandboxExecutor } | null = null;
  let http: Hapi.Server | null = null;
  let tracing: Tracing | null = null;
  let admission: AdmissionControl | null = null;
  let auditMaintenance: AuditMaintenance | null = null;
  let signIns: SignInAuditor | null = null;
  let scheduleTicker: ScheduleTicker | null = null;
  const stopSteps: (() => Promise<unknown>)[] = [];
  try {
    const admin = await ensureSystemAdminToken(db, config.adminToken);
    const settings = await recordConfigurationChanges(db, auditableConfig(config), { host: os.hostname(), pid: process.pid });
    // A first start has no "before": every option would be listed as changed, which says nothing.
    if (settings.initial) logger.info('recorded the initial configuration (audited as config.changed)');
    else if (settings.changed.length > 0)
      logger.info({ changed: settings.changed }, 'configuration changed since the last start (audited as config.changed)');
    signIns = new SignInAuditor(db, logger);
    signIns.start();
    const tokens = new TokenService(db, signIns);
    const tenants = new TenantService(db);
    const plugins = new PluginService(
      db,
      createPackageVerifier({ trustStore: readTrustStore(config.pluginTrustStore), applianceVersion: applianceVersion() }),
      { allowUnsignedPlugins: config.allowUnsignedPlugins },
      ENGINE_ACTIONS,
      logger,
    );
    await plugins.installBundled(loadFirstPartyPlugins());
    const { ring: masterKeys, created: masterKeyCreated } = MasterKeyRing.open(config.masterKeyFile, { create: true });
    if (masterKeyCreated)
      logger.warn({ file: config.masterKeyFile }, 'generated the master key file; back it up: without it no credential can be decrypted');
    const credentials = new CredentialService(db, masterKeys);
    const { key: auditKey, created: auditKeyCreated } = AuditSigningKey.open(config.auditSigningKeyFile, { create: true });
    if (auditKeyCreated)
      logger.warn(
        { file: config.auditSigningKeyFile, fingerprint: auditKey.fingerprint },
        'generated the audit signing key; back it up and publish its certificate to your auditors',
      );
    const checkpointer = new AuditCheckpointer(
      db,
      auditKey,
      { everyEvents: config.auditCheckpointEvents, everyMs: config.auditCheckpointSeconds * 1000 },
      logger,
    );
    await checkpointer.registerKey();
    // A half-open trial holds its breaker at most as long as its request can take, plus a margin.
    const guardGate = new IntegrationGuardGate(db, logger, { trialLeaseMs: config.egressRequestTimeoutMs + 5000 });
    const integrationGuards = new IntegrationGuardService(db, (tenantId) => guardGate.forget(tenantId));
    const workflows = new WorkflowService(db, { maxSteps: config.maxSteps, maxDefinitionBytes: config.maxDefinitionBytes }, plugins);
    const scheduler = new FairShare({
      burst: config.fairShareBurst,
      windowMs: config.fairShareWindowMs,
      maxReadySteps: config.tenantMaxReadySteps,
    });
    admission = new AdmissionControl(
      db,
      {
        maxQueueDepth: config.admissionMaxQueueDepth,
        maxDbLatencyMs: config.admissionMaxDbLatencyMs,
        sampleIntervalMs: config.admissionSampleIntervalMs,
      },
      logger,
    );
    if (config.role !== 'worker') admission.start();
    const metrics = new ApplianceMetrics(db);
    tracing = startTracing(config);
    const runs = new RunService(
      db,
      workflows,
      { maxInputBytes: config.maxInputBytes, defaultRunTimeoutMs: config.defaultRunTimeoutMs, scheduler, admission, telemetry: metrics },
      logger,
    );
    await notifier.start();
    let url: string | null = null;
    const webhooks = new WebhookTriggerService(db, workflows, runs, credentials, {
      publicUrl: () =>
        config.publicUrl ?? url ?? listeningUrl({ protocol: config.tls ? 'https' : 'http', host: config.host, port: config.port }),
      maxBodyCap: config.maxBodyBytes,
      rateLimit: { ratePerSecond: config.apiRateLimitPerSecond, burst: config.apiRateLimitBurst },
    });
    const services: Services = {
      db,
      tokens,
      tenants,
      workflows,
      runs,
      plugins,
      credentials,
      integrationGuards,
      runEvents: new RunEventStream(runs, notifier),
      auditExports: new AuditExportService(db, auditKey, path.join(config.dataDir, 'audit-exports')),
      webhooks,
      schedules: new ScheduleService(db, workflows, { maxInputBytes: config.maxInputBytes }),
    };

    if (config.role !== 'api') {
      let executor = options.executor;
      if (!executor) {
        sandbox = await startSandbox(config, db, plugins, credentials, guardGate, logger);
        executor = sandbox.executor;
      }
      engine = new Engine(db, workflows, executor, notifier, logger, {
        connectionString,
        scheduler,
        tenantMaxRunningSteps: config.tenantMaxRunningSteps,
        concurrency: config.workerConcurrency,
        batchSize: config.workerBatchSize,
        pollIntervalMs: config.pollIntervalMs,
        shutdownGraceMs: config.shutdownGraceMs,
        sweepIntervalMs: config.deadWorkerSweepMs,
        maxStepOutputBytes: config.maxInputBytes * 4,
        telemetry: metrics,
      });
      await engine.start(config.role);
      scheduleTicker = new ScheduleTicker(db, runs, logger, { tickMs: config.scheduleTickMs, batch: 100 });
      scheduleTicker.start();
      auditMaintenance = new AuditMaintenance(
        db,
        checkpointer,
        {
          checkpointPollMs: Math.min(5000, config.auditCheckpointSeconds * 1000),
          retentionIntervalMs: config.auditRetentionSweepSeconds * 1000,
        },
        logger,
        () => services.auditExports.removeExpired(),
      );
      auditMaintenance.start();
    }

    const isWorker = config.role === 'worker';
    if (!isWorker || config.workerHttpPort > 0) {
      let migrationsApplied = false;
      const theEngine = engine;
      // A worker serves probes and metrics only: the API is the api and all roles' job.
      const yoga = isWorker
        ? null
        : createGraphQL(services, logger, { ...graphqlOptions(config), onErrorCode: (code) => metrics.apiError(code) });
      http = await createHttpServer(
        yoga,
        {
          host: config.host,
          port: isWorker ? config.workerHttpPort : config.port,
          tls: config.tls ? { cert: fs.readFileSync(config.tls.certFile), key: fs.readFileSync(config.tls.keyFile) } : null,
          maxBodyBytes: config.maxBodyBytes,
          metrics: metrics.registry,
          receiveWebhook: (delivery) => webhooks.receive(delivery),
          onWebhookDelivery: (outcome) => metrics.webhookDelivery(outcome),
          auditExportFile: async (authorization, id, client) => {
            const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
            const { actor } = await tokens.signIn(match?.[1], client);
            return services.auditExports.bundleFile({ actor, ...client }, id);
          },
          isReady: async () => {
            const database = await db.query('system', 'select 1').then(
              () => true,
              () => false,
            );
            if (database && !migrationsApplied) migrationsApplied = (await pendingMigrations(db.pool)).length === 0;
            const checks = {
              database,
              migrations: migrationsApplied,
              jobRunner: config.role === 'api' ? true : Boolean(theEngine?.running),
            };
            return { ready: Object.values(checks).every(Boolean), checks };
          },
        },
        logger,
      );
      await http.start();
      url = listeningUrl(http.info);
      logger.info({ url, ...(yoga ? { graphql: `${url}/graphql` } : {}), role: config.role }, 'Switchyard is listening');
    }

    let stopping: Promise<void> | null = null;
    const theHttp = http;
    const theEngine = engine;
    const theSandbox = sandbox;
    stopSteps.push(
      async () => theHttp?.stop({ timeout: config.shutdownGraceMs }),
      async () => signIns?.stop(),
      async () => scheduleTicker?.stop(),
      async () => theEngine?.stop(),
      async () => auditMaintenance?.stop(),
      async () => theSandbox?.supervisor.stop(),
      async () => admission?.stop(),
      async () => notifier.stop(),
      // After the engine: the spans of its last steps and runs go out too.
      async () => tracing?.shutdown(),
      async () => db.close(),
      async () => embedded?.stop(),
    );
    return {
      config,
      logger,
      services,
      engine,
      sandbox: sandbox?.supervisor ?? null,
      http,
      url,
      generatedAdminToken: admin.generatedToken,
      stop: () => (stopping ??= runStops(stopSteps, logger)),
    };
  } catch (error) {
    await http?.stop().catch(() => undefined);
    await scheduleTicker?.stop().catch(() => undefined);
    await engine?.stop().catch(() => undefined);
    await auditMaintenance?.stop().catch(() => undefined);
    await signIns?.stop().catch(() => undefined);
    await sandbox?.supervisor.stop().catch(() => undefined);
    await admission?.stop().catch(() => undefined);
    await notifier.stop().catch(() => undefined);
    await tracing?.shutdown().catch(() => undefined);
    await db.close().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw error;
  }
}

/** The sandbox process and the executor that sends it every plugin step. */
async function startSandbox(
  config: Config,
  db: Database,
  plugins: PluginService,
  credentials: CredentialService,
  guards: IntegrationGuardGate,
  logger: Logger,
): Promise<{ supervisor: SandboxSupervisor; executor: SandboxExecutor }> {
  let executor: SandboxExecutor | null = null;
  const supervisor = await SandboxSupervisor.start({
    poolSize: config.sandboxPoolSize,
    onLog: (line) => executor?.pluginLog(line),
    onCrash: (info) =>
      logger.error({ ...info }, 'the sandbox process died; its steps fail as SANDBOX_CRASHED (retryable) and it is restarted'),
  });
  executor = new SandboxExecutor(supervisor, plugins, credentials, {
    hooks: { 'llm/chat@1': new LlmChatHooks(db) },
    ceilings: {
      maxMemoryMb: config.sandboxMaxMemoryMb,
      maxTimeoutMs: config.sandboxMaxTimeoutMs,
      maxCpuMs: config.sandboxMaxCpuMs,
      maxOutputBytes: config.maxInputBytes * 4,
      maxRequests: config.egressMaxRequests,
      maxResponseBytes: config.egressMaxResponseBytes,
      requestTimeoutMs: config.egressRequestTimeoutMs,
    },
    ...(config.extraCaFile ? { extraCaPem: fs.readFileSync(config.extraCaFile, 'utf8') } : {}),
    ...(Object.keys(config.proxy).length > 0 ? { proxy: config.proxy } : {}),
    guards,
  });
  return { supervisor, executor };
}

async function runStops(steps: (() => Promise<unknown>)[], logger: Logger): Promise<void> {
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      logger.error({ err: error }, 'error during shutdown');
    }
  }
}

/** Where this process can be reached: a wildcard address as its loopback, an IPv6 address in brackets (hapi's uri has neither). */
function listeningUrl(info: { protocol: string; host: string; port: number | string }): string {
  const host = info.host === '0.0.0.0' ? '127.0.0.1' : info.host === '::' ? '::1' : info.host;
  return `${info.protocol}://${host.includes(':') ? `[${host}]` : host}:${info.port}`;
}
