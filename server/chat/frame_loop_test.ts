/**
 * The frame loop's promises to clients: every request gets exactly one
 * answer, a result or an error, even when Redis goes away under a node
 * (a private redis-server, stopped mid-test); and a node whose store falls
 * behind stops reading instead of queueing without end, losing nothing.
 */
import assert from "node:assert/strict";
import { haveRedisServer, startRedisServer } from "../engine/_redis_servers.ts";
import { startTestNode, type TestNode } from "./_test_node.ts";
import { MessageWriter } from "./writer.ts";

/**
 * Stalls the node's store until `release()`, behind a writer of batches of
 * 2 that holds at most `maxBacklog` rows.
 */
function stallStore(c: TestNode, maxBacklog: number): { release(): void } {
  const { promise: stalled, resolve: release } = Promise.withResolvers<void>();
  const insertMessages = c.store.insertMessages.bind(c.store);
  c.store.insertMessages = async (inputs) => {
    await stalled;
    return insertMessages(inputs);
  };
  c.ctx.writer = new MessageWriter(c.store, { maxBatch: 2, lanes: 1, maxBacklog });
  return { release };
}

Deno.test("a store that falls behind holds the senders' reading, and every message is stored and acked in order", async () => {
  const c = await startTestNode({ chat: { msgRate: 1000, msgBurst: 1000 } });
  let release = () => {};
  try {
    const [alice, bob] = await Promise.all(["alice", "bob"].map((n) => c.user(n)));
    await c.befriend(alice, bob);
    const a = await c.connect(alice, { ping: false });
    const b = await c.connect(bob, { ping: false });
    await a.syncMessages();
    await b.syncMessages();
    // The store stalls until the test lets it go; the writer holds at most 6 rows.
    ({ release } = stallStore(c, 6));
    const send = (i: number) =>
      a.request("msg.send", { to: bob.id, text: `m${i}`, client_id: `c${i}` }, 10_000);
    const settle = () => new Promise((r) => setTimeout(r, 20));
    // A first burst goes past the bound: all of it was read before the writer saw it.
    const sent = Array.from({ length: 10 }, (_, i) => send(i));
    // (Awaited below; a failure before then is the assertion's to report.)
    for (const p of sent) p.catch(() => {});
    while (c.ctx.writer.backlog < 10) await settle();
    assert.ok(a.readingPaused(), "alice's socket is no longer read");
    // What comes next stays unread (in TCP, on a real socket) while the store is behind.
    for (let i = 10; i < 40; i++) sent.push(send(i));
    for (const p of sent) p.catch(() => {});
    await settle();
    assert.equal(c.ctx.writer.backlog, 10);
    // Bob's frames are still read: only senders are held.
    b.send({ type: "ping", id: "b" });
    await b.next("pong");
    release();
    const ids = (await Promise.all(sent)).map((r) => r.message.id);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y), "acked in the order sent");
    const texts = [];
    for (let i = 0; i < 40; i++) texts.push((await b.next("msg.new")).message.text);
    assert.deepEqual(texts, Array.from({ length: 40 }, (_, i) => `m${i}`));
    assert.equal(a.readingPaused(), false);
    assert.equal(c.ctx.writer.backlog, 0);
    assert.equal(await c.store.countMessages(), 40);
  } finally {
    release(); // (a failed assertion must not leave the node's writer stalled)
    await c.close();
  }
});

Deno.test("a session the node holds for its store is not closed for silence; silence after the hold still counts", async () => {
  // Heartbeat 1 s: a session silent for 3 s is closed.
  const c = await startTestNode({ chat: { heartbeatMs: 1000, msgRate: 1000, msgBurst: 1000 } });
  let release = () => {};
  try {
    const [alice, bob] = await Promise.all(["alice", "bob"].map((n) => c.user(n)));
    await c.befriend(alice, bob);
    const a = await c.connect(alice, { ping: false });
    await a.syncMessages();
    ({ release } = stallStore(c, 2));
    const sent = Array.from(
      { length: 4 },
      (_, i) => a.request("msg.send", { to: bob.id, text: `m${i}`, client_id: `c${i}` }, 20_000),
    );
    for (const p of sent) p.catch(() => {});
    let state = "open";
    a.closed.then((info) => state = `closed ${info.code}`);
    // Held for 4 s, longer than 3 heartbeats of the client's silence.
    await new Promise((r) => setTimeout(r, 4000));
    assert.ok(a.readingPaused());
    assert.equal(state, "open");
    release();
    assert.equal((await Promise.all(sent)).length, 4);
    // The client now stays silent: the sweep closes it as usual.
    assert.equal((await a.closed).code, 4004);
  } finally {
    release();
    await c.close();
  }
});

Deno.test({
  name: "during a Redis outage every request gets one result or one error, never both",
  ignore: !(await haveRedisServer()),
  async fn() {
    const redis = await startRedisServer();
    const c = await startTestNode({ engineUrl: `redis://127.0.0.1:${redis.port}?prefix=t:` });
    try {
      const [alice, bob, carol, dave] = await Promise.all(
        ["alice", "bob", "carol", "dave"].map((n) => c.user(n)),
      );
      await c.befriend(alice, bob);
      await c.befriend(alice, dave);
      await c.store.createFriendRequest(carol.id, alice.id, "");
      const [fromBob] = await c.store.insertMessages([
        { senderId: bob.id, recipientId: alice.id, clientId: "b1", text: "hi", createdAt: 1 },
      ]);
      // bob stays offline: routing to him needs presence, which lives in Redis.
      const a = await c.connect(alice, { ping: false });
      const d = await c.connect(dave, { ping: false });
      await a.syncMessages();
      await d.syncMessages();
      await redis.stop();

      const requests: Record<string, unknown>[] = [
        { type: "msg.send", to: bob.id, text: "to an offline friend", client_id: "1" },
        { type: "msg.send", to: dave.id, text: "to a friend on this node", client_id: "2" },
        { type: "msg.ack", peer: bob.id, delivered: fromBob.message.id, read: fromBob.message.id },
        { type: "typing", to: bob.id },
        { type: "friend.request", user_id: carol.id },
        { type: "friend.remove", user_id: dave.id },
      ];
      requests.forEach((r, i) => a.send({ ...r, id: i }));
      // Replies come in request order: the pong comes after every answer above.
      a.send({ type: "ping", id: "last" });
      await a.next("pong", undefined, 15_000);
      const answers = a.frames.filter((f) =>
        (f.type === "result" || f.type === "error") && typeof f.id === "number"
      ) as { type: string; id: number }[];
      const byId = requests.map((_, i) => answers.filter((f) => f.id === i).map((f) => f.type));
      for (const [i, got] of byId.entries()) {
        const expected = requests[i].type === "typing" ? [["error"], []] : [["result"], ["error"]];
        assert.ok(
          expected.some((e) => JSON.stringify(e) === JSON.stringify(got)),
          `${requests[i].type} (id ${i}) got ${JSON.stringify(got)}`,
        );
      }
      // What needs only the store still works: both messages were stored and acked.
      assert.deepEqual(byId[0], ["result"]);
      assert.deepEqual(byId[1], ["result"]);
      assert.equal((await d.next("msg.new")).message.text, "to a friend on this node");
      // (bob's message to alice counts too.)
      assert.equal(await c.store.countMessages(alice.id), 3);
    } finally {
      await c.close();
      await redis.stop();
    }
  },
});
