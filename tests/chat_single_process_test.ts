/**
 * The chat flow with every role in one process on the embedded backends
 * (sqlite in a temp data dir, the memory engine) and mail over real SMTP:
 * friends, live messages, receipts, typing, offline sync and a kick, through
 * the gate's HTTP API and the client protocol only.
 */
import assert from "node:assert/strict";
import { type ChatClient, eventually, sleep, withoutSeq } from "../testing/mod.ts";
import {
  befriend,
  loginAndConnect,
  type Parley,
  register,
  startSingle,
  withLogs,
} from "./cluster.ts";

Deno.test({
  name:
    "with every role in one process on sqlite + memory, friends message live, see receipts, sync offline messages and, under the single policy, kick old sessions",
  async fn() {
    const parley: Parley = await startSingle({ chat: { sessions: "single" } });
    const clients: ChatClient[] = [];
    try {
      const alice = await register(parley, "alice");
      const bob = await register(parley, "bob");
      const solo = parley.nodes.get("solo")!;

      const a = await loginAndConnect(parley, alice);
      const b = await loginAndConnect(parley, bob, { via: "subprotocol" });
      clients.push(a.client, b.client);
      assert.equal(a.login.chat_url, solo.wsUrl);
      assert.equal(a.client.welcome!.node, "solo");
      // One process, one memory engine: every session is here, so routing needs no presence or gRPC.
      const listening = parley.logs().split("\n").find((l) => l.includes("chat node listening"));
      assert.match(listening ?? "", /"routing":"in-process"/);
      await a.client.syncMessages();
      await b.client.syncMessages();

      const found = await a.client.request("user.search", { query: "b" });
      assert.deepEqual(found.users.map((u) => u.id), [bob.id]);
      await befriend({ client: a.client, account: alice }, { client: b.client, account: bob });

      // Live both ways, with receipts.
      // (Results and pushes carry the seq in each user's own inbox; history none.)
      const m1 = withoutSeq(
        (await a.client.request("msg.send", { to: bob.id, text: "hi bob", client_id: "a1" }))
          .message,
      );
      assert.deepEqual(withoutSeq((await b.client.next("msg.new")).message), m1);
      await b.client.request("msg.ack", { peer: alice.id, delivered: m1.id, read: m1.id });
      // (bob's client also acks the seq, from which a delivered receipt may come first.)
      assert.deepEqual(await a.client.next("msg.status", (e) => e.read_id > 0), {
        type: "msg.status",
        peer: bob.id,
        delivered_id: m1.id,
        read_id: m1.id,
      });
      const m2 = withoutSeq(
        (await b.client.request("msg.send", { to: alice.id, text: "hi alice", client_id: "b1" }))
          .message,
      );
      assert.deepEqual(withoutSeq((await a.client.next("msg.new")).message), m2);
      await a.client.request("msg.ack", { peer: bob.id, delivered: m2.id });
      assert.deepEqual(await b.client.next("msg.status"), {
        type: "msg.status",
        peer: alice.id,
        delivered_id: m2.id,
        read_id: 0,
      });
      a.client.send({ type: "typing", to: bob.id });
      assert.deepEqual(await b.client.next("typing"), {
        type: "typing",
        from: alice.id,
        active: true,
      });

      // bob offline: five messages wait for him, then arrive once, in order.
      await b.client.close();
      const off = await a.client.next("presence", (p) => p.user_id === bob.id);
      assert.equal(off.online, false);
      const waiting = [];
      for (let i = 0; i < 5; i++) {
        waiting.push(
          withoutSeq(
            (await a.client.request("msg.send", {
              to: bob.id,
              text: `while you were out ${i}`,
              client_id: `a-off-${i}`,
            })).message,
          ),
        );
      }
      const b2 = await loginAndConnect(parley, bob);
      clients.push(b2.client);
      assert.deepEqual(b2.client.welcome!.unread, [{
        user_id: alice.id,
        count: 5,
        last_id: waiting[4].id,
      }]);
      // A new device of bob's starts where his first one acked: what came since.
      assert.deepEqual((await b2.client.syncMessages()).map(withoutSeq), waiting);
      assert.equal((await a.client.next("presence", (p) => p.user_id === bob.id)).online, true);
      await b2.client.request("msg.ack", { peer: alice.id, delivered: waiting[4].id });
      await sleep(200);
      assert.deepEqual(b2.client.events("msg.new"), []);

      // bob logs in again: the second session is kicked, presence follows the third.
      const b3 = await loginAndConnect(parley, bob);
      clients.push(b3.client);
      await b2.client.next("kicked");
      assert.equal((await b2.client.closed).code, 4003);
      assert.deepEqual(await b3.client.syncMessages(), [], "delivered messages are not re-sent");
      const session = b3.client.welcome!.session_id;
      await eventually(async () => {
        const p = await parley.status.Presence({ id: bob.id, login: "" }, {
          metadata: parley.admin.metadata,
        });
        return p.online && p.node === "solo" && p.session_id === session;
      }, { what: "presence to point at bob's newest session" });
      const m3 = withoutSeq(
        (await a.client.request("msg.send", { to: bob.id, text: "still there?", client_id: "a2" }))
          .message,
      );
      assert.deepEqual(withoutSeq((await b3.client.next("msg.new")).message), m3);
      assert.deepEqual(b2.client.events("msg.new"), []);
      const hist = await b3.client.request("msg.history", { with: alice.id });
      assert.deepEqual(hist.messages, [m1, m2, ...waiting, m3]);
      assert.equal(hist.peer_delivered_id, m2.id);
      assert.equal(hist.peer_read_id, 0);
    } catch (e) {
      throw withLogs(e, parley);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await parley.close();
    }
  },
});

Deno.test({
  name:
    "with every role in one process, search pages by name, requests are cancelled or cross into friendship, and a removed friend cannot write but keeps history",
  async fn() {
    const parley: Parley = await startSingle();
    const clients: ChatClient[] = [];
    try {
      const alice = await register(parley, "alice");
      const bob = await register(parley, "bob");
      const bobby = await register(parley, "bobby");
      const boris = await register(parley, "boris");
      const connectAs = async (account: typeof alice) => {
        const { client } = await loginAndConnect(parley, account);
        clients.push(client);
        await client.syncMessages();
        return client;
      };
      const a = await connectAs(alice);
      const by = await connectAs(bobby);
      const bo = await connectAs(boris);

      // Paged by name, never oneself.
      const names: string[] = [];
      let after: string | null | undefined;
      do {
        const page = await a.request("user.search", {
          query: "BO",
          limit: 1,
          ...(after ? { after } : {}),
        });
        assert.ok(page.users.length <= 1);
        names.push(...page.users.map((u) => u.name));
        after = page.next;
      } while (after && names.length < 10);
      assert.deepEqual(names, ["bob", "bobby", "boris"]);
      // An exact e-mail finds only a user who opted in (findable_by_email, off by default).
      const exact = await bo.request("user.search", { query: alice.email });
      assert.deepEqual(exact.users, []);
      assert.deepEqual((await bo.request("user.search", { query: "boris" })).users, []);

      // A request withdrawn before bobby answers.
      await a.request("friend.request", { user_id: bobby.id, greeting: "hello" });
      await by.next("friend.request");
      assert.deepEqual(await a.request("friend.cancel", { user_id: bobby.id }), {});
      assert.deepEqual(await by.next("friend.cancelled"), {
        type: "friend.cancelled",
        user_id: alice.id,
      });
      assert.deepEqual(await by.request("friend.requests"), { incoming: [], outgoing: [] });
      await assert.rejects(by.request("friend.accept", { user_id: alice.id }), /request_not_found/);

      // Requests that cross make a friendship, and both hear of it.
      assert.equal((await bo.request("friend.request", { user_id: alice.id })).status, "sent");
      await a.next("friend.request");
      const crossed = await a.request("friend.request", { user_id: boris.id });
      assert.equal(crossed.status, "accepted");
      assert.equal((await a.next("friend.accepted")).friend.user.id, boris.id);
      assert.equal((await bo.next("friend.accepted")).friend.user.id, alice.id);
      assert.deepEqual((await a.request("friend.list")).friends.map((f) => f.user.name), [
        "boris",
      ]);

      // Removed: no more messages or typing either way, but the history stays readable.
      const hi = withoutSeq(
        (await bo.request("msg.send", { to: alice.id, text: "hi", client_id: "x" })).message,
      );
      await a.next("msg.new");
      assert.deepEqual(await a.request("friend.remove", { user_id: boris.id }), {});
      assert.deepEqual(await bo.next("friend.removed"), {
        type: "friend.removed",
        user_id: alice.id,
      });
      await assert.rejects(
        bo.request("msg.send", { to: alice.id, text: "why?", client_id: "y" }),
        /not_friends/,
      );
      await assert.rejects(
        a.request("msg.send", { to: boris.id, text: "sorry", client_id: "z" }),
        /not_friends/,
      );
      bo.send({ type: "typing", id: "t", to: alice.id });
      assert.equal((await bo.next("error", (e) => e.id === "t")).error.code, "not_friends");
      assert.deepEqual((await bo.request("msg.history", { with: alice.id })).messages, [hi]);
      assert.deepEqual((await a.request("msg.history", { with: boris.id })).messages, [hi]);
      assert.deepEqual((await a.request("friend.list")).friends, []);
      await assert.rejects(a.request("friend.remove", { user_id: boris.id }), /not_friends/);
      await sleep(200);
      assert.equal(a.events("msg.new").length, 1);
      assert.deepEqual(a.events("typing"), []);
      // bob never took part: he exists only as a search result.
      assert.ok(bob.id > 0);
    } catch (e) {
      throw withLogs(e, parley);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await parley.close();
    }
  },
});
