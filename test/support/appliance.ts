import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import type { StepExecutor } from '../../core/engine/executor.js';
import { startAppliance, type Appliance } from '../../server/appliance.js';
import { freshDatabase } from './database.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface GraphQLResponse<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; extensions: { code: string; [k: string]: unknown } }[];
}

export interface TestAppliance {
  appliance: Appliance;
  url: string;
  databaseUrl: string;
  /** Every log line the appliance wrote. */
  logs: string[];
  gql<T = any>(token: string, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  /** A tenant with a token of each given role. */
  tenant(name: string, roles?: string[]): Promise<{ id: string; tokens: Record<string, string> }>;
  stop(): Promise<void>;
}

/** A real appliance (HTTP, engine, PostgreSQL) on a fresh database and a free loopback port. */
export async function startTestAppliance(
  options: { config?: Partial<Config>; executor?: StepExecutor; databaseUrl?: string } = {},
): Promise<TestAppliance> {
  const databaseUrl = options.databaseUrl ?? (await freshDatabase());
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const config = loadConfig(
    { DATABASE_URL: databaseUrl, SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN },
    {
      port: 0,
      workerHttpPort: 0,
      logLevel: 'debug',
      pollIntervalMs: 100,
      deadWorkerSweepMs: 300,
      shutdownGraceMs: 2000,
      dbPoolSize: 10,
      ...options.config,
    },
  );
  const appliance = await startAppliance(config, {
    logger: createLogger('debug', sink),
    ...(options.executor ? { executor: options.executor } : {}),
  });
  const url = appliance.url!;
  const gql = async <T>(token: string, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, ...((await response.json()) as object) };
  };
  return {
    appliance,
    url,
    databaseUrl,
    logs,
    gql,
    async tenant(name, roles = ['ADMIN']) {
      const created = await gql<{ createTenant: { id: string } }>(
        ADMIN_TOKEN,
        'mutation($n: String!) { createTenant(input: { name: $n }) { id } }',
        { n: name },
      );
      if (!created.data) throw new Error(JSON.stringify(created.errors));
      const id = created.data.createTenant.id;
      const tokens: Record<string, string> = {};
      for (const role of roles) {
        const t = await gql<{ createApiToken: { token: string } }>(
          ADMIN_TOKEN,
          'mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token } }',
          { i: { tenantId: id, role, name: `${role} of ${name}` } },
        );
        if (!t.data) throw new Error(JSON.stringify(t.errors));
        tokens[role] = t.data.createApiToken.token;
      }
      return { id, tokens };
    },
    stop: () => appliance.stop(),
  };
}

/** Polls until `check` returns a value (not undefined/false) or the time runs out. */
export async function waitFor<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The failures' fields are what the engine stores: a run's error has no retryable of its own.
export const RUN_FIELDS = `id status input output error { code message } createdAt finishedAt
  workflowVersion { version workflow { id name } }
  steps { stepId status attempts output error { code message retryable } startedAt finishedAt }`;
