/**
 * The frame loop's promise to clients: every request gets exactly one
 * answer, a result or an error, even when Redis goes away under a node
 * (a private redis-server, stopped mid-test).
 */
import assert from "node:assert/strict";
import { haveRedisServer, startRedisServer } from "../engine/_redis_servers.ts";
import { startTestNode } from "./_test_node.ts";

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
