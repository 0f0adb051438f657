/**
 * The chat flow with every role in one process on the embedded backends
 * (sqlite in a temp data dir, the memory engine) and mail over real SMTP:
 * friends, live messages, receipts, typing, offline sync and a kick, through
 * the gate's HTTP API and the client protocol only.
 */
import assert from "node:assert/strict";
import { eventually } from "./kit.ts";
import {
  befriend,
  loginAndConnect,
  type Parley,
  register,
  startSingle,
  withLogs,
} from "./cluster.ts";
import { type ChatClient, sleep } from "./ws_client.ts";

Deno.test({
  name:
    "with every role in one process on sqlite + memory, friends message live, see receipts, sync offline messages and kick old sessions",
  async fn() {
    const parley: Parley = await startSingle();
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
      await a.client.syncMessages();
      await b.client.syncMessages();

      const found = await a.client.request("user.search", { query: "b" });
      assert.deepEqual(found.users.map((u) => u.id), [bob.id]);
      await befriend({ client: a.client, account: alice }, { client: b.client, account: bob });

      // Live both ways, with receipts.
      const m1 = (await a.client.request("msg.send", {
        to: bob.id,
        text: "hi bob",
        client_id: "a1",
      })).message;
      assert.deepEqual((await b.client.next("msg.new")).message, m1);
      await b.client.request("msg.ack", { peer: alice.id, delivered: m1.id, read: m1.id });
      assert.deepEqual(await a.client.next("msg.status"), {
        type: "msg.status",
        peer: bob.id,
        delivered_id: m1.id,
        read_id: m1.id,
      });
      const m2 = (await b.client.request("msg.send", {
        to: alice.id,
        text: "hi alice",
        client_id: "b1",
      })).message;
      assert.deepEqual((await a.client.next("msg.new")).message, m2);
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
          (await a.client.request("msg.send", {
            to: bob.id,
            text: `while you were out ${i}`,
            client_id: `a-off-${i}`,
          })).message,
        );
      }
      const b2 = await loginAndConnect(parley, bob);
      clients.push(b2.client);
      assert.deepEqual(b2.client.welcome!.unread, [{
        user_id: alice.id,
        count: 5,
        last_id: waiting[4].id,
      }]);
      assert.deepEqual(await b2.client.syncMessages(), waiting);
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
      const m3 = (await a.client.request("msg.send", {
        to: bob.id,
        text: "still there?",
        client_id: "a2",
      })).message;
      assert.deepEqual((await b3.client.next("msg.new")).message, m3);
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
