/** UserBuckets: one bucket per user on a node, and its state carried to another node through the engine. */
import assert from "node:assert/strict";
import { silentLogger } from "../log.ts";
import { openEngine } from "../engine/mod.ts";
import { takeShare, UserBuckets } from "./buckets.ts";
import { TokenBucket } from "../engine/rate_limit.ts";

Deno.test("UserBuckets gives a user the same bucket across sessions until it has refilled", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    const buckets = new UserBuckets(1, 2, engine);
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
  } finally {
    await engine.close();
  }
});

Deno.test("a bucket saved at a session's end is restored on another node, refilled only by the time passed", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    const nodeA = new UserBuckets(2, 5, engine);
    const nodeB = new UserBuckets(2, 5, engine);
    for (let i = 0; i < 5; i++) assert.ok(nodeA.get(7).take());
    await nodeA.save(7);
    assert.ok((await engine.pttl("bucket:msg:7")) > 2000, "kept until it would have refilled");
    await nodeB.restore(7);
    assert.equal(nodeB.get(7).take(), false, "moving to node B did not refill the bucket");
    assert.ok(nodeB.get(7).tokens(Date.now() + 1000) >= 1.9, "it refills at the rate from then");
    // A user who never saved (or saved a full bucket) starts full.
    await nodeB.restore(8);
    assert.equal(nodeB.get(8).tokens(), 5);
    await nodeB.save(8);
    assert.equal(await engine.get("bucket:msg:8"), null, "a full bucket is not written");
  } finally {
    await engine.close();
  }
});

Deno.test("takeShare() charges a user on n nodes n tokens, so n nodes together let the rate through once", () => {
  const t0 = Date.now();
  // Two nodes, each with its own bucket of the user's (rate 10/s, burst 10).
  const [n1, n2] = [new TokenBucket(10, 10, t0), new TokenBucket(10, 10, t0)];
  let allowed = 0;
  for (let ms = 0; ms < 2000; ms += 10) {
    for (const b of [n1, n2]) if (takeShare(b, 2, t0 + ms) === 0) allowed++;
  }
  // One node alone would allow 10 + 20 over two seconds; two together, the same (±1).
  assert.ok(allowed >= 28 && allowed <= 31, `${allowed} messages in 2 s`);
  // Drained now: the next message waits for two tokens.
  while (takeShare(n1, 2, t0 + 2000) === 0);
  const wait = takeShare(n1, 2, t0 + 2000);
  assert.ok(wait > 0 && wait <= 200, `retry after ${wait} ms`);
  assert.equal(takeShare(new TokenBucket(10, 10, t0), 1, t0), 0, "one node: one token");
});

Deno.test("startShare() starts a user's new bucket at the node's share of the burst, and leaves one in use", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    const buckets = new UserBuckets(1, 6, engine);
    const now = Date.now();
    buckets.startShare(7, 3, now);
    assert.equal(Math.round(buckets.get(7).tokens(now)), 2);
    buckets.get(8).take(now);
    buckets.startShare(8, 3, now);
    assert.equal(Math.round(buckets.get(8).tokens(now)), 5, "a bucket already here is kept");
  } finally {
    await engine.close();
  }
});
