/**
 * The chat role over real WebSockets, in this process: what only a socket
 * shows (the subprotocols, frame sizes on the wire, bytes that are not
 * UTF-8, a client that does not read) and the role's listeners (drain,
 * /healthz, /metrics). A session's logic on fake connections is tested in
 * server/chat/session_test.ts.
 */
import assert from "node:assert/strict";
import { startCluster } from "../server/chat/_test_kit.ts";
import { ChatClient, connect, eventually, RawSocket, sleep } from "../testing/mod.ts";

Deno.test("a client authenticates with the token as a second subprotocol", async () => {
  const c = await startCluster();
  try {
    const alice = await c.user("alice");
    const client = await c.connect(alice, { via: "subprotocol" });
    assert.equal(client.protocol, "parley.v1");
    assert.equal(client.welcome!.user.id, alice.id);
  } finally {
    await c.close();
  }
});

Deno.test("a frame over 64 KiB closes the socket with 1009, and one just under is read", async () => {
  const c = await startCluster();
  try {
    const alice = await c.user("alice");
    const ok = await c.connect(alice);
    // 65,536 bytes exactly: a valid-size frame (that fails validation for its text length).
    const pad = 65_536 - JSON.stringify({ type: "ping", x: "" }).length;
    ok.send(JSON.stringify({ type: "ping", x: "a".repeat(pad) }));
    assert.equal((await ok.next("error")).error.code, "invalid_request");
    // Multi-byte characters count by their UTF-8 size: 22,000 × 3 bytes > 64 KiB.
    ok.send(JSON.stringify({ type: "ping", x: "€".repeat(22_000) }));
    assert.equal((await ok.closed).code, 1009);
  } finally {
    await c.close();
  }
});

Deno.test("a text frame that is not UTF-8 ends that connection and nothing else", async () => {
  const c = await startCluster();
  try {
    const alice = await c.user("alice");
    const bob = await c.user("bob");
    await c.befriend(alice, bob);
    const a = await c.connect(alice);
    const raw = await RawSocket.open(c.url);
    try {
      await raw.sendText(JSON.stringify({ type: "auth", token: await c.token(bob.id) }));
      const texts: string[] = [];
      // Read the welcome and sync, then send bytes that are not UTF-8.
      while (!texts.some((t) => t.includes('"done":true'))) {
        const f = await raw.readFrame();
        if (f) texts.push(new TextDecoder().decode(f.payload));
      }
      await raw.sendFrame(1, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
      assert.equal((await raw.readUntilClose([], 3000))?.code, 1007);
    } finally {
      raw.close();
    }
    // bob's session ended like any lost connection; alice and the node are fine.
    const p = await a.next("presence", (e) => e.user_id === bob.id && !e.online);
    assert.ok(p.last_seen! > 0);
    assert.deepEqual((await a.request("friend.list")).friends.map((f) => f.online), [false]);
  } finally {
    await c.close();
  }
});

Deno.test("drain() sends reconnect with another node's URL, closes with 1012 and refuses new sockets", async () => {
  const c = await startCluster();
  try {
    const other = await c.addNode();
    const alice = await c.user("alice");
    const a = await c.connect(alice, { node: 0 });
    const unauth = c.track(await ChatClient.open(c.url));
    await c.nodes[0].handle!.drain!();
    const r = await a.next("reconnect");
    assert.equal(r.reason, "draining");
    assert.equal(r.chat_url, other.url);
    assert.equal((await a.closed).code, 1012);
    assert.equal((await unauth.closed).code, 1012);
    const health = await fetch(c.url.replace("ws:", "http:").replace("/ws", "/healthz"));
    assert.equal(health.status, 503);
    await health.body?.cancel();
    await assert.rejects(ChatClient.open(c.url));
    // The client moves on with the same token.
    const moved = c.track(
      await connect(r.chat_url!, await c.token(alice.id)),
    );
    assert.equal(moved.welcome!.node, "chat-2");
  } finally {
    await c.close();
  }
});

Deno.test("/metrics shows sessions and frames", async () => {
  const c = await startCluster();
  try {
    await c.connect(await c.user("alice"));
    const base = c.url.replace("ws:", "http:").replace("/ws", "");
    const text = await eventually(async () => {
      const t = await (await fetch(`${base}/metrics`)).text();
      return /parley_chat_sessions\{[^}]*\} 1/.test(t) ? t : "";
    });
    assert.match(text, /parley_chat_frames_in_total\{[^}]*type="auth"[^}]*\} 1/);
    assert.match(text, /parley_chat_frames_out_total/);
  } finally {
    await c.close();
  }
});

Deno.test("a client that does not read its offline sync is closed with 4005", async () => {
  const c = await startCluster({ heartbeatMs: 200 });
  try {
    const alice = await c.user("alice");
    const bob = await c.user("bob");
    await c.befriend(alice, bob);
    const text = "x".repeat(4000);
    for (let k = 0; k < 40; k++) {
      await c.store.insertMessages(
        Array.from({ length: 100 }, (_, i) => ({
          senderId: alice.id,
          recipientId: bob.id,
          clientId: `${k}-${i}`,
          text,
          createdAt: Date.now(),
        })),
      );
    }
    const raw = await RawSocket.open(c.url);
    try {
      await raw.sendText(JSON.stringify({ type: "auth", token: await c.token(bob.id) }));
      // Ping (so the heartbeat is fine) but read nothing for a while.
      for (let i = 0; i < 15; i++) {
        await raw.sendText('{"type":"ping"}');
        await sleep(100);
      }
      const texts: string[] = [];
      const info = await raw.readUntilClose(texts, 5000);
      assert.equal(info?.code, 4005);
      const synced = texts.filter((t) => t.startsWith('{"type":"msg.sync"')).length;
      assert.ok(synced < 40, `only part of the sync was sent (${synced} batches)`);
    } finally {
      raw.close();
    }
  } finally {
    await c.close();
  }
});
