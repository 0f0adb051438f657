import assert from "node:assert/strict";
import { UserBuckets } from "./buckets.ts";

Deno.test("UserBuckets gives a user the same bucket across sessions until it has refilled", () => {
  const buckets = new UserBuckets(1, 2);
  const t0 = Date.now();
  assert.ok(buckets.get(7).take(t0));
  assert.ok(buckets.get(7).take(t0));
  // A new session of user 7 (same node) finds the drained bucket, not a fresh one.
  assert.equal(buckets.get(7).take(t0), false);
  buckets.sweep(() => false, t0 + 500);
  assert.equal(buckets.size, 1, "a bucket that has not refilled is kept");
  buckets.sweep(() => true, t0 + 5000);
  assert.equal(buckets.size, 1, "a user who is online keeps the bucket");
  buckets.sweep(() => false, t0 + 5000);
  assert.equal(buckets.size, 0, "a refilled bucket of a user with no session is dropped");
});
