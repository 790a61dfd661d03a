import pg from 'pg';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded.js';
import { migrate, type MigrationReport } from './migrate.js';
import {
  assertConfinedRole,
  configuredRuntimeRole,
  derivedRuntimeRole,
  ensureRuntimeRole,
  resetRuntimePassword,
  runtimeUrlFor,
  type RuntimeRole,
} from './roles.js';

export interface PreparedDatabase {
  /** The owner's connection: migrations and role management only. */
  readonly ownerUrl: string;
  /** What the server runs on: the confined runtime role. */
  readonly runtimeUrl: string;
  readonly runtimeRole: RuntimeRole;
  readonly embedded: EmbeddedDatabase | null;
  readonly migrations: MigrationReport | null;
  stopEmbedded(): Promise<void>;
}

/**
 * Gets the database ready for this process: starts the embedded server when no
 * DATABASE_URL is configured, applies migrations as the owner (unless told not to),
 * makes sure the runtime role exists and can log in, and checks that it really is
 * confined by row-level security before anything serves a tenant through it.
 */
export async function prepareDatabase(config: Config, logger: Logger, options: { migrate?: boolean } = {}): Promise<PreparedDatabase> {
  const embedded = config.databaseUrl ? null : await startEmbeddedPostgres(config.dataDir, config.embeddedPgPort, logger);
  try {
    const ownerUrl = config.databaseUrl ?? embedded!.url;
    const runtimeRole = config.runtimeDatabaseUrl
      ? configuredRuntimeRole(config.runtimeDatabaseUrl)
      : derivedRuntimeRole(ownerUrl, config.dbRuntimeRole);
    const runtimeUrl = config.runtimeDatabaseUrl ?? runtimeUrlFor(ownerUrl, runtimeRole);
    const owner = new pg.Pool({ connectionString: ownerUrl, max: 3, application_name: 'switchyard-owner' });
    owner.on('error', () => undefined);
    owner.on('connect', (client) => client.on('error', () => undefined));
    let migrations: MigrationReport | null = null;
    try {
      if (options.migrate !== false) migrations = await migrate(owner, runtimeRole);
      await checkRuntimeLogin(owner, runtimeUrl, runtimeRole, logger);
    } finally {
      await owner.end();
    }
    return {
      ownerUrl,
      runtimeUrl,
      runtimeRole,
      embedded,
      migrations,
      stopEmbedded: async () => embedded?.stop(),
    };
  } catch (error) {
    await embedded?.stop().catch(() => undefined);
    throw error;
  }
}

const INVALID_PASSWORD = '28P01';

async function checkRuntimeLogin(owner: pg.Pool, runtimeUrl: string, role: RuntimeRole, logger: Logger): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const client = new pg.Client({ connectionString: runtimeUrl, application_name: 'switchyard-check' });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await assertConfinedRole(client);
      return;
    } catch (error) {
      // The role exists with another password (made by another owner or an older key): take it over.
      if (attempt === 0 && (error as { code?: string }).code === INVALID_PASSWORD) {
        logger.warn({ role: role.name }, 'the runtime database role rejected its password; resetting it as the owner');
        const c = await owner.connect();
        try {
          await ensureRuntimeRole(c, role);
          await resetRuntimePassword(c, role);
        } finally {
          c.release();
        }
        continue;
      }
      throw new Error(`cannot use the runtime database role ${role.name}: ${(error as Error).message}`, { cause: error });
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
