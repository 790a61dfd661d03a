import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { HttpLoadJob } from './httpLoadClient.js';
import { loadConfig, type Config } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { insertToken } from '../core/auth/tokens.js';
import type { RequestContext, Role } from '../core/auth/roles.js';
import { RUN_EVENTS_CHANNEL } from '../core/runs/store.js';
import { startAppliance, type Appliance } from '../server/appliance.js';

/** The worker options every scenario (the raw baseline included) runs with. */
export interface WorkerOptions {
  concurrency: number;
  batchSize: number;
  pollIntervalMs: number;
  poolSize: number;
}

export function benchConfig(databaseUrl: string, env: Record<string, string | undefined> = process.env): Config {
  // One token drives the whole HTTP load: the per-token rate limit would measure itself, not the appliance.
  return loadConfig(env, {
    databaseUrl,
    role: 'all',
    logLevel: 'silent',
    host: '127.0.0.1',
    port: 0,
    apiRateLimitPerSecond: 1_000_000,
    apiRateLimitBurst: 1_000_000,
  });
}

export function workerOptions(config: Config): WorkerOptions {
  return {
    concurrency: config.workerConcurrency,
    batchSize: config.workerBatchSize,
    pollIntervalMs: config.pollIntervalMs,
    poolSize: config.dbPoolSize,
  };
}

/** A linear workflow of `n` core/noop steps, each needing the one before. */
export function noopChain(n: number): { steps: { id: string; uses: string; needs?: string[] }[] } {
  return {
    steps: Array.from({ length: n }, (_, i) => ({ id: `s${i + 1}`, uses: 'core/noop@1', ...(i > 0 ? { needs: [`s${i}`] } : {}) })),
  };
}

export interface BenchAppliance {
  appliance: Appliance;
  url: string;
  tenantId: string;
  /** Request context of the tenant's ADMIN token, for calling services directly. */
  ctx: RequestContext;
  /** The same ADMIN token in clear, for HTTP. */
  token: string;
  workflowId: string;
  /** Runs of the tenant with status SUCCEEDED. */
  succeeded(): Promise<number>;
  stop(): Promise<void>;
}

function contextFor(tokenId: string, role: Role, tenantId: string | null, name: string): RequestContext {
  return { actor: { tokenId, tokenName: name, role, tenantId }, requestId: randomUUID() };
}

/** A linear workflow of `n` sandboxed core/code steps, each returning the run input (`return input;`). */
export function codeChain(n: number): { name: string; steps: { id: string; uses: string; with: { code: string }; needs?: string[] }[] } {
  return {
    name: `code-${n}`,
    steps: Array.from({ length: n }, (_, i) => ({
      id: `s${i + 1}`,
      uses: 'core/code@1',
      with: { code: 'return input;' },
      ...(i > 0 ? { needs: [`s${i}`] } : {}),
    })),
  };
}

/**
 * An appliance (engine + HTTP + sandbox) on `databaseUrl` with one tenant and one workflow:
 * `steps` noop steps unless another definition is given.
 */
export async function startBenchAppliance(
  databaseUrl: string,
  steps: number,
  definition?: { name: string; steps: object[] },
  overrides: Partial<Config> = {},
): Promise<BenchAppliance> {
  const config = { ...benchConfig(databaseUrl), ...overrides };
  const appliance = await startAppliance(config, { logger: createLogger('silent') });
  try {
    const { db, tenants, workflows } = appliance.services;
    const system = await db.tx('system', (q) =>
      insertToken(q, { tenantId: null, role: 'SYSTEM_ADMIN', name: 'bench system', expiresInSeconds: null, createdBy: null }),
    );
    const systemCtx = contextFor(system.apiToken.id, 'SYSTEM_ADMIN', null, 'bench system');
    const tenant = await tenants.create(systemCtx, { name: 'bench' });
    const admin = await db.tx({ tenantId: tenant.id }, (q) =>
      insertToken(q, { tenantId: tenant.id, role: 'ADMIN', name: 'bench admin', expiresInSeconds: null, createdBy: system.apiToken.id }),
    );
    const ctx = contextFor(admin.apiToken.id, 'ADMIN', tenant.id, 'bench admin');
    const workflow = await workflows.create(
      ctx,
      definition
        ? { name: definition.name, definition: { steps: definition.steps } }
        : { name: `noop-${steps}`, definition: noopChain(steps) },
    );
    return {
      appliance,
      url: appliance.url!,
      tenantId: tenant.id,
      ctx,
      token: admin.token,
      workflowId: workflow.id,
      async succeeded() {
        const { rows } = await db.query<{ n: number }>(
          { tenantId: tenant.id },
          `select count(*)::int as n from runs where tenant_id = $1 and status = 'SUCCEEDED'`,
          [tenant.id],
        );
        return rows[0]!.n;
      },
      stop: () => appliance.stop(),
    };
  } catch (error) {
    await appliance.stop();
    throw error;
  }
}

/** Another tenant on a bench appliance, with an ADMIN context and one workflow of the given steps. */
export async function addBenchTenant(
  bench: BenchAppliance,
  name: string,
  steps: object[],
): Promise<{ tenantId: string; ctx: RequestContext; workflowId: string }> {
  const { db, tenants, workflows } = bench.appliance.services;
  const system = await db.tx('system', (q) =>
    insertToken(q, { tenantId: null, role: 'SYSTEM_ADMIN', name: `${name} system`, expiresInSeconds: null, createdBy: null }),
  );
  const tenant = await tenants.create(contextFor(system.apiToken.id, 'SYSTEM_ADMIN', null, `${name} system`), { name });
  const admin = await db.tx({ tenantId: tenant.id }, (q) =>
    insertToken(q, { tenantId: tenant.id, role: 'ADMIN', name: `${name} admin`, expiresInSeconds: null, createdBy: system.apiToken.id }),
  );
  const ctx = contextFor(admin.apiToken.id, 'ADMIN', tenant.id, `${name} admin`);
  const workflow = await workflows.create(ctx, { name: `${name}-workflow`, definition: { steps } });
  return { tenantId: tenant.id, ctx, workflowId: workflow.id };
}

/** Starts `runs` runs through HTTP GraphQL from a separate client process (bench/httpLoadClient.ts); throws on any error. */
export async function startRunsOverHttp(bench: BenchAppliance, runs: number, inflight: number): Promise<void> {
  const job: HttpLoadJob = { url: bench.url, token: bench.token, workflowId: bench.workflowId, runs, inflight };
  const client = spawn(process.execPath, [fileURLToPath(new URL('./httpLoadClient.js', import.meta.url)), JSON.stringify(job)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  client.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    client.once('error', reject);
    client.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`the HTTP load client failed (exit ${code}): ${stderr.trim()}`);
}

/**
 * Records when each run event notification (`<runId>:<seq>`) arrives. PostgreSQL sends a
 * notification only after its transaction commits, so arrival time is when a state
 * change became durable and visible to a client.
 */
export class EventClock {
  readonly arrivals = new Map<string, number>();
  private readonly waiters = new Map<string, () => void>();
  private constructor(private readonly client: pg.Client) {}

  static async listen(databaseUrl: string): Promise<EventClock> {
    const client = new pg.Client({ connectionString: databaseUrl, application_name: 'switchyard-bench-listen' });
    await client.connect();
    client.on('error', () => undefined);
    const clock = new EventClock(client);
    client.on('notification', (n) => {
      if (n.channel !== RUN_EVENTS_CHANNEL || !n.payload) return;
      clock.arrivals.set(n.payload, performance.now());
      clock.waiters.get(n.payload)?.();
    });
    await client.query(`listen ${RUN_EVENTS_CHANNEL}`);
    return clock;
  }

  /** Resolves with the arrival time of `key` (`<runId>:<seq>`), or null after `timeoutMs`. */
  waitFor(key: string, timeoutMs: number): Promise<number | null> {
    const seen = this.arrivals.get(key);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        resolve(null);
      }, timeoutMs);
      this.waiters.set(key, () => {
        clearTimeout(timer);
        this.waiters.delete(key);
        resolve(this.arrivals.get(key)!);
      });
    });
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}
