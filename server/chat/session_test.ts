import assert from "node:assert/strict";
import { startCluster } from "./_test_kit.ts";

Deno.test("a client authenticates with an auth frame and gets a welcome and an empty sync", async () => {
  const c = await startCluster();
  try {
    const alice = await c.user("alice");
    const client = await c.connect(alice);
    assert.equal(client.protocol, "parley.v1");
    const w = client.welcome!;
    assert.equal(w.user.id, alice.id);
    assert.equal(w.user.email, "alice@example.com");
    assert.equal(w.node, "chat-1");
    assert.equal(w.protocol, 1);
    assert.deepEqual(w.unread, []);
    assert.equal(w.pending_requests, 0);
    assert.deepEqual(await client.syncMessages(), []);
    client.send({ type: "ping", id: 5 });
    const pong = await client.next("pong");
    assert.equal(pong.id, 5);
    assert.ok(Math.abs(pong.time - Date.now()) < 5000);
  } finally {
    await c.close();
  }
});
