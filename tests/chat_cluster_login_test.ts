/**
 * The chat role across a real cluster (as chat_cluster_test.ts): a user
 * logging in again on the other node, under the single-session policy (the
 * first session is kicked) and while a friend's messages are in flight (each
 * reaches the new session exactly once, in order).
 */
import assert from "node:assert/strict";
import { type ChatClient, connect, eventually, sleep, withoutSeq } from "../testing/mod.ts";
import { befriend, connectTo, login, register, startCluster, withLogs } from "./cluster.ts";
import type { WireMessage } from "../proto/protocol.ts";

/** The close code of a kicked session, docs/protocol.md §8. */
const KICKED = 4003;

async function closeAll(clients: (ChatClient | undefined)[]) {
  await Promise.all(clients.map((c) => c?.close()));
}

Deno.test({
  name:
    "single policy: bob logging in again on the other node kicks his first session (4003); presence and messages follow the new session, also when logins race",
  async fn() {
    const cluster = await startCluster({ chat: { sessions: "single" } });
    const clients: ChatClient[] = [];
    try {
      const alice = await register(cluster, "alice");
      const bob = await register(cluster, "bob");
      const a = await connectTo(cluster, alice, "chat-1");
      // bob's clients ack no seq: each new device of his starts where none acked.
      const noAck = { inbox: { ack: false } };
      const b1 = await connectTo(cluster, bob, "chat-2", noAck);
      clients.push(a.client, b1.client);
      await befriend(a, b1);
      const presenceBefore = a.client.events("presence").length;

      // bob's second login, on chat-1 while the first session lives on chat-2.
      const b2 = await connectTo(cluster, bob, "chat-1", noAck);
      clients.push(b2.client);
      const kicked = await b1.client.next("kicked");
      assert.equal(typeof kicked.reason, "string");
      assert.equal((await b1.client.closed).code, KICKED);
      const session2 = b2.client.welcome!.session_id;
      assert.notEqual(session2, b1.client.welcome!.session_id);

      const presence = () =>
        cluster.status.Presence({ id: bob.id, login: "" }, { metadata: cluster.admin.metadata });
      await eventually(async () => {
        const p = await presence();
        return p.online && p.node === "chat-1" && p.session_id === session2;
      }, { what: "presence to point at bob's new session on chat-1" });
      // The old session's close must not remove the new session's presence.
      await sleep(500);
      const p = await presence();
      assert.deepEqual([p.online, p.node, p.session_id], [true, "chat-1", session2]);
      const list = await a.client.request("friend.list");
      assert.deepEqual(list.friends.map((f) => [f.user.id, f.online]), [[bob.id, true]]);
      assert.equal(
        a.client.events("presence").length,
        presenceBefore,
        "a re-login shows friends no offline/online flicker",
      );

      const m = (await a.client.request("msg.send", {
        to: bob.id,
        text: "which one are you?",
        client_id: "k-1",
      })).message;
      assert.deepEqual(withoutSeq((await b2.client.next("msg.new")).message), withoutSeq(m));
      assert.deepEqual(b1.client.events("msg.new"), []);

      // A third login on the same node as the second kicks it too.
      const b3 = await connectTo(cluster, bob, "chat-1", noAck);
      clients.push(b3.client);
      await b2.client.next("kicked");
      assert.equal((await b2.client.closed).code, KICKED);
      const session3 = b3.client.welcome!.session_id;
      await eventually(async () => (await presence()).session_id === session3, {
        what: "presence to point at bob's third session",
      });
      // No device of bob's acked m, so the third session syncs it; m2 comes live.
      assert.deepEqual((await b3.client.syncMessages()).map(withoutSeq), [withoutSeq(m)]);
      const m2 = (await a.client.request("msg.send", {
        to: bob.id,
        text: "and now?",
        client_id: "k-2",
      })).message;
      assert.deepEqual(withoutSeq((await b3.client.next("msg.new")).message), withoutSeq(m2));
      assert.equal(b2.client.events("msg.new").length, 1);

      // Logins racing on both nodes at once: one session survives, and presence names it.
      const tokens = await Promise.all([login(cluster, bob), login(cluster, bob)]);
      for (let round = 0; round < 3; round++) {
        const racing = await Promise.allSettled([
          connect(cluster.nodes.get("chat-1")!.wsUrl, tokens[0].token, { timeoutMs: 10_000 }),
          connect(cluster.nodes.get("chat-2")!.wsUrl, tokens[1].token, { timeoutMs: 10_000 }),
        ]);
        const got = racing.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
        clients.push(...got);
        const refused = racing.flatMap((r) => r.status === "rejected" ? [String(r.reason)] : []);
        for (const why of refused) assert.match(why, /busy|socket_closed/, why);
        assert.ok(got.length >= 1, `no login won: ${refused.join("; ")}`);
        await sleep(500);
        const alive = got.filter((c) => c.isOpen);
        assert.equal(alive.length, 1, `exactly one session stays (round ${round})`);
        for (const c of got.filter((c) => !c.isOpen)) assert.equal(c.closeInfo!.code, KICKED);
        const winner = alive[0].welcome!;
        const now = await presence();
        assert.deepEqual([now.online, now.node, now.session_id], [
          true,
          winner.node,
          winner.session_id,
        ]);
        await Promise.all(got.map((c) => c.close()));
        await eventually(async () => !(await presence()).online, { what: "bob offline" });
      }
    } catch (e) {
      throw withLogs(e, cluster);
    } finally {
      await closeAll(clients);
      await cluster.close();
    }
  },
});

Deno.test({
  name:
    "messages pipelined from chat-1 while bob logs in on chat-2 reach him exactly once and in id order, across the sync and live pushes",
  async fn() {
    // Rate limits are not under test here.
    const cluster = await startCluster({ chat: { msgRate: 1000, msgBurst: 1000 } });
    const clients: ChatClient[] = [];
    try {
      const alice = await register(cluster, "alice");
      const bob = await register(cluster, "bob");
      const a = await connectTo(cluster, alice, "chat-1");
      const b = await connectTo(cluster, bob, "chat-2");
      clients.push(a.client, b.client);
      await befriend(a, b);
      await b.client.close();

      const acks: Promise<WireMessage>[] = [];
      const pipeline = (from: number, to: number) => {
        for (let i = from; i < to; i++) {
          acks.push(
            a.client.request("msg.send", { to: bob.id, text: `m${i}`, client_id: `p-${i}` }, 20_000)
              .then((r) => r.message),
          );
        }
      };
      // 40 before bob is back, 160 more while his session starts.
      pipeline(0, 40);
      await Promise.all(acks);
      let bobClient: ChatClient | null = null;
      const login2 = connectTo(cluster, bob, "chat-2").then((x) => bobClient = x.client);
      // Spread over ~400 ms so that bob's session start falls in the middle.
      for (let i = 40; i < 200; i += 10) {
        pipeline(i, i + 10);
        await sleep(25);
      }
      await login2;
      const b2 = bobClient!;
      clients.push(b2);
      const sent = await Promise.all(acks);
      const ids = sent.map((m) => m.id);
      for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], "acks in send order");

      const received = () =>
        b2.frames.flatMap((f) =>
          f.type === "msg.sync" ? f.messages : f.type === "msg.new" ? [f.message] : []
        );
      await eventually(() => received().length >= sent.length, {
        what: `bob to receive ${sent.length} messages (has ${received().length})`,
      });
      await sleep(300);
      assert.deepEqual(received().map((m) => m.id), ids, "each once, in order, none missing");
      const done = b2.frames.findIndex((f) => f.type === "msg.sync" && f.done);
      const firstNew = b2.frames.findIndex((f) => f.type === "msg.new");
      assert.ok(done >= 0, "the sync finished");
      assert.ok(firstNew === -1 || firstNew > done, "live pushes come after the sync's done");

      // Online: a burst of 100 pipelined messages arrives live, in order, once each.
      await b2.request("msg.ack", { peer: alice.id, delivered: ids[ids.length - 1] });
      const before = b2.events("msg.new").length;
      acks.length = 0;
      pipeline(200, 300);
      const burst = (await Promise.all(acks)).map((m) => m.id);
      await eventually(() => b2.events("msg.new").length - before >= 100, {
        what: "the burst to arrive live",
      });
      await sleep(300);
      assert.deepEqual(b2.events("msg.new").slice(before).map((e) => e.message.id), burst);
    } catch (e) {
      throw withLogs(e, cluster);
    } finally {
      await closeAll(clients);
      await cluster.close();
    }
  },
});
