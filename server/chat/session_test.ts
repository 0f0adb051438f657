/**
 * A session's life on fake connections (no socket, status role or gRPC):
 * authentication, invalid frames, limits, heartbeats, kicks and the
 * offline sync's flow control. The same over real sockets, and across
 * nodes, is in tests/chat_transport_test.ts and tests/chat_cross_node_test.ts.
 */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { startTestNode } from "./_test_node.ts";
import { sleep } from "../../testing/mod.ts";
import { signToken } from "../tokens.ts";
import { getPresence, getSessions } from "../engine/presence.ts";
import { LOGIN_CONCURRENCY, loginGateOf } from "./login_gate.ts";

Deno.test("a client authenticates with an auth frame and gets a welcome and an empty sync", async () => {
  const c = await startTestNode();
  try {
    const alice = await c.user("alice");
    const client = await c.connect(alice);
    const w = client.welcome!;
    assert.equal(w.user.id, alice.id);
    assert.equal(w.user.email, "alice@example.com");
    assert.equal(w.node, "chat-1");
    assert.equal(w.protocol, 2);
    assert.equal(w.heartbeat_ms, 30_000);
    assert.deepEqual(w.unread, []);
    assert.equal(w.pending_requests, 0);
    // No device named: one per token; a new user's inbox is empty.
    assert.match(w.device!.id, /^t:[0-9a-f-]{36}$/);
    assert.equal(w.device!.label, "");
    assert.deepEqual([w.head, w.cursor], [0, 0]);
    assert.deepEqual(await client.syncMessages(), []);
    client.send({ type: "ping", id: 5 });
    const pong = await client.next("pong");
    assert.equal(pong.id, 5);
    assert.equal(pong.head, 0);
    assert.ok(Math.abs(pong.time - Date.now()) < 5000);
    const [rec] = await getSessions(c.engine, alice.id);
    assert.equal(rec?.node, "chat-1");
    assert.equal(rec?.session, w.session_id);
    assert.equal(rec?.device, w.device!.id);
    const devices = await c.store.devices(alice.id);
    assert.deepEqual(devices.map((d) => [d.deviceId, d.ackedSeq]), [[w.device!.id, 0]]);
  } finally {
    await c.close();
  }
});

Deno.test("a socket that does not authenticate in time is closed with 4002", async () => {
  const c = await startTestNode({ chat: { authTimeoutMs: 200 } });
  try {
    const client = c.open();
    const info = await client.closed;
    assert.equal(info.code, 4002);
  } finally {
    await c.close();
  }
});

Deno.test("a bad, expired or revoked token gets its error code and close 4001", async () => {
  const c = await startTestNode();
  try {
    const alice = await c.user("alice");
    const secret = c.ctx.config.jwtSecret;
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(String(alice.id)).setIssuer("parley").setAudience("parley-chat")
      .setJti("x").setIssuedAt(Math.floor(Date.now() / 1000) - 100)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(secret);
    const revoked = await signToken(secret, alice.id, 3600);
    await c.store.revokeToken(revoked.claims.jti, alice.id, revoked.claims.expiresAtMs);
    const other = await signToken(new TextEncoder().encode("x".repeat(40)), alice.id, 3600);
    for (
      const [token, code] of [
        ["not.a.jwt", "token_invalid"],
        [other.token, "token_invalid"],
        [expired, "token_expired"],
        [revoked.token, "token_revoked"],
      ]
    ) {
      const client = c.open();
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
  const c = await startTestNode();
  try {
    const alice = await c.user("alice");
    const raw = c.open();
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
  const c = await startTestNode();
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
  const c = await startTestNode();
  try {
    const client = await c.connect(await c.user("alice"));
    for (let i = 0; i < 10; i++) client.send("nope");
    assert.equal((await client.closed).code, 1008);
    assert.equal(client.events("error").length, 10);
  } finally {
    await c.close();
  }
});

Deno.test("a silent session is closed with 4004 and its presence removed", async () => {
  const c = await startTestNode({ chat: { heartbeatMs: 150 } });
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

Deno.test("a login that waited its turn past the heartbeat timeout is not closed as silent", async () => {
  const c = await startTestNode({ chat: { heartbeatMs: 100 } });
  try {
    // Every login slot busy for ten heartbeat intervals: the auth frame waits.
    const gate = loginGateOf(c.ctx);
    const release = Promise.withResolvers<void>();
    const busy = Array.from({ length: LOGIN_CONCURRENCY }, () => gate.run(() => release.promise));
    const alice = await c.user("alice");
    const pending = c.connect(alice); // pings every 50 ms once welcomed
    await sleep(1000);
    assert.equal(gate.waiting, 1);
    release.resolve();
    await Promise.all(busy);
    const a = await pending;
    // The sweep runs every 50 ms and times out after 300 ms of silence.
    await sleep(600);
    assert.ok(a.isOpen, `closed: ${JSON.stringify(a.closeInfo)}`);
  } finally {
    await c.close();
  }
});

Deno.test("single policy: a second login on the same node kicks the first session; friends see no offline", async () => {
  const c = await startTestNode({ chat: { sessions: "single" } });
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

Deno.test("sockets beyond the unauthenticated cap are closed with 1013", async () => {
  const c = await startTestNode({ chat: { maxUnauthenticated: 2 } });
  try {
    const first = [c.open(), c.open()];
    const third = c.open();
    assert.equal((await third.closed).code, 1013);
    // Authenticating frees a place.
    await first[0].auth(await c.token((await c.user("alice")).id));
    const fourth = c.open();
    await sleep(100);
    assert.ok(fourth.isOpen);
  } finally {
    await c.close();
  }
});

Deno.test("a token offered with the connection logs in without an auth frame", async () => {
  const c = await startTestNode();
  try {
    const alice = await c.user("alice");
    const client = await c.connect(alice, { via: "subprotocol" });
    assert.equal(client.welcome!.user.id, alice.id);
    assert.equal(client.frames.filter((f) => f.type === "error").length, 0);
    const bad = c.open({ token: "not.a.jwt" });
    const err = await bad.next("error");
    assert.deepEqual([err.id, err.error.code], [null, "token_invalid"]);
    assert.equal((await bad.closed).code, 4001);
  } finally {
    await c.close();
  }
});

Deno.test("a text over 64 KiB of UTF-8 gets frame_too_large and close 1009; 64 KiB exactly is read", async () => {
  const c = await startTestNode();
  try {
    const client = await c.connect(await c.user("alice"));
    const pad = 65_536 - JSON.stringify({ type: "ping", x: "" }).length;
    client.send(JSON.stringify({ type: "ping", x: "a".repeat(pad) }));
    assert.equal((await client.next("error")).error.code, "invalid_request");
    client.send(JSON.stringify({ type: "ping", x: "€".repeat(22_000) }));
    const err = await client.next("error");
    assert.deepEqual([err.id, err.error.code], [null, "frame_too_large"]);
    assert.equal((await client.closed).code, 1009);
  } finally {
    await c.close();
  }
});

Deno.test("a client that leaves its offline sync unread is closed with 4005 before the whole sync is sent", async () => {
  const c = await startTestNode({ chat: { heartbeatMs: 200 } });
  try {
    const alice = await c.user("alice");
    const bob = await c.user("bob");
    await c.befriend(alice, bob);
    for (let k = 0; k < 5; k++) {
      await c.store.insertMessages(
        Array.from({ length: 100 }, (_, i) => ({
          senderId: alice.id,
          recipientId: bob.id,
          clientId: `${k}-${i}`,
          text: "x",
          createdAt: Date.now(),
        })),
      );
    }
    const b = c.open();
    // Over the sync's 1 MiB allowance: the node waits for the client to read.
    b.setUnread(2 * 1024 * 1024);
    b.send({ type: "auth", token: await c.token(bob.id) });
    b.startPinging(50);
    assert.equal((await b.closed).code, 4005);
    assert.ok(b.events("msg.sync").length < 5, "only part of the sync was sent");
  } finally {
    await c.close();
  }
});

Deno.test("a client with more than 8 MiB unread is closed with 4005 at the next frame sent to it", async () => {
  const c = await startTestNode();
  try {
    const a = await c.connect(await c.user("alice"));
    await a.syncMessages();
    a.setUnread(8 * 1024 * 1024 + 1);
    a.send({ type: "ping", id: 1 });
    assert.equal((await a.closed).code, 4005);
    assert.equal(a.events("pong").length, 0);
  } finally {
    await c.close();
  }
});
