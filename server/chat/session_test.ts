import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { startCluster } from "./_test_kit.ts";
import { ChatClient, eventually, RawSocket, sleep } from "../../testing/mod.ts";
import { revokeToken } from "../engine/revocation.ts";
import { signToken } from "../tokens.ts";
import { getPresence } from "../engine/presence.ts";

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
    assert.equal(w.heartbeat_ms, 30_000);
    assert.deepEqual(w.unread, []);
    assert.equal(w.pending_requests, 0);
    assert.deepEqual(await client.syncMessages(), []);
    client.send({ type: "ping", id: 5 });
    const pong = await client.next("pong");
    assert.equal(pong.id, 5);
    assert.ok(Math.abs(pong.time - Date.now()) < 5000);
    const rec = await getPresence(c.engine, alice.id);
    assert.equal(rec?.node, "chat-1");
    assert.equal(rec?.session, w.session_id);
  } finally {
    await c.close();
  }
});

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

Deno.test("a socket that does not authenticate in time is closed with 4002", async () => {
  const c = await startCluster({ authTimeoutMs: 200 });
  try {
    const client = c.track(await ChatClient.open(c.url));
    const info = await client.closed;
    assert.equal(info.code, 4002);
  } finally {
    await c.close();
  }
});

Deno.test("a bad, expired or revoked token gets its error code and close 4001", async () => {
  const c = await startCluster();
  try {
    const alice = await c.user("alice");
    const secret = c.nodes[0].config.jwtSecret;
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(String(alice.id)).setIssuer("parley").setAudience("parley-chat")
      .setJti("x").setIssuedAt(Math.floor(Date.now() / 1000) - 100)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(secret);
    const revoked = await signToken(secret, alice.id, 3600);
    await revokeToken(c.engine, revoked.claims.jti, revoked.claims.expiresAtMs);
    const other = await signToken(new TextEncoder().encode("x".repeat(40)), alice.id, 3600);
    for (
      const [token, code] of [
        ["not.a.jwt", "token_invalid"],
        [other.token, "token_invalid"],
        [expired, "token_expired"],
        [revoked.token, "token_revoked"],
      ]
    ) {
      const client = c.track(await ChatClient.open(c.url));
      client.send({ type: "auth", id: "a", token });
      const err = await client.next("error");
      assert.equal(err.error.code, code);
      assert.equal(err.id, "a");
      assert.equal((await client.closed).code, 4001);
    }
    assert.equal(await getPresence(c.engine, alice.id), null);
  } finally {
    await c.close();
  }
});

Deno.test("frames before auth get not_authenticated and a second auth gets already_authenticated", async () => {
  const c = await startCluster();
  try {
    const alice = await c.user("alice");
    const raw = c.track(await ChatClient.open(c.url));
    raw.send({ type: "friend.list", id: 1 });
    const err = await raw.next("error");
    assert.deepEqual([err.id, err.error.code], [1, "not_authenticated"]);
    raw.send({ type: "auth", token: await c.token(alice.id) });
    await raw.next("welcome");
    raw.send({ type: "auth", id: 2, token: await c.token(alice.id) });
    const again = await raw.next("error");
    assert.deepEqual([again.id, again.error.code], [2, "already_authenticated"]);
    assert.ok(raw.isOpen);
  } finally {
    await c.close();
  }
});

Deno.test("invalid frames get invalid_frame, unknown_type or invalid_request naming the field", async () => {
  const c = await startCluster();
  try {
    const alice = await c.user("alice");
    const client = await c.connect(alice);
    const cases: [unknown, string | number | null, string, RegExp][] = [
      ["{not json", null, "invalid_frame", /JSON/],
      ["[1,2]", null, "invalid_frame", /JSON object/],
      [{ id: 3 }, 3, "invalid_frame", /type/],
      [{ type: "msg.explode", id: 4 }, 4, "unknown_type", /msg\.explode/],
      [
        { type: "msg.send", id: 5, to: "bob", text: "x", client_id: "c" },
        5,
        "invalid_request",
        /^to:/,
      ],
      [
        { type: "msg.send", id: 6, to: 2, text: "x", client_id: "c", x: 1 },
        6,
        "invalid_request",
        /x/,
      ],
      [{ type: "msg.history", id: 7, with: 2, limit: 101 }, 7, "invalid_request", /^limit:/],
      [
        { type: "msg.send", id: 8, to: 2, text: "   ", client_id: "c" },
        8,
        "invalid_request",
        /^text:/,
      ],
      [new Uint8Array([1, 2, 3]), null, "invalid_frame", /binary/],
    ];
    for (const [frame, id, code, message] of cases) {
      client.send(frame);
      const err = await client.next("error");
      assert.equal(err.id, id, JSON.stringify(frame));
      assert.equal(err.error.code, code, JSON.stringify(frame));
      assert.match(err.error.message, message);
    }
    assert.ok(client.isOpen);
  } finally {
    await c.close();
  }
});

Deno.test("a client that keeps sending invalid frames is closed with 1008", async () => {
  const c = await startCluster();
  try {
    const client = await c.connect(await c.user("alice"));
    for (let i = 0; i < 10; i++) client.send("nope");
    assert.equal((await client.closed).code, 1008);
    assert.equal(client.events("error").length, 10);
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
      assert.equal(await raw.readUntilClose([], 3000).catch(() => null), null);
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

Deno.test("a silent session is closed with 4004 and its presence removed", async () => {
  const c = await startCluster({ heartbeatMs: 150 });
  try {
    const alice = await c.user("alice");
    const bob = await c.user("bob");
    await c.befriend(alice, bob);
    const a = await c.connect(alice);
    const b = await c.connect(bob, { ping: false });
    await a.next("presence", (e) => e.user_id === bob.id && e.online);
    const info = await b.closed;
    assert.equal(info.code, 4004);
    await a.next("presence", (e) => e.user_id === bob.id && !e.online);
    assert.equal(await getPresence(c.engine, bob.id), null);
    // alice pings (ws_client pings at heartbeat_ms / 2) and stays.
    assert.ok(a.isOpen);
    assert.ok((await c.store.userById(bob.id))!.lastSeenAt! > 0);
  } finally {
    await c.close();
  }
});

Deno.test("a second login on the same node kicks the first session; friends see no offline", async () => {
  const c = await startCluster();
  try {
    const alice = await c.user("alice");
    const bob = await c.user("bob");
    await c.befriend(alice, bob);
    const b = await c.connect(bob);
    const a1 = await c.connect(alice);
    await b.next("presence", (e) => e.user_id === alice.id && e.online);
    const a2 = await c.connect(alice);
    assert.equal((await a1.next("kicked")).reason, "logged in elsewhere");
    assert.equal((await a1.closed).code, 4003);
    assert.equal((await getPresence(c.engine, alice.id))?.session, a2.welcome!.session_id);
    // The new session works and bob was never told alice left.
    b.send({ type: "ping", id: "sync" });
    await b.next("pong");
    await sleep(100);
    assert.equal(b.events("presence", (e) => e.user_id === alice.id && !e.online).length, 0);
    await a2.request("friend.list");
  } finally {
    await c.close();
  }
});

Deno.test("a login on another node kicks the session there over gRPC", async () => {
  const c = await startCluster();
  try {
    await c.addNode();
    const alice = await c.user("alice");
    const a1 = await c.connect(alice, { node: 0 });
    const a2 = await c.connect(alice, { node: 1 });
    assert.equal((await a1.next("kicked")).reason, "logged in elsewhere");
    assert.equal((await a1.closed).code, 4003);
    const rec = await getPresence(c.engine, alice.id);
    assert.deepEqual([rec?.node, rec?.session], ["chat-2", a2.welcome!.session_id]);
  } finally {
    await c.close();
  }
});

Deno.test("sockets beyond the unauthenticated cap are closed with 1013", async () => {
  const c = await startCluster({ maxUnauthenticated: 2 });
  try {
    const first = [c.track(await ChatClient.open(c.url)), c.track(await ChatClient.open(c.url))];
    const third = c.track(await ChatClient.open(c.url));
    assert.equal((await third.closed).code, 1013);
    // Authenticating frees a place.
    await first[0].auth(await c.token((await c.user("alice")).id));
    const fourth = c.track(await ChatClient.open(c.url));
    await sleep(100);
    assert.ok(fourth.isOpen);
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
    await c.nodes[0].handle.drain!();
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
      await (await import("../../testing/mod.ts")).connect(
        r.chat_url!,
        await c.token(alice.id),
      ),
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
