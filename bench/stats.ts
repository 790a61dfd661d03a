import fs from 'node:fs';

/** Nearest-rank percentile of an unsorted sample (p in 0..100); NaN for an empty sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(values: readonly number[]): Percentiles {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : Number.NaN,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `intervalMs` until it returns true or `timeoutMs` passes; returns whether it did. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

/** Runs `task(i)` for i in [0, count) with at most `limit` in flight; rejects on the first failure. */
export async function boundedParallel(count: number, limit: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, count) }, async () => {
    while (next < count) {
      const i = next++;
      await task(i);
    }
  });
  await Promise.all(lanes);
}

export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Shares of all cores' time over a sampled interval (each 0..1). */
export interface CpuShares {
  machineBusy: number;
  nodeBusy: number;
  /** The embedded PostgreSQL server's processes; null when not measurable (external server). */
  postgresBusy: number | null;
  /** CPU time used over the interval, in milliseconds. */
  nodeMs: number;
  postgresMs: number | null;
}

/**
 * CPU time from /proc (Linux): how busy the machine's cores were, and how much of that was
 * this Node process and the PostgreSQL server (the postmaster and its children).
 */
export class CpuSampler {
  private readonly startMachine = readProcStat();
  private readonly startPg: Map<number, number> | null;
  private readonly startProcess = process.cpuUsage();
  private readonly startedAt = process.hrtime.bigint();

  constructor(private readonly postmasterPid: number | null = null) {
    this.startPg = postmasterPid ? processTreeTicks(postmasterPid) : null;
  }

  finish(): CpuShares | null {
    const endMachine = readProcStat();
    const endPg = this.postmasterPid ? processTreeTicks(this.postmasterPid) : null;
    const proc = process.cpuUsage(this.startProcess);
    const wallMs = Number(process.hrtime.bigint() - this.startedAt) / 1e6;
    if (!this.startMachine || !endMachine || wallMs <= 0) return null;
    const total = endMachine.total - this.startMachine.total;
    const idle = endMachine.idle - this.startMachine.idle;
    const nodeMs = (proc.user + proc.system) / 1000;
    let postgresBusy: number | null = null;
    if (this.startPg && endPg && total > 0) {
      let ticks = 0;
      // Backends that started during the interval count from zero; ones that exited are lost (few: pools keep theirs).
      for (const [pid, t] of endPg) ticks += t - (this.startPg.get(pid) ?? 0);
      postgresBusy = ticks / total;
    }
    const capacityMs = wallMs * endMachine.cores;
    return {
      machineBusy: total > 0 ? (total - idle) / total : 0,
      nodeBusy: nodeMs / capacityMs,
      postgresBusy,
      nodeMs,
      postgresMs: postgresBusy === null ? null : postgresBusy * capacityMs,
    };
  }
}

function readProcStat(): { total: number; idle: number; cores: number } | null {
  try {
    const lines = fs.readFileSync('/proc/stat', 'utf8').split('\n');
    const fields = lines[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user)
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const cores = lines.filter((l) => /^cpu\d+ /.test(l)).length || 1;
    return { total, idle, cores };
  } catch {
    return null;
  }
}

/** utime + stime (clock ticks, the unit of /proc/stat) of `root` and its direct children, by pid. */
function processTreeTicks(root: number): Map<number, number> | null {
  const out = new Map<number, number>();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return null;
  }
  for (const entry of entries) {
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name is in parentheses and may hold spaces; fields resume after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(entry);
      const ppid = Number(rest[1]);
      if (pid !== root && ppid !== root) continue;
      out.set(pid, Number(rest[11]) + Number(rest[12]));
    } catch {
      // The process exited while we looked.
    }
  }
  return out;
}
