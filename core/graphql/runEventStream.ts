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
  #open = 0;

  constructor(
    private readonly runs: RunService,
    private readonly notifier: Notifier,
  ) {}

  /**
   * Listens first, then fixes the starting point: anything committed after the LISTEN is
   * both notified and after `lastSeq`, so no event (the terminal one included) can fall
   * into a gap between subscribing and the first read.
   */
  async subscribe(ctx: RequestContext, run: Run, afterSeq: number, signal?: AbortSignal): Promise<AsyncGenerator<RunEvent>> {
    const state = { pending: true, wake: null as (() => void) | null };
    const stopListening = await this.notifier.listen(RUN_EVENTS_CHANNEL, (payload) => {
      if (!payload.startsWith(`${run.id}:`)) return;
      state.pending = true;
      state.wake?.();
    });
    this.#open += 1;
    let listening = true;
    const unlisten = () => {
      if (!listening) return;
      listening = false;
      this.#open -= 1;
      stopListening();
    };
    // A client that leaves while this is still being set up may never ask the stream to end.
    const onAbort = () => {
      unlisten();
      state.wake?.();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    try {
      // Without a replay point, start from now: the run's latest sequence number. A run that
      // finished meanwhile starts one event earlier, so its terminal event still ends the stream.
      let lastSeq = afterSeq;
      if (afterSeq === 0 && !TERMINAL_RUN.has(run.status)) {
        const latest = await this.runs.lastEventSeq(ctx, run.id);
        lastSeq = latest.status && TERMINAL_RUN.has(latest.status) ? latest.seq - 1 : latest.seq;
      }
      const events = this.stream(
        ctx,
        run.id,
        lastSeq,
        state,
        () => {
          signal?.removeEventListener('abort', onAbort);
          unlisten();
        },
        signal,
      );
      // A client that leaves before the first event is read ends a generator that never
      // started, whose finally block therefore never runs: stop listening here as well.
      const end = events.return.bind(events);
      events.return = (value) => {
        signal?.removeEventListener('abort', onAbort);
        unlisten();
        return end(value);
      };
      return events;
    } catch (error) {
      signal?.removeEventListener('abort', onAbort);
      unlisten();
      throw error;
    }
  }

  /** Subscriptions still listening (each holds a listener on the notifier). */
  openStreams(): number {
    return this.#open;
  }

  private async *stream(
    ctx: RequestContext,
    runId: string,
    startSeq: number,
    state: { pending: boolean; wake: (() => void) | null },
    unlisten: () => void,
    signal?: AbortSignal,
  ): AsyncGenerator<RunEvent> {
    let lastSeq = startSeq;
    try {
      for (;;) {
        if (signal?.aborted) return;
        if (!state.pending) await new Promise<void>((resolve) => (state.wake = resolve));
        if (signal?.aborted) return;
        state.wake = null;
        state.pending = false;
        const events = await this.runs.events(ctx, runId, lastSeq, 500);
        for (const event of events) {
          lastSeq = event.seq;
          yield event;
          if (TERMINAL_EVENTS.has(event.type)) return;
        }
        if (events.length === 500) state.pending = true;
      }
    } finally {
      unlisten();
    }
  }
}
