/** UserBuckets: one bucket per user on a node, and its state carried to another node through the engine. */
import assert from "node:assert/strict";
import { silentLogger } from "../log.ts";
import { openEngine } from "../engine/mod.ts";
import { UserBuckets } from "./buckets.ts";

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
