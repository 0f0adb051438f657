/**
 * TokenBucket, the process-local limiter (hit() runs in the engine
 * contract against every adapter).
 */
import assert from "node:assert/strict";
import { TokenBucket } from "./rate_limit.ts";

Deno.test("TokenBucket allows a burst, then one action per refill interval", () => {
  const b = new TokenBucket(2, 3, 0); // 2 per second, bursts of 3
  assert.deepEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
  assert.equal(b.retryAfterMs(0), 500);
  assert.equal(b.take(499), false);
  assert.equal(b.take(500), true);
  assert.equal(b.take(500), false);
  assert.equal(b.retryAfterMs(750), 250);
});

Deno.test("TokenBucket refills no further than its burst", () => {
  const b = new TokenBucket(10, 2, 0);
  assert.ok(b.take(0) && b.take(0));
  const after = [1, 2, 3].map(() => b.take(60_000));
  assert.deepEqual(after, [true, true, false]);
});

Deno.test("TokenBucket is not drained by a clock that steps back", () => {
  const b = new TokenBucket(1, 1, 10_000);
  assert.equal(b.take(10_000), true);
  assert.equal(b.take(5_000), false);
  assert.equal(b.take(11_000), true, "a full token accrues once the clock passes 11 s");
});

Deno.test("TokenBucket rejects a rate or burst that cannot work", () => {
  assert.throws(() => new TokenBucket(0, 5), RangeError);
  assert.throws(() => new TokenBucket(Number.POSITIVE_INFINITY, 5), RangeError);
  assert.throws(() => new TokenBucket(1, 0.5), RangeError);
});

Deno.test("TokenBucket.limitTo() takes a lower state carried from elsewhere, refilled to now, and never adds tokens", () => {
  const b = new TokenBucket(2, 10, 0); // full: 10
  b.limitTo(1, 0, 1000); // 1 token at t=0 is 3 tokens at t=1 s
  assert.equal(b.tokens(1000), 3);
  b.limitTo(10, 1000, 1000);
  assert.equal(b.tokens(1000), 3, "a fuller state adds nothing");
  b.limitTo(0, 500, 1000); // 0 at 0.5 s is 1 at 1 s
  assert.equal(b.tokens(1000), 1);
  assert.equal(b.take(1000), true);
  assert.equal(b.take(1000), false);
});
