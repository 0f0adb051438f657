/**
 * Chat nodes in one process (a real status role, real gRPC between the
 * nodes, real WebSockets): messages, receipts, friend lists and kicks that
 * cross nodes, and routing after a user moved. One node's logic on fake
 * connections is tested beside its modules in server/chat/.
 */
import assert from "node:assert/strict";
import { startCluster, type TestCluster } from "../server/chat/_test_kit.ts";
import { type ChatClient, eventually, type RequestError, sleep } from "../testing/mod.ts";
import type { User } from "../server/store/types.ts";
import { getPresence } from "../server/engine/presence.ts";

async function pair(c: TestCluster, nodes: [number, number]) {
  const alice = await c.user("alice");
  const bob = await c.user("bob");
  await c.befriend(alice, bob);
  const a = await c.connect(alice, { node: nodes[0] });
  const b = await c.connect(bob, { node: nodes[1] });
  await a.syncMessages();
  await b.syncMessages();
  return { alice, bob, a, b };
}

/** Stores `n` messages from `from` to `to` directly, as if sent while `to` was offline. */
function backlog(c: TestCluster, from: User, to: User, n: number, tag = "m") {
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

Deno.test("messages cross nodes live, and receipts come back as msg.status", async () => {
  const c = await startCluster();
  try {
    await c.addNode();
    const { bob, alice, a, b } = await pair(c, [0, 1]);
    const sent = [];
    for (let i = 0; i < 5; i++) {
      sent.push(
        (await a.request("msg.send", { to: bob.id, text: `m${i}`, client_id: `k${i}` })).message,
      );
    }
    const got = [];
    for (let i = 0; i < 5; i++) got.push((await b.next("msg.new")).message);
    // The same messages, each at its place in bob's inbox (alice's results carry hers).
    assert.deepEqual(got.map(({ seq: _, ...m }) => m), sent.map(({ seq: _, ...m }) => m));
    assert.deepEqual(got.map((m) => m.seq), [1, 2, 3, 4, 5]);
    assert.deepEqual(sent.map((m) => m.seq), [1, 2, 3, 4, 5]);
    const ack = await b.request("msg.ack", {
      peer: alice.id,
      delivered: sent[4].id,
      read: sent[2].id,
    });
    assert.deepEqual(ack, { delivered_id: sent[4].id, read_id: sent[2].id });
    const st = await a.next("msg.status");
    assert.deepEqual(st, {
      type: "msg.status",
      peer: bob.id,
      delivered_id: sent[4].id,
      read_id: sent[2].id,
    });
    // Read state survives a reconnect: two unread left. bob's client acked seq 5 as it
    // closed, so a new device of his starts past what it held.
    await b.close();
    const b2 = await c.connect(bob, { node: 1 });
    assert.deepEqual(b2.welcome!.unread, [{ user_id: alice.id, count: 2, last_id: sent[4].id }]);
    assert.deepEqual(await b2.syncMessages(), []);
    const h = await a.request("msg.history", { with: bob.id });
    assert.deepEqual([h.peer_delivered_id, h.peer_read_id], [sent[4].id, sent[2].id]);
  } finally {
    await c.close();
  }
});

Deno.test("messages sent while the recipient's sync runs arrive after it, each exactly once", async () => {
  const c = await startCluster({ msgRate: 10_000, msgBurst: 10_000 });
  try {
    await c.addNode();
    const alice = await c.user("alice");
    const bob = await c.user("bob");
    await c.befriend(alice, bob);
    const a = await c.connect(alice, { node: 1 });
    await backlog(c, alice, bob, 600, "old");
    let stop = false;
    const sending = (async () => {
      let i = 0;
      while (!stop && i < 300) {
        await a.request("msg.send", { to: bob.id, text: `new ${i}`, client_id: `n${i}` });
        i++;
      }
      return i;
    })();
    await sleep(5);
    const b: ChatClient = await c.connect(bob);
    await b.syncMessages();
    await sleep(50);
    stop = true;
    const sentNew = await sending;
    b.send({ type: "ping", id: "end" });
    await b.next("pong");
    await sleep(200);
    const total = 600 + sentNew;
    const seen = [];
    let doneAt = -1;
    for (const [i, f] of b.frames.entries()) {
      if (f.type === "msg.sync") {
        seen.push(...f.messages.map((m) => m.id));
        if (f.done) doneAt = i;
      }
      if (f.type === "msg.new") {
        assert.ok(doneAt >= 0 && i > doneAt, "a msg.new came before the sync was done");
        seen.push(f.message.id);
      }
    }
    assert.equal(seen.length, total, "every message once");
    assert.equal(new Set(seen).size, total);
    assert.deepEqual(seen, [...seen].sort((x, y) => x - y));
  } finally {
    await c.close();
  }
});

Deno.test("a user who moved to another node gets the next message live, though the sender's node cached the old one", async () => {
  const c = await startCluster();
  try {
    await c.addNode();
    await c.addNode();
    const { bob, a, b } = await pair(c, [0, 1]);
    const first = await a.request("msg.send", { to: bob.id, text: "one", client_id: "k1" });
    assert.equal((await b.next("msg.new")).message.id, first.message.id);
    // Node 0 now trusts "bob is on node 1" for a while; bob moves to node 2 at once.
    await b.close();
    const b2 = await c.connect(bob, { node: 2 });
    await b2.syncMessages();
    const second = await a.request("msg.send", { to: bob.id, text: "two", client_id: "k2" });
    const got = await b2.next("msg.new", undefined, 3000);
    assert.equal(got.message.id, second.message.id);
    await sleep(200);
    assert.equal(b2.events("msg.new").length, 1);
  } finally {
    await c.close();
  }
});

Deno.test("friend.list shows online state across nodes, last seen and unread counts", async () => {
  const c = await startCluster();
  try {
    await c.addNode();
    const alice = await c.user("alice");
    const bob = await c.user("bob");
    const carol = await c.user("carol");
    await c.befriend(alice, bob);
    await c.befriend(alice, carol);
    const b = await c.connect(bob, { node: 1 });
    await b.request("msg.send", { to: alice.id, text: "one", client_id: "1" });
    await b.request("msg.send", { to: alice.id, text: "two", client_id: "2" });
    const cl = await c.connect(carol);
    await cl.close();
    const a = await c.connect(alice);
    const list = (await a.request("friend.list")).friends;
    assert.deepEqual(list.map((f) => [f.user.name, f.online, f.unread]), [
      ["bob", true, 2],
      ["carol", false, 0],
    ]);
    assert.equal(list[0].last_seen, null);
    assert.ok(list[1].last_seen! > 0);
  } finally {
    await c.close();
  }
});

Deno.test("single policy: a login on another node kicks the session there over gRPC", async () => {
  const c = await startCluster({ sessions: "single" });
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

Deno.test("single policy: moving to another node does not refill the message bucket, whether the user reconnects or logs in there while still connected", async () => {
  const c = await startCluster({ msgRate: 0.2, msgBurst: 3, sessions: "single" });
  try {
    await c.addNode();
    await c.addNode();
    const [alice, bob, carol] = [await c.user("alice"), await c.user("bob"), await c.user("carol")];
    await c.befriend(alice, bob);
    await c.befriend(carol, bob);
    const send = (client: ChatClient, i: number) =>
      client.request("msg.send", { to: bob.id, text: `m${i}`, client_id: `k${i}` }).then(
        () => "ok",
        (e: RequestError) => e.code,
      );
    // alice drains her bucket on node 1, disconnects, and reconnects to node 2.
    const a = await c.connect(alice, { node: 0 });
    for (let i = 0; i < 3; i++) assert.equal(await send(a, i), "ok");
    await a.close();
    // The session's end saved the bucket (a real reconnect takes longer than that one write).
    await eventually(() => c.engine.get(`bucket:msg:${alice.id}`));
    const a2 = await c.connect(alice, { node: 1 });
    await a2.syncMessages();
    assert.equal(await send(a2, 3), "rate_limited", "node 2 gave alice a fresh bucket");
    // carol drains hers on node 2 and, still connected, logs in on node 3: the
    // kick over gRPC answers only once node 2 saved her bucket.
    const c2 = await c.connect(carol, { node: 1 });
    for (let i = 0; i < 3; i++) assert.equal(await send(c2, i), "ok");
    const c3 = await c.connect(carol, { node: 2 });
    assert.equal((await c2.next("kicked")).reason, "logged in elsewhere");
    await c3.syncMessages();
    assert.equal(await send(c3, 3), "rate_limited", "node 3 gave carol a fresh bucket");
    assert.equal(await c.store.countMessages(alice.id), 3);
    assert.equal(await c.store.countMessages(carol.id), 3);
  } finally {
    await c.close();
  }
});
