import test from 'ava';
import { TokenBucket } from '../../core/rateLimit/tokenBucket.js';
import { KeyedTokenBuckets } from '../../core/rateLimit/keyedTokenBuckets.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void; set: (ms: number) => void } {
  let time = start;
  return {
    now: () => time,
    advance: (ms) => {
      time += ms;
    },
    set: (ms) => {
      time = ms;
    },
  };
}

test('a new bucket allows exactly burst requests at once, then says when the next token comes', (t) => {
  const clock = manualClock();
  const bucket = new TokenBucket({ ratePerSecond: 2, burst: 3, clock: clock.now });
  for (let i = 0; i < 3; i++) t.deepEqual(bucket.take(), { allowed: true }, `request ${i + 1}`);
  t.deepEqual(bucket.take(), { allowed: false, retryAfterSeconds: 1 }, 'half a second away rounds up to one whole second');
  t.deepEqual(bucket.take(), { allowed: false, retryAfterSeconds: 1 }, 'a refused request takes nothing');
});

test('tokens come back at the rate, never beyond burst', (t) => {
  const clock = manualClock();
  const bucket = new TokenBucket({ ratePerSecond: 2, burst: 3, clock: clock.now });
  for (let i = 0; i < 3; i++) bucket.take();
  clock.advance(499);
  t.false(bucket.take().allowed, '499 ms at 2/s is not yet a whole token');
  clock.advance(1);
  t.true(bucket.take().allowed, '500 ms at 2/s is one token');
  t.false(bucket.take().allowed);

  clock.advance(60_000);
  t.true(bucket.isFull());
  for (let i = 0; i < 3; i++) t.true(bucket.take().allowed, `after a long idle, request ${i + 1} of the burst`);
  t.false(bucket.take().allowed, 'a long idle refills to burst, not more');
});

test('retryAfterSeconds is whole seconds, rounded up, at slow rates too', (t) => {
  const clock = manualClock();
  const slow = new TokenBucket({ ratePerSecond: 0.1, burst: 1, clock: clock.now });
  t.true(slow.take().allowed);
  t.deepEqual(slow.take(), { allowed: false, retryAfterSeconds: 10 });
  clock.advance(9_001);
  t.deepEqual(slow.take(), { allowed: false, retryAfterSeconds: 1 }, '0.999 s away is 1 s, never 0');
  clock.advance(999);
  t.true(slow.take().allowed);
  t.deepEqual(slow.take(3), { allowed: false, retryAfterSeconds: 30 }, 'more than burst: the wait is still reported');
});

test('a clock that steps backwards neither drains nor refills the bucket', (t) => {
  const clock = manualClock(10_000);
  const bucket = new TokenBucket({ ratePerSecond: 1, burst: 2, clock: clock.now });
  t.true(bucket.take().allowed);
  clock.set(5_000);
  t.true(bucket.take().allowed, 'the remaining token is still there');
  t.false(bucket.take().allowed);
  clock.set(10_999);
  t.false(bucket.take().allowed, 'time is counted from the latest reading, not from the step back');
  clock.set(11_000);
  t.true(bucket.take().allowed);
});

test('options are checked', (t) => {
  t.throws(() => new TokenBucket({ ratePerSecond: 0, burst: 1 }), { instanceOf: RangeError, message: /ratePerSecond/ });
  t.throws(() => new TokenBucket({ ratePerSecond: 1, burst: 0 }), { instanceOf: RangeError, message: /burst/ });
  t.throws(() => new KeyedTokenBuckets({ ratePerSecond: 1, burst: 1, maxKeys: 0 }), { instanceOf: RangeError, message: /maxKeys/ });
});

test('keyed buckets: each key has its own bucket', (t) => {
  const clock = manualClock();
  const buckets = new KeyedTokenBuckets({ ratePerSecond: 1, burst: 2, clock: clock.now });
  t.true(buckets.take('a').allowed);
  t.true(buckets.take('a').allowed);
  t.deepEqual(buckets.take('a'), { allowed: false, retryAfterSeconds: 1 });
  t.true(buckets.take('b').allowed, 'another key is unaffected');
  t.true(buckets.take('b').allowed);
  t.false(buckets.take('b').allowed);
});

test('keyed buckets: buckets that have refilled are forgotten, so many keys do not accumulate', (t) => {
  const clock = manualClock();
  // Each key empties its bucket; refilling it takes burst / rate = 2 s.
  const buckets = new KeyedTokenBuckets({ ratePerSecond: 5, burst: 10, clock: clock.now });
  for (let i = 0; i < 1000; i++) {
    t.true(buckets.take(`token-${i}`, 10).allowed);
    clock.advance(10);
  }
  // Only the keys of the last 2 s (10 ms apart) are still refilling; older ones are gone.
  t.is(buckets.size, 200);

  clock.advance(2_000);
  buckets.take('late');
  t.is(buckets.size, 1, 'once every old bucket is full again, only the new key is held');
});

test('keyed buckets: forgetting a full bucket changes nothing for its key', (t) => {
  const clock = manualClock();
  const buckets = new KeyedTokenBuckets({ ratePerSecond: 1, burst: 2, clock: clock.now });
  buckets.take('a');
  buckets.take('a');
  clock.advance(2_000);
  buckets.take('b');
  t.is(buckets.size, 1, '"a" had refilled and was dropped');
  t.true(buckets.take('a').allowed);
  t.true(buckets.take('a').allowed);
  t.false(buckets.take('a').allowed, 'a fresh bucket for "a" holds burst, as the forgotten one did');
});

test('keyed buckets: maxKeys caps memory even when every bucket is still refilling', (t) => {
  const clock = manualClock();
  const buckets = new KeyedTokenBuckets({ ratePerSecond: 1, burst: 100, clock: clock.now, maxKeys: 50 });
  for (let i = 0; i < 10_000; i++) buckets.take(`token-${i}`);
  t.is(buckets.size, 50);
  // The most recently used keys are the ones kept.
  for (let i = 0; i < 99; i++) buckets.take('token-9999');
  t.false(buckets.take('token-9999').allowed, 'a kept key keeps its state');
});

test('a drained token bucket stays empty until the wait ends, then refills at its rate', (t) => {
  const clock = manualClock(10_000);
  const bucket = new TokenBucket({ ratePerSecond: 1, burst: 5, clock: clock.now });
  bucket.drainUntil(13_000);
  t.deepEqual(bucket.take(), { allowed: false, retryAfterSeconds: 4 }, 'three seconds of wait and one of refill');
  clock.set(13_500);
  t.false(bucket.take().allowed, 'no burst the moment the wait ends');
  clock.set(14_000);
  t.true(bucket.take().allowed);
  t.false(bucket.take().allowed);
});
