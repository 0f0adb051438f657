/** The full collection after a login burst: that it frees garbage, and when the sweep runs it. */
import assert from "node:assert/strict";
import { BURST_LOGINS, BurstCollector, fullCollection } from "./heap.ts";

Deno.test("fullCollection() gives back the old generation's garbage", () => {
  const gc = fullCollection();
  assert.ok(gc, "V8's collection is available under Deno");
  // Survives scavenges (held while it grows), then dropped: old-generation garbage.
  let junk: { i: number; s: string }[] | null = [];
  for (let i = 0; i < 300_000; i++) junk.push({ i, s: `item ${i}` });
  const held = Deno.memoryUsage().heapUsed;
  junk = null;
  gc();
  const after = Deno.memoryUsage().heapUsed;
  assert.ok(after < held - 10_000_000, `heap ${held} -> ${after} bytes`);
});

Deno.test("the sweep collects once a burst of logins is over, only on a quiet node, once per burst", () => {
  let runs = 0;
  const burst = new BurstCollector(() => runs++);
  assert.equal(burst.sweep(BURST_LOGINS - 1, 0), false);
  // A burst, but messages were written since the last sweep: not now.
  assert.equal(burst.sweep(BURST_LOGINS + 5, 40), false);
  assert.equal(runs, 0);
  assert.equal(burst.sweep(BURST_LOGINS + 5, 40), true);
  assert.equal(runs, 1);
  // Nothing new since: no second pause.
  assert.equal(burst.sweep(BURST_LOGINS + 10, 40), false);
  // Another burst, still logging in at each sweep: not during it.
  assert.equal(burst.sweep(2 * BURST_LOGINS, 40), false);
  assert.equal(burst.sweep(2 * BURST_LOGINS + 5, 40), false);
  assert.equal(runs, 1);
  // Over: the next sweep collects.
  assert.equal(burst.sweep(2 * BURST_LOGINS + 5, 40), true);
  assert.equal(runs, 2);
  assert.equal(new BurstCollector(null).sweep(10 * BURST_LOGINS, 0), false);
});
