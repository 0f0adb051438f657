/**
 * The chat role across a real cluster: verify, status, gate and two chat
 * nodes as separate processes on MySQL + Redis + SMTP, driven only through
 * the gate's HTTP API and the client protocol of docs/protocol.md (plus the
 * status role's admin gRPC to look at presence and nodes). Logging in again
 * on the other node is in chat_cluster_login_test.ts.
 */
import assert from "node:assert/strict";
import { type ChatClient, eventually, sleep, withoutSeq } from "../testing/mod.ts";
import {
  befriend,
  type Cluster,
  connectTo,
  fullHistory,
  loginAndConnect,
  register,
  startCluster,
  withLogs,
} from "./cluster.ts";

async function nodesByName(cluster: Cluster) {
  const { nodes } = await cluster.status.ListNodes({}, { metadata: cluster.admin.metadata });
  return new Map(nodes.map((n) => [n.name, n]));
}

async function closeAll(clients: (ChatClient | undefined)[]) {
  await Promise.all(clients.map((c) => c?.close()));
}

Deno.test({
  name:
    "alice on chat-1 and bob on chat-2 (placed by the gate) befriend, message live, and see receipts, typing and presence",
  async fn() {
    const cluster = await startCluster({ start: ["chat-1"], chat: { heartbeatMs: 2000 } });
    const clients: ChatClient[] = [];
    try {
      const alice = await register(cluster, "alice");
      const bob = await register(cluster, "bob");

      // chat-1 is the only node: the gate must send alice there.
      const a = await loginAndConnect(cluster, alice);
      clients.push(a.client);
      assert.equal(a.login.chat_url, cluster.nodes.get("chat-1")!.wsUrl);
      const aw = a.client.welcome!;
      assert.equal(aw.node, "chat-1");
      assert.equal(aw.user.id, alice.id);
      assert.equal(aw.user.email, alice.email);
      assert.equal(aw.heartbeat_ms, 2000);
      assert.equal(aw.protocol, 2);
      assert.deepEqual(aw.unread, []);
      assert.equal(aw.pending_requests, 0);
      assert.deepEqual(await a.client.syncMessages(), []);

      // Once chat-2 is up and chat-1 carries alice, chat-2 is the least loaded.
      await cluster.startChat("chat-2");
      await eventually(async () => {
        const n = await nodesByName(cluster);
        return n.get("chat-1")?.sessions === 1 && n.get("chat-2")?.state === "up";
      }, { what: "status to list chat-2 and chat-1 with one session" });
      const b = await loginAndConnect(cluster, bob, { via: "subprotocol" });
      clients.push(b.client);
      assert.equal(b.login.chat_url, cluster.nodes.get("chat-2")!.wsUrl);
      assert.equal(b.client.welcome!.node, "chat-2");
      assert.equal(b.client.protocol, "parley.v1");
      await b.client.syncMessages();

      // Search by name prefix; never oneself, never an e-mail. An exact e-mail finds only a
      // user who opted in (findable_by_email, off by default).
      const byName = await a.client.request("user.search", { query: "bo" });
      assert.deepEqual(byName.users.map((u) => u.id), [bob.id]);
      assert.equal("email" in byName.users[0], false);
      const byMail = await a.client.request("user.search", { query: bob.email });
      assert.deepEqual(byMail.users, []);
      const self = await a.client.request("user.search", { query: "ali" });
      assert.deepEqual(self.users, []);

      // Friend request with a greeting, seen live on the other node.
      const sent = await a.client.request("friend.request", {
        user_id: bob.id,
        greeting: "hi bob, it's alice",
      });
      assert.equal(sent.status, "sent");
      assert.equal(sent.user.id, bob.id);
      const fr = await b.client.next("friend.request");
      assert.equal(fr.request.from.id, alice.id);
      assert.equal(fr.request.to.id, bob.id);
      assert.equal(fr.request.greeting, "hi bob, it's alice");
      const pendingB = await b.client.request("friend.requests");
      assert.deepEqual(pendingB.incoming.map((r) => [r.from.id, r.greeting]), [
        [alice.id, "hi bob, it's alice"],
      ]);
      assert.deepEqual(pendingB.outgoing, []);
      const pendingA = await a.client.request("friend.requests");
      assert.deepEqual(pendingA.outgoing.map((r) => r.to.id), [bob.id]);

      const accepted = await b.client.request("friend.accept", { user_id: alice.id });
      assert.equal(accepted.friend.user.id, alice.id);
      assert.equal(accepted.friend.online, true);
      const fa = await a.client.next("friend.accepted");
      assert.equal(fa.friend.user.id, bob.id);
      assert.equal(fa.friend.online, true);
      const listA = await a.client.request("friend.list");
      assert.deepEqual(listA.friends.map((f) => [f.user.id, f.online]), [[bob.id, true]]);
      assert.deepEqual((await b.client.request("friend.requests")).incoming, []);

      // alice → bob, live across nodes, then delivered and read receipts back.
      const m1 = (await a.client.request("msg.send", {
        to: bob.id,
        text: "hello bob 🧗",
        client_id: "a-1",
      })).message;
      assert.equal(m1.from, alice.id);
      assert.equal(m1.to, bob.id);
      assert.equal(m1.text, "hello bob 🧗");
      const n1 = await b.client.next("msg.new");
      assert.deepEqual(withoutSeq(n1.message), withoutSeq(m1));
      assert.deepEqual([m1.seq, n1.message.seq], [1, 1], "each in its own inbox");

      const ackD = await b.client.request("msg.ack", { peer: alice.id, delivered: m1.id });
      assert.deepEqual(ackD, { delivered_id: m1.id, read_id: 0 });
      const st1 = await a.client.next("msg.status");
      assert.deepEqual(st1, { type: "msg.status", peer: bob.id, delivered_id: m1.id, read_id: 0 });
      const ackR = await b.client.request("msg.ack", { peer: alice.id, read: m1.id });
      assert.deepEqual(ackR, { delivered_id: m1.id, read_id: m1.id });
      // (bob's client acks seq too: a delivered receipt derived from it may come first.)
      const st2 = await a.client.next("msg.status", (e) => e.read_id > 0);
      assert.deepEqual(st2, {
        type: "msg.status",
        peer: bob.id,
        delivered_id: m1.id,
        read_id: m1.id,
      });

      // bob → alice the other way.
      const m2 = (await b.client.request("msg.send", {
        to: alice.id,
        text: "hi alice",
        client_id: "b-1",
      })).message;
      assert.ok(m2.id > m1.id, "ids increase in the order messages are stored");
      assert.deepEqual(withoutSeq((await a.client.next("msg.new")).message), withoutSeq(m2));
      await a.client.request("msg.ack", { peer: bob.id, delivered: m2.id, read: m2.id });
      assert.deepEqual(await b.client.next("msg.status", (e) => e.read_id > 0), {
        type: "msg.status",
        peer: alice.id,
        delivered_id: m2.id,
        read_id: m2.id,
      });

      const hist = await a.client.request("msg.history", { with: bob.id });
      assert.deepEqual(hist.messages, [m1, m2].map(withoutSeq));
      assert.equal(hist.more, false);
      assert.equal(hist.peer_delivered_id, m1.id);
      assert.equal(hist.peer_read_id, m1.id);

      // Typing is forwarded across nodes.
      a.client.send({ type: "typing", to: bob.id, active: true });
      assert.deepEqual(await b.client.next("typing"), {
        type: "typing",
        from: alice.id,
        active: true,
      });
      a.client.send({ type: "typing", to: bob.id, active: false });
      assert.deepEqual(await b.client.next("typing"), {
        type: "typing",
        from: alice.id,
        active: false,
      });

      // Presence: bob leaves, then comes back through the gate.
      await b.client.close();
      const off = await a.client.next("presence", (p) => p.user_id === bob.id);
      assert.equal(off.online, false);
      assert.equal(typeof off.last_seen, "number");
      const listOff = await a.client.request("friend.list");
      assert.equal(listOff.friends[0].online, false);
      assert.equal(typeof listOff.friends[0].last_seen, "number");

      const b2 = await loginAndConnect(cluster, bob);
      clients.push(b2.client);
      const on = await a.client.next("presence", (p) => p.user_id === bob.id);
      assert.deepEqual(on, { type: "presence", user_id: bob.id, online: true, last_seen: null });
      // A new device of bob's starts where the first one acked (its client acks seq).
      assert.deepEqual(await b2.client.syncMessages(), [], "everything was acked");
      const m3 = (await a.client.request("msg.send", {
        to: bob.id,
        text: "welcome back",
        client_id: "a-2",
      })).message;
      assert.deepEqual(withoutSeq((await b2.client.next("msg.new")).message), withoutSeq(m3));
      // The closed first session of bob got nothing after it closed.
      assert.equal(b.client.events("msg.new").length, 1);
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
    "bob offline: alice's 30 messages are stored, synced to bob's device once each in order with unread counts, and not re-sent after it acks their seq; carol's request waits for him",
  async fn() {
    const cluster = await startCluster();
    const clients: ChatClient[] = [];
    try {
      const alice = await register(cluster, "alice");
      const bob = await register(cluster, "bob");
      const a = await connectTo(cluster, alice, "chat-1");
      const b = await connectTo(cluster, bob, "chat-2");
      clients.push(a.client, b.client);
      await befriend(a, b);
      await b.client.close();
      await a.client.next("presence", (p) => p.user_id === bob.id && !p.online);

      const sent = [];
      for (let i = 0; i < 30; i++) {
        const r = await a.client.request("msg.send", {
          to: bob.id,
          text: `offline message ${i}`,
          client_id: `off-${i}`,
        });
        assert.equal(r.duplicate, false);
        sent.push(r.message);
      }
      for (let i = 1; i < sent.length; i++) assert.ok(sent[i].id > sent[i - 1].id);
      const last = sent[sent.length - 1].id;

      // carol asks the offline bob to be friends.
      const carol = await register(cluster, "carol");
      const c = await connectTo(cluster, carol, "chat-1");
      clients.push(c.client);
      const asked = await c.client.request("friend.request", { user_id: bob.id, greeting: "hi!" });
      assert.equal(asked.status, "sent");

      // bob's laptop: a device of its own, whose acks this test makes by hand.
      const laptop = { device: "bob-laptop", inbox: { ack: false } };
      // First login: every message once, in order, after a welcome that counts them.
      const b1 = await loginAndConnect(cluster, bob, laptop);
      clients.push(b1.client);
      assert.deepEqual(b1.client.welcome!.unread, [{
        user_id: alice.id,
        count: 30,
        last_id: last,
      }]);
      assert.equal(b1.client.welcome!.pending_requests, 1);
      const pending = await b1.client.request("friend.requests");
      assert.deepEqual(pending.incoming.map((r) => [r.from.id, r.greeting]), [[carol.id, "hi!"]]);
      await b1.client.request("friend.decline", { user_id: carol.id });
      assert.deepEqual(await c.client.next("friend.declined"), {
        type: "friend.declined",
        user_id: bob.id,
      });
      const synced = await b1.client.syncMessages();
      assert.deepEqual(synced.map(withoutSeq), sent.map(withoutSeq));
      assert.deepEqual(synced.map((m) => m.seq), sent.map((_, i) => i + 1), "bob's seqs");
      await sleep(300);
      assert.deepEqual(b1.client.events("msg.new"), [], "synced messages are not pushed again");
      const list = await b1.client.request("friend.list");
      assert.equal(list.friends[0].unread, 30);

      // Not acked: the device's next login syncs the same messages again (at least once).
      await b1.client.close();
      const b2 = await loginAndConnect(cluster, bob, laptop);
      clients.push(b2.client);
      assert.deepEqual(await b2.client.syncMessages(), synced);
      // The device holds them all: its seq ack moves its cursor, and alice hears they arrived.
      assert.deepEqual(await b2.client.request("msg.ack", { seq: 30 }), { seq: 30 });
      assert.deepEqual(
        await a.client.next("msg.status"),
        { type: "msg.status", peer: bob.id, delivered_id: last, read_id: 0 },
      );

      // Acked: nothing is re-sent to that device; still unread.
      await b2.client.close();
      const b3 = await loginAndConnect(cluster, bob, laptop);
      clients.push(b3.client);
      assert.deepEqual(await b3.client.syncMessages(), []);
      assert.deepEqual(b3.client.welcome!.unread, [{
        user_id: alice.id,
        count: 30,
        last_id: last,
      }]);

      // Read the first ten: the read state survives a reconnect.
      const tenth = sent[9].id;
      await b3.client.request("msg.ack", { peer: alice.id, read: tenth });
      assert.deepEqual(
        await a.client.next("msg.status"),
        { type: "msg.status", peer: bob.id, delivered_id: last, read_id: tenth },
      );
      await b3.client.close();
      const b4 = await loginAndConnect(cluster, bob, laptop);
      clients.push(b4.client);
      assert.deepEqual(await b4.client.syncMessages(), []);
      assert.deepEqual(b4.client.welcome!.unread, [{
        user_id: alice.id,
        count: 20,
        last_id: last,
      }]);
      assert.equal((await b4.client.request("friend.list")).friends[0].unread, 20);
      const hist = await a.client.request("msg.history", { with: bob.id, limit: 100 });
      assert.equal(hist.peer_delivered_id, last);
      assert.equal(hist.peer_read_id, tenth);

      // A retry of an old client_id stores nothing; routed again, bob's session drops it by
      // seq (his device holds it), so he sees it no second time.
      const again = await a.client.request("msg.send", {
        to: bob.id,
        text: "offline message 5",
        client_id: "off-5",
      });
      assert.equal(again.duplicate, true);
      assert.deepEqual(again.message, sent[5]);
      const fresh = (await a.client.request("msg.send", {
        to: bob.id,
        text: "now you are online",
        client_id: "on-1",
      })).message;
      const got = (await b4.client.next("msg.new")).message;
      assert.deepEqual(withoutSeq(got), withoutSeq(fresh));
      assert.equal(got.seq, 31);
      assert.equal(b4.client.events("msg.new").length, 1, "the duplicate was not pushed");
      const all = await fullHistory(a.client, bob.id);
      assert.deepEqual(all, [...sent, fresh].map(withoutSeq));
    } catch (e) {
      throw withLogs(e, cluster);
    } finally {
      await closeAll(clients);
      await cluster.close();
    }
  },
});
