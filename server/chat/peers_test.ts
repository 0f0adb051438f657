/** Peers: how the Deliver queue is cut into calls, and its backpressure (room()) against a node that is not there. */
import assert from "node:assert/strict";
import { silentLogger } from "../log.ts";
import { freePort } from "../../testing/mod.ts";
import { chatNodeClient } from "../../proto/services.ts";
import type { RpcClient } from "../../proto/grpc.ts";
import type { ChatNodeMethods, DeliverItem } from "../../proto/services.ts";
import { HIGH_WATER, MAX_BATCH, MAX_BATCH_TEXT, Peers } from "./peers.ts";

Deno.test("room() is free while a node's queue is short, and waits for a long one to drain", async () => {
  const peers = new Peers({
    dial: (addr, deadlineMs) => chatNodeClient(addr, { deadlineMs }),
    log: silentLogger,
    deadlineMs: 500,
  });
  try {
    // Nothing listens there: each Deliver call fails, and so does each of its items.
    const addr = `127.0.0.1:${await freePort()}`;
    assert.equal(peers.room(addr), undefined);
    const first = peers.deliver(addr, { user_id: 1, frame: "{}" });
    assert.equal(peers.room(addr), undefined);
    const rest = Array.from(
      { length: HIGH_WATER },
      (_, i) => peers.deliver(addr, { user_id: i + 2, frame: "{}" }),
    );
    const wait = peers.room(addr);
    assert.ok(wait instanceof Promise, "a full queue makes routing wait");
    const started = Date.now();
    await wait;
    // Woken as the queue drained, before the 2 s cap.
    assert.ok(Date.now() - started < 1900, `waited ${Date.now() - started} ms`);
    assert.deepEqual(new Set(await Promise.all([first, ...rest])), new Set(["failed"]));
    assert.equal(peers.room(addr), undefined);
  } finally {
    peers.closeAll();
  }
});

Deno.test("Deliver calls take at most MAX_BATCH events and MAX_BATCH_TEXT of frames, in queue order", async () => {
  const calls: DeliverItem[][] = [];
  const fake = {
    Deliver(req: { items: DeliverItem[] }) {
      calls.push(req.items);
      return Promise.resolve({ delivered: req.items.map(() => true) });
    },
    close() {},
  } as unknown as RpcClient<ChatNodeMethods>;
  const peers = new Peers({ dial: () => fake, log: silentLogger });
  try {
    const small = Array.from({ length: MAX_BATCH + 5 }, (_, i) => ({ user_id: i, frame: "{}" }));
    // Frames of a quarter of the text budget each: after the 5 small ones, 3 fit in a call.
    const big = Array.from({ length: 6 }, (_, i) => ({
      user_id: 10_000 + i,
      frame: "x".repeat(MAX_BATCH_TEXT / 4),
    }));
    const outcomes = await Promise.all(
      [...small, ...big].map((item) => peers.deliver("node-b:1", item)),
    );
    assert.ok(outcomes.every((o) => o === "delivered"));
    assert.deepEqual(calls.map((c) => c.length), [MAX_BATCH, 5 + 3, 3]);
    for (const c of calls) {
      assert.ok(c.reduce((n, it) => n + it.frame.length, 0) <= MAX_BATCH_TEXT);
    }
    assert.deepEqual(
      calls.flat().map((it) => it.user_id),
      [...small, ...big].map((it) => it.user_id),
    );
  } finally {
    peers.closeAll();
  }
});
