/** Peers: the Deliver queue's backpressure (room()) against a node that is not there. */
import assert from "node:assert/strict";
import { silentLogger } from "../log.ts";
import { freePort } from "../../testing/mod.ts";
import { chatNodeClient } from "../../proto/services.ts";
import { HIGH_WATER, Peers } from "./peers.ts";

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
