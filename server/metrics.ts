/**
 * The appliance's Prometheus metrics (`/metrics`): the domain's telemetry as counters and
 * histograms, and gauges read when scraped (queue depth, circuit breakers, the database
 * pool). Counters are this process's; sum them across processes in Prometheus.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../core/db/database.js';
import type { Telemetry } from '../core/telemetry.js';
import type { FinishedRun } from '../core/tracing.js';

/** Error codes counted as refusals: the appliance protecting itself or a tenant's limits. */
const REFUSALS = new Set(['QUOTA_EXCEEDED', 'RATE_LIMITED', 'OVERLOADED']);
// Counted up to this many at a scrape; deeper than that, the figure says "at least".
const QUEUE_DEPTH_CAP = 1_000_000;

export class ApplianceMetrics implements Telemetry {
  readonly registry = new Registry();
  private readonly runsStarted: Counter<'tenant' | 'workflow'>;
  private readonly runsFinished: Counter<'tenant' | 'workflow' | 'status'>;
  private readonly stepSeconds: Histogram<'uses' | 'outcome'>;
  private readonly sandboxInvocations: Counter<'outcome'>;
  private readonly refusals: Counter<'code'>;
  private readonly webhookDeliveries: Counter<'outcome'>;

  constructor(private readonly db: Database) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.runsStarted = new Counter({
      name: 'switchyard_runs_started_total',
      help: 'Runs started (idempotent repeats not counted)',
      labelNames: ['tenant', 'workflow'],
      registers,
    });
    this.runsFinished = new Counter({
      name: 'switchyard_runs_finished_total',
      help: 'Runs that reached a terminal state, by status (FAILED counts failed runs)',
      labelNames: ['tenant', 'workflow', 'status'],
      registers,
    });
    this.stepSeconds = new Histogram({
      name: 'switchyard_step_attempt_duration_seconds',
      help: 'Executor time of step attempts, by action and outcome (ok, an error code, deferred, released, interrupted)',
      labelNames: ['uses', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.sandboxInvocations = new Counter({
      name: 'switchyard_sandbox_invocations_total',
      help: 'Plugin steps run in the sandbox, by outcome (SANDBOX_TIMEOUT: time limit, SANDBOX_MEMORY: killed at its memory limit)',
      labelNames: ['outcome'],
      registers,
    });
    this.refusals = new Counter({
      name: 'switchyard_api_refusals_total',
      help: 'API requests refused by a quota, a rate limit or load shedding, by error code',
      labelNames: ['code'],
      registers,
    });
    for (const code of REFUSALS) this.refusals.inc({ code }, 0);
    this.webhookDeliveries = new Counter({
      name: 'switchyard_webhook_deliveries_total',
      help: 'Webhook deliveries, by outcome (accepted, duplicate, or the refusal code such as SIGNATURE_INVALID)',
      labelNames: ['outcome'],
      registers,
    });
    // prom-client calls collect() with `this` bound to the gauge: the collectors read the constructor's `db`.
    new Gauge({
      name: 'switchyard_queue_depth',
      help: `Step jobs waiting for a worker, in the queue and in tenant backlogs (counted up to ${QUEUE_DEPTH_CAP})`,
      registers,
      async collect() {
        const { rows } = await db.query<{ n: number }>('system', 'select waiting_step_jobs($1) as n', [QUEUE_DEPTH_CAP]);
        this.set(rows[0]!.n);
      },
    });
    new Gauge({
      name: 'switchyard_circuit_breakers',
      help: 'Integration circuit breakers in each state, all tenants',
      labelNames: ['state'],
      registers,
      async collect() {
        const { rows } = await db.query<{ state: string; breakers: number }>(
          'system',
          'select state, breakers from circuit_breaker_counts()',
        );
        for (const row of rows) this.set({ state: row.state }, row.breakers);
      },
    });
    new Gauge({
      name: 'switchyard_db_pool_connections',
      help: "This process's PostgreSQL pool: connections open, idle, and requests waiting for one",
      labelNames: ['state'],
      registers,
      collect() {
        const pool = db.pool;
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    });
  }

  runStarted(tenantId: string, workflowId: string): void {
    this.runsStarted.inc({ tenant: tenantId, workflow: workflowId });
  }

  runFinished(run: FinishedRun): void {
    this.runsFinished.inc({ tenant: run.tenantId, workflow: run.workflowId, status: run.status });
  }

  stepAttempt(_tenantId: string, uses: string, outcome: string, seconds: number): void {
    this.stepSeconds.observe({ uses, outcome }, seconds);
    this.sandboxInvocations.inc({ outcome });
  }

  /** Every error code the API answers with; the refusals are counted. */
  apiError(code: string): void {
    if (REFUSALS.has(code)) this.refusals.inc({ code });
  }

  webhookDelivery(outcome: string): void {
    this.webhookDeliveries.inc({ outcome });
  }
}
