/**
 * Redelivery on a cluster of separate processes (MySQL + Redis): a chat
 * node SIGKILLed and started again while the users of the other node keep
 * writing to its users. Their Delivers fail while it is down and right
 * after (the peer channel backs off); retried with fresh presence lookups,
 * and with the recipients' sync at their reconnect, every acked message is
 * shown by the recipients' clients exactly once. The head sweep is set far
 * out of the way and the clients never fetch, so what arrives is what
 * routing and the sync brought. (The retry logic itself is unit-tested in
 * server/chat/route_cluster_test.ts.)
 */
import assert from "node:assert/strict";
import { type ChatClient, eventually, sleep } from "../testing/mod.ts";
import {
  type Account,
  befriend,
  type Cluster,
  connectTo,
  register,
  startCluster,
  withLogs,
} from "./cluster.ts";

/** Sends to `to` every `everyMs` while running; keeps the acked ids. */
function writer(client: ChatClient, name: string, to: number, everyMs = 40) {
  const acked: number[] = [];
  const errors: string[] = [];
  let stop = false;
  let n = 0;
  const loop = (async () => {
    while (!stop) {
      const id = `${name}-${n++}`;
      client.request("msg.send", { to, text: id, client_id: id }, 20_000).then(
        (r) => acked.push(r.message.id),
        (e) => errors.push(`${id}: ${e}`),
      );
      await sleep(everyMs);
    }
  })();
  return {
    acked,
    errors,
    async stop() {
      stop = true;
      await loop;
      await eventually(() => acked.length + errors.length === n, { what: `${name}'s replies` });
    },
  };
}

/** The counter of cross-node deliveries with `result` in a node's /metrics. */
async function crossNode(wsUrl: string, result: string): Promise<number> {
  const text = await (await fetch(wsUrl.replace(/^ws/, "http").replace(/\/ws$/, "/metrics")))
    .text();
  const m = text.match(
    new RegExp(`parley_chat_cross_node_deliveries_total\\{[^}]*result="${result}"[^}]*\\} (\\d+)`),
  );
  return m ? Number(m[1]) : 0;
}

Deno.test({
  name:
    "a chat node killed and started again while the other node's users write to its users: every acked message is shown once",
  async fn() {
    const cluster: Cluster = await startCluster({
      chat: { heartbeatMs: 2000, msgRate: 1000, msgBurst: 1000, headCheckMs: 60_000 },
    });
    const clients: ChatClient[] = [];
    try {
      const [alice, carol, bob, dave] = await Promise.all(
        ["alice", "carol", "bob", "dave"].map((n) => register(cluster, n)),
      );
      // A device keeps what it holds across its sessions (the earlier session's inbox).
      const on = async (account: Account, node: string, before?: ChatClient) => {
        const c = await connectTo(cluster, account, node, {
          device: `${account.name}-1`,
          // It never fetches: what it shows, the server pushed or synced.
          inbox: { resume: before?.inbox, fetch: false },
        });
        clients.push(c.client);
        await c.client.syncMessages();
        return c;
      };
      const [a, c] = [await on(alice, "chat-1"), await on(carol, "chat-1")];
      let [b, d] = [await on(bob, "chat-2"), await on(dave, "chat-2")];
      await befriend(a, b);
      await befriend(c, d);
      const toBob = writer(a.client, "alice", bob.id);
      const toDave = writer(c.client, "carol", dave.id);
      await sleep(500);

      const chat2 = cluster.nodes.get("chat-2")!;
      await chat2.child!.kill("SIGKILL");
      await Promise.all([b.client.closed, d.client.closed]);
      await sleep(700);
      await cluster.startChat("chat-2");
      // bob and dave come back to the same node with the same devices, as soon as it is up.
      [b, d] = [await on(bob, "chat-2", b.client), await on(dave, "chat-2", d.client)];
      await sleep(1500);
      await Promise.all([toBob.stop(), toDave.stop()]);
      assert.deepEqual([...toBob.errors, ...toDave.errors], [], "every send was acked");

      for (const [client, sent] of [[b.client, toBob.acked], [d.client, toDave.acked]] as const) {
        const want = [...sent].sort((x, y) => x - y);
        await eventually(() => want.every((id) => client.inbox.has(id)), {
          what: "every acked message to be shown",
          timeoutMs: 5000,
        });
        // Shown once each (what the server sent again past the written cursor was dropped).
        const shown = client.inbox.view().map((m) => m.id).sort((x, y) => x - y);
        assert.deepEqual(shown, want);
      }
      // The fault reached routing: chat-1's Delivers to chat-2 failed while it was down (they
      // were retried for as long as presence still listed bob there; status may take those
      // entries out first, and then bob's sync brings what they carried).
      const url = cluster.nodes.get("chat-1")!.wsUrl;
      const [failed, retried] = [await crossNode(url, "failed"), await crossNode(url, "retried")];
      assert.ok(failed > 0, "chat-1's Delivers to the dead node failed");
      console.log(`chat-1: ${failed} Deliver calls failed, ${retried} retried`);
    } catch (e) {
      throw withLogs(e, cluster);
    } finally {
      await Promise.all(clients.map((cl) => cl.close()));
      await cluster.close();
    }
  },
});
