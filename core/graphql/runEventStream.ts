import type { RequestContext } from '../auth/roles.js';
import type { Run, RunService } from '../runs/runs.js';
import { TERMINAL_RUN, type RunEvent } from '../runs/model.js';
import { RUN_EVENTS_CHANNEL } from '../runs/store.js';
import type { Notifier } from '../engine/notifier.js';

const TERMINAL_EVENTS = new Set(['RUN_SUCCEEDED', 'RUN_FAILED', 'RUN_CANCELLED', 'RUN_TIMED_OUT']);

/**
 * Live run events for subscriptions. A NOTIFY (from any process) only says "run R has
 * events up to seq N"; the events themselves are read from the table, so a missed or
 * coalesced notification loses nothing. Ends after the run's terminal event.
 */
export class RunEventStream {
  constructor(private readonly runs: RunService, private readonly notifier: Notifier) {}

  async *subscribe(ctx: RequestContext, run: Run, afterSeq: number): AsyncGenerator<RunEvent> {
    let lastSeq = afterSeq;
    let wake: (() => void) | null = null;
    let pending = true;
    const unlisten = await this.notifier.listen(RUN_EVENTS_CHANNEL, (payload) => {
      if (!payload.startsWith(`${run.id}:`)) return;
      pending = true;
      wake?.();
    });
    try {
      if (afterSeq === 0 && !TERMINAL_RUN.has(run.status)) {
        // Without a replay point, start from now: the current last sequence number.
        lastSeq = await this.runs.lastEventSeq(ctx, run.id);
      }
      for (;;) {
        if (!pending) await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        pending = false;
        const events = await this.runs.events(ctx, run.id, lastSeq, 500);
        for (const event of events) {
          lastSeq = event.seq;
          yield event;
          if (TERMINAL_EVENTS.has(event.type)) return;
        }
        if (events.length === 500) pending = true;
      }
    } finally {
      unlisten();
    }
  }
}
