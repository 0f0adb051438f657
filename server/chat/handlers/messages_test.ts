import assert from "node:assert/strict";
import { startTestNode, type TestNode } from "../_test_node.ts";
import { eventually, RequestError, sleep } from "../../../testing/mod.ts";
import type { User } from "../../store/types.ts";

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RequestError) return e.code;
    throw e;
  }
  return "ok";
}

async function pair(c: TestNode) {
  const alice = await c.user("alice");
  const bob = await c.user("bob");
  await c.befriend(alice, bob);
  const a = await c.connect(alice);
  const b = await c.connect(bob);
  await a.syncMessages();
  await b.syncMessages();
  return { alice, bob, a, b };
}

/** Stores `n` messages from `from` to `to` directly, as if sent while `to` was offline. */
function backlog(c: TestNode, from: User, to: User, n: number, tag = "m") {
  return c.store.insertMessages(
    Array.from({ length: n }, (_, i) => ({
      senderId: from.id,
      recipientId: to.id,
      clientId: `${tag}-${i}`,
      text: `${tag} ${i}`,
      createdAt: Date.now(),
    })),
  );
}

Deno.test("a message is stored, acked to the sender and pushed live; a retry is not stored twice", async () => {
  const c = await startTestNode();
  try {
    const { alice, bob, a, b } = await pair(c);
    const r = await a.request("msg.send", { to: bob.id, text: "hello 世界 🧗", client_id: "c1" });
    assert.equal(r.duplicate, false);
    assert.deepEqual(
      [r.message.from, r.message.to, r.message.text, r.message.client_id],
      [alice.id, bob.id, "hello 世界 🧗", "c1"],
    );
    assert.ok(r.message.id > 0 && Math.abs(r.message.sent_at - Date.now()) < 5000);
    // The result carries the message's seq in the sender's inbox; the push, bob's.
    assert.equal(r.message.seq, 1);
    assert.deepEqual((await b.next("msg.new")).message, { ...r.message, seq: 1 });
    const again = await a.request("msg.send", {
      to: bob.id,
      text: "hello 世界 🧗",
      client_id: "c1",
    });
    assert.equal(again.duplicate, true);
    assert.deepEqual(again.message, r.message);
    // The retry is routed again, and bob's stream drops it: he held seq 1 already.
    b.send({ type: "ping", id: "p" });
    assert.equal((await b.next("pong")).head, 1);
    assert.equal(b.events("msg.new").length, 1);
    assert.equal(await c.store.countMessages(alice.id), 1);
    assert.deepEqual(b.inbox.view().map((m) => m.id), [r.message.id]);
  } finally {
    await c.close();
  }
});

Deno.test("acks beyond what the peer sent, or naming nothing, are rejected and change nothing", async () => {
  const c = await startTestNode();
  try {
    const { alice, bob, a, b } = await pair(c);
    const carol = await c.user("carol");
    const m = (await a.request("msg.send", { to: bob.id, text: "x", client_id: "1" })).message;
    const mine = (await b.request("msg.send", { to: alice.id, text: "y", client_id: "1" })).message;
    assert.equal(
      await code(b.request("msg.ack", { peer: alice.id, read: m.id + 1 })),
      "invalid_ack",
    );
    // bob's own message is not one alice sent him.
    assert.equal(
      await code(b.request("msg.ack", { peer: alice.id, delivered: mine.id })),
      mine.id > m.id ? "invalid_ack" : "ok",
    );
    assert.equal(await code(b.request("msg.ack", { peer: carol.id, read: 1 })), "invalid_ack");
    assert.equal(await code(b.request("msg.ack", { peer: alice.id })), "invalid_request");
    assert.equal(await code(b.request("msg.ack", { peer: bob.id, read: 1 })), "invalid_request");
    const cur = await c.store.cursor(bob.id, alice.id);
    assert.equal(cur.readId, 0);
    assert.equal(a.events("msg.status").length, 0);
    // Acking back in time is not an error and moves nothing.
    await b.request("msg.ack", { peer: alice.id, read: m.id });
    await a.next("msg.status");
    assert.deepEqual(await b.request("msg.ack", { peer: alice.id, delivered: 1 }), {
      delivered_id: m.id,
      read_id: m.id,
    });
  } finally {
    await c.close();
  }
});

Deno.test("messages to strangers, missing users, oneself, or of bad text are refused and not stored", async () => {
  const c = await startTestNode();
  try {
    const { alice, bob, a, b } = await pair(c);
    const carol = await c.user("carol");
    const send = (to: number, text: string, id = crypto.randomUUID()) =>
      code(a.request("msg.send", { to, text, client_id: id }));
    assert.equal(await send(carol.id, "hi"), "not_friends");
    assert.equal(await send(999_999, "hi"), "user_not_found");
    assert.equal(await send(alice.id, "hi"), "invalid_request");
    assert.equal(await send(bob.id, ""), "invalid_request");
    assert.equal(await send(bob.id, " \n\t "), "invalid_request");
    assert.equal(await send(bob.id, "🧗".repeat(4001)), "invalid_request");
    assert.equal(await send(bob.id, "a\ud800b"), "invalid_request");
    assert.equal(
      await code(a.request("msg.send", { to: bob.id, text: "x", client_id: "" })),
      "invalid_request",
    );
    assert.equal(await c.store.countMessages(), 0);
    // 4,000 characters are fine, even when each is two UTF-16 units.
    assert.equal(await send(bob.id, "🧗".repeat(4000)), "ok");
    assert.equal((await b.next("msg.new")).message.text.length, 8000);
  } finally {
    await c.close();
  }
});

Deno.test("a user over the message rate gets rate_limited with retry_after_ms, and nothing is stored", async () => {
  const c = await startTestNode({ chat: { msgRate: 1, msgBurst: 3 } });
  try {
    const { bob, a } = await pair(c);
    for (let i = 0; i < 3; i++) {
      await a.request("msg.send", { to: bob.id, text: `m${i}`, client_id: `k${i}` });
    }
    const err = await a.request("msg.send", { to: bob.id, text: "too fast", client_id: "k3" })
      .catch((e) => e as RequestError);
    assert.ok(err instanceof RequestError);
    assert.equal(err.code, "rate_limited");
    const frame = err.frame as { error: { retry_after_ms?: number } };
    assert.ok(frame.error.retry_after_ms! > 0 && frame.error.retry_after_ms! <= 1000);
    assert.equal(await c.store.countMessages(), 3);
    await sleep(frame.error.retry_after_ms!);
    await a.request("msg.send", { to: bob.id, text: "later", client_id: "k3" });
  } finally {
    await c.close();
  }
});

Deno.test("reconnecting does not refill a user's drained message bucket", async () => {
  const c = await startTestNode({ chat: { msgRate: 0.2, msgBurst: 2 } });
  try {
    const { alice, bob, a } = await pair(c);
    for (let i = 0; i < 2; i++) {
      await a.request("msg.send", { to: bob.id, text: `m${i}`, client_id: `k${i}` });
    }
    await a.close();
    const again = await c.connect(alice);
    await again.syncMessages();
    const err = await again.request("msg.send", { to: bob.id, text: "more", client_id: "k2" })
      .catch((e) => e as RequestError);
    assert.ok(err instanceof RequestError, "the new session got a fresh bucket");
    assert.equal(err.code, "rate_limited");
    assert.equal(await c.store.countMessages(), 2);
  } finally {
    await c.close();
  }
});

Deno.test("history pages by id, oldest first within a page, for friends and former friends only", async () => {
  const c = await startTestNode();
  try {
    const { alice, bob, a } = await pair(c);
    const carol = await c.user("carol");
    await backlog(c, alice, bob, 3, "a");
    await backlog(c, bob, alice, 2, "b");
    const p1 = await a.request("msg.history", { with: bob.id, limit: 3 });
    assert.deepEqual(p1.messages.map((m) => m.text), ["a 2", "b 0", "b 1"]);
    assert.equal(p1.more, true);
    const p2 = await a.request("msg.history", {
      with: bob.id,
      limit: 3,
      before: p1.messages[0].id,
    });
    assert.deepEqual(p2.messages.map((m) => m.text), ["a 0", "a 1"]);
    assert.equal(p2.more, false);
    assert.equal(await code(a.request("msg.history", { with: carol.id })), "not_friends");
    assert.equal(
      await code(a.request("msg.history", { with: carol.id, before: 3 })),
      "not_friends",
    );
    assert.equal(await code(a.request("msg.history", { with: 999_999 })), "user_not_found");
    assert.equal(await code(a.request("msg.history", { with: alice.id })), "invalid_request");
    await c.store.removeFriend(alice.id, bob.id);
    const after = await a.request("msg.history", { with: bob.id });
    assert.equal(after.messages.length, 5);
  } finally {
    await c.close();
  }
});

Deno.test("typing is forwarded to a friend, never stored, and refused for strangers", async () => {
  const c = await startTestNode();
  try {
    const { alice, bob, a, b } = await pair(c);
    const carol = await c.user("carol");
    const cl = await c.connect(carol);
    a.send({ type: "typing", to: bob.id });
    assert.deepEqual(await b.next("typing"), { type: "typing", from: alice.id, active: true });
    a.send({ type: "typing", to: bob.id, active: false });
    assert.equal((await b.next("typing")).active, false);
    a.send({ type: "typing", id: "t", to: carol.id });
    const err = await a.next("error");
    assert.deepEqual([err.id, err.error.code], ["t", "not_friends"]);
    await sleep(50);
    assert.equal(cl.events("typing").length, 0);
    assert.equal(await c.store.countMessages(), 0);
  } finally {
    await c.close();
  }
});

Deno.test("an offline device gets every entry after its cursor at login, in seq order, once, in batches", async () => {
  const c = await startTestNode();
  try {
    const alice = await c.user("alice");
    const bob = await c.user("bob");
    const carol = await c.user("carol");
    await c.befriend(alice, bob);
    await c.befriend(carol, bob);
    // bob's first device starts at his inbox as it is; what comes after is his to sync.
    const first = await c.connect(bob, { device: "phone", inbox: { ack: false } });
    assert.deepEqual(await first.syncMessages(), []);
    await first.close();
    await backlog(c, alice, bob, 150, "a");
    await backlog(c, carol, bob, 100, "c");
    await backlog(c, bob, alice, 10, "b");
    const b = await c.connect(bob, { device: "phone", inbox: { ack: false } });
    assert.deepEqual(
      b.welcome!.unread.map((u) => [u.user_id, u.count]),
      [[alice.id, 150], [carol.id, 100]],
    );
    assert.deepEqual([b.welcome!.cursor, b.welcome!.head], [0, 260]);
    const batches = [];
    for (;;) {
      const f = await b.next("msg.sync");
      batches.push(f);
      if (f.done) break;
    }
    assert.deepEqual(batches.map((f) => f.messages.length), [100, 100, 60]);
    const synced = batches.flatMap((f) => f.messages);
    // Messages to and from bob: his own sent ones too, each at its seq in his inbox.
    assert.deepEqual(synced.map((m) => m.seq), Array.from({ length: 260 }, (_, i) => i + 1));
    assert.equal(new Set(synced.map((m) => m.id)).size, 260);
    assert.equal(synced.filter((m) => m.from === bob.id).length, 10);
    // The device holds up to seq 100: only the rest comes again, on this device.
    assert.deepEqual(await b.request("msg.ack", { seq: 100 }), { seq: 100 });
    await b.close();
    const again = await c.connect(bob, { device: "phone", inbox: { ack: false } });
    assert.equal(again.welcome!.cursor, 100);
    const rest = await again.syncMessages();
    assert.deepEqual(rest.map((m) => m.seq), Array.from({ length: 160 }, (_, i) => i + 101));
    assert.deepEqual(rest[0], synced[100]);
  } finally {
    await c.close();
  }
});

Deno.test("pipelined msg.send frames are acked in request order, errors in their place, pushed once in id order", async () => {
  const c = await startTestNode();
  try {
    const { alice, bob, a, b } = await pair(c);
    const carol = await c.user("carol");
    // Sent back to back without waiting: they share write batches.
    const frames: Record<string, unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      if (i === 10) frames.push({ to: carol.id, text: "not a friend", client_id: "x" });
      if (i === 20) frames.push({ to: bob.id, text: "again", client_id: "p-5" });
      if (i === 30) frames.push({ to: bob.id, text: "   ", client_id: "blank" });
      frames.push({ to: bob.id, text: `p ${i}`, client_id: `p-${i}` });
    }
    const mark = a.frames.length;
    frames.forEach((f, i) => a.send({ type: "msg.send", id: i, ...f }));
    type Reply = {
      type: string;
      id?: unknown;
      data?: { duplicate: boolean; message: { id: number } };
      error?: { code: string };
    };
    const answered = () =>
      (a.frames.slice(mark) as Reply[]).filter((f) => f.type === "result" || f.type === "error");
    await eventually(() => answered().length >= frames.length, { what: "every reply" });
    const replies = answered().map((f) => ({
      id: f.id,
      type: f.type,
      code: f.error?.code,
      dup: f.data?.duplicate,
      mid: f.data?.message.id,
    }));
    assert.deepEqual(replies.map((r) => r.id), frames.map((_, i) => i));
    assert.deepEqual(replies.filter((r) => r.type === "error").map((r) => [r.id, r.code]), [
      [10, "not_friends"],
      [32, "invalid_request"],
    ]);
    const dup = replies[21];
    assert.equal(dup.dup, true);
    assert.equal(dup.mid, replies[5].mid);
    const fresh = replies.filter((r) => r.type === "result" && !r.dup).map((r) => r.mid!);
    assert.equal(fresh.length, 40);
    assert.deepEqual(fresh, [...fresh].sort((x, y) => x - y));
    // Bob gets each new message once, in id order, and nothing for the retry.
    await eventually(() => b.events("msg.new").length >= 40);
    await sleep(100);
    const pushed = b.events("msg.new").map((e) => e.message);
    assert.deepEqual(pushed.map((m) => m.id), fresh);
    assert.deepEqual(pushed.map((m) => m.text), Array.from({ length: 40 }, (_, i) => `p ${i}`));
    assert.equal(await c.store.countMessages(alice.id), 40);
  } finally {
    await c.close();
  }
});
