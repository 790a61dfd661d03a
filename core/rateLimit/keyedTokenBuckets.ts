import { TokenBucket, type TakeResult, type TokenBucketOptions } from './tokenBucket.js';

export interface KeyedTokenBucketsOptions extends TokenBucketOptions {
  /**
   * Most buckets kept at once (default 10,000). Past it the least recently used bucket is
   * dropped even if it is not yet full, which hands that key a fresh burst: size it above
   * the number of keys active within one refill period (burst / rate seconds).
   */
  maxKeys?: number;
}

/**
 * One token bucket per key (an API token, an integration host), in process memory that
 * stays bounded however many keys come and go: buckets that have refilled completely are
 * forgotten (a new bucket would be identical), and `maxKeys` caps the rest.
 */
export class KeyedTokenBuckets {
  /** In least-recently-used order: a Map iterates in insertion order, and `take` re-inserts. */
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly maxKeys: number;

  constructor(private readonly options: KeyedTokenBucketsOptions) {
    this.maxKeys = options.maxKeys ?? 10_000;
    if (!Number.isInteger(this.maxKeys) || this.maxKeys < 1)
      throw new RangeError(`maxKeys must be a positive whole number, got ${options.maxKeys}`);
  }

  take(key: string, count = 1): TakeResult {
    let bucket = this.buckets.get(key);
    if (bucket) this.buckets.delete(key);
    else bucket = new TokenBucket(this.options);
    const result = bucket.take(count);
    this.buckets.set(key, bucket);
    this.evictIdle();
    return result;
  }

  /** Buckets held now (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  /**
   * Drops from the least recently used end while buckets there are full or over the cap.
   * It stops at the first one still refilling, so each call does amortised constant work;
   * a full bucket further back goes once it reaches the front.
   */
  private evictIdle(): void {
    for (const [key, bucket] of this.buckets) {
      if (this.buckets.size > this.maxKeys || bucket.isFull()) this.buckets.delete(key);
      else break;
    }
  }
}
