/**
 * A token bucket: holds at most `burst` tokens, refills at `ratePerSecond`, and each
 * request takes one. Pure: no I/O and no timers; time comes from the injected clock, so
 * tests (and callers that batch their own time reads) decide what "now" is.
 */

/** Milliseconds, like `Date.now`. */
export type Clock = () => number;

export interface TokenBucketOptions {
  /** Tokens added per second (the sustained rate). */
  ratePerSecond: number;
  /** Most tokens the bucket holds (how many requests may come at once). */
  burst: number;
  /** Default `Date.now`. */
  clock?: Clock;
}

export type TakeResult = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export class TokenBucket {
  private readonly ratePerSecond: number;
  /** Capacity in thousandths of a token. */
  private readonly capacity: number;
  private readonly clock: Clock;
  /**
   * The bucket's content in thousandths of a token: a millisecond at a whole rate adds
   * a whole number of them, so with a millisecond clock the arithmetic stays exact.
   */
  private thousandths: number;
  private updatedAt: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond))
      throw new RangeError(`ratePerSecond must be a positive number, got ${options.ratePerSecond}`);
    if (!(options.burst >= 1) || !Number.isFinite(options.burst)) throw new RangeError(`burst must be at least 1, got ${options.burst}`);
    this.ratePerSecond = options.ratePerSecond;
    this.capacity = options.burst * 1000;
    this.clock = options.clock ?? Date.now;
    this.thousandths = this.capacity;
    this.updatedAt = this.clock();
  }

  /**
   * Takes `count` tokens if the bucket has them. Otherwise takes nothing and says how
   * many whole seconds until it will (at least 1: Retry-After is in whole seconds, and
   * rounding down would send the client back too early).
   */
  take(count = 1): TakeResult {
    const now = this.refill();
    const needed = count * 1000;
    if (this.thousandths >= needed) {
      this.thousandths -= needed;
      return { allowed: true };
    }
    // Until `updatedAt` nothing refills: a clock that stepped back, or a drain (drainUntil).
    const waitMs = (needed - this.thousandths) / this.ratePerSecond + Math.max(0, this.updatedAt - now);
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  /**
   * Empties the bucket and keeps it empty until `untilMs`, from when it refills at the
   * rate: what an upstream's Retry-After asks for (no burst the moment the wait ends).
   */
  drainUntil(untilMs: number): void {
    this.refill();
    this.thousandths = 0;
    this.updatedAt = Math.max(this.updatedAt, untilMs);
  }

  /** A full bucket is indistinguishable from a new one, so its owner may forget it. */
  isFull(): boolean {
    this.refill();
    return this.thousandths >= this.capacity;
  }

  /** Returns the clock reading it refilled to. */
  private refill(): number {
    const now = this.clock();
    // A clock that steps backwards must neither drain nor refill the bucket.
    if (now <= this.updatedAt) return now;
    this.thousandths = Math.min(this.capacity, this.thousandths + (now - this.updatedAt) * this.ratePerSecond);
    this.updatedAt = now;
    return now;
  }
}
