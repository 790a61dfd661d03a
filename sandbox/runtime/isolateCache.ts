import type ivm from 'isolated-vm';
import type { GuestContext } from './guestContext.js';

export interface CachedIsolate {
  key: string;
  isolate: ivm.Isolate;
  script: ivm.Script;
  /** The guest bootstrap, compiled once per isolate and run in each fresh context. */
  bootstrap: ivm.Script;
  /**
   * A fresh, bootstrapped context made while the thread was idle after the last invocation, for
   * the next one; never used twice. It goes away with the isolate.
   */
  spare: GuestContext | undefined;
  /** Invocations using it now; a busy isolate is never evicted. */
  busy: number;
  /** Its CPU time when it last went idle: an isolate that runs while nobody invoked it is not reused. */
  cpuAtRest?: bigint;
}

/**
 * A small LRU of isolates with their compiled scripts, one per thread. Map order is recency:
 * `get` moves an entry to the end, eviction takes from the front.
 */
export class IsolateCache {
  readonly #entries = new Map<string, CachedIsolate>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): CachedIsolate | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.isolate.isDisposed) {
      this.#entries.delete(key);
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry;
  }

  /** Whether `entry` is still the cached one for its key (not evicted, discarded or replaced). */
  holds(entry: CachedIsolate): boolean {
    return this.#entries.get(entry.key) === entry;
  }

  add(entry: CachedIsolate): void {
    this.#entries.set(entry.key, entry);
    for (const old of this.#entries.values()) {
      if (this.#entries.size <= this.capacity) break;
      if (old.busy > 0) continue;
      this.#entries.delete(old.key);
      disposeQuietly(old.isolate);
    }
  }

  /** Drops and disposes an entry whose isolate can no longer be trusted (timeout, memory, cancel). */
  discard(entry: CachedIsolate): void {
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    disposeQuietly(entry.isolate);
  }
}

export function disposeQuietly(isolate: ivm.Isolate): void {
  try {
    if (!isolate.isDisposed) isolate.dispose();
  } catch {
    // Already disposed by isolated-vm itself (memory limit): nothing left to free.
  }
}
