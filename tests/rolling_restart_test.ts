/**
 * The README's rolling restart runbook, run against a 5-process cluster
 * (verify, status, gate, chat-1, chat-2) while users chat across the two
 * chat nodes, log in and ask for codes: every role is stopped with SIGTERM
 * and started again, one by one, each chat node only once the other one is
 * registered. Afterwards every acked message is stored exactly once, every
 * user is connected to a live node, and no process exited on its own.
 */
import assert from "node:assert/strict";
import { eventually, sleep } from "../testing/mod.ts";
import {
  befriend,
  type Cluster,
  connectTo,
  gateCall,
  login,
  register,
  startCluster,
  withLogs,
} from "./cluster.ts";
import { Chatter, checkStored } from "./_traffic.ts";

/** What ListNodes says about `name`, or undefined. */
async function nodeInfo(cluster: Cluster, name: string) {
  const { nodes } = await cluster.status.ListNodes({}, { metadata: cluster.admin.metadata });
  return nodes.find((n) => n.name === name);
}

Deno.test({
  name:
    "a rolling restart of every role under traffic: every acked message stored once, every user back on a live node",
  async fn() {
    const cluster = await startCluster({
      nodeTtlMs: 3000,
      chat: { heartbeatMs: 1000, msgRate: 200, msgBurst: 500, drainTimeoutMs: 5000 },
      gate: {
        codesPerIpPerHour: 100_000,
        loginsPerAccountPerHour: 100_000,
        loginsPerIpPerMinute: 100_000,
      },
    });
    const chatters: Chatter[] = [];
    try {
      const names = ["ann", "ben", "cat", "dan"];
      const accounts = [];
      for (const n of names) accounts.push(await register(cluster, n));
      const [ann, ben, cat, dan] = accounts;
      for (const [x, y] of [[ann, ben], [cat, dan]]) {
        const a0 = await connectTo(cluster, x, "chat-1");
        const b0 = await connectTo(cluster, y, "chat-2");
        await befriend(a0, b0);
        await Promise.all([a0.client.close(), b0.client.close()]);
      }
      chatters.push(
        new Chatter(cluster, ann, ben.id),
        new Chatter(cluster, ben, ann.id),
        new Chatter(cluster, cat, dan.id),
        new Chatter(cluster, dan, cat.id),
      );
      await Promise.all(chatters.map((c, i) => c.start(i % 2 === 0 ? "chat-1" : "chat-2")));
      let stop = false;
      let n = 0;
      const background = (async () => {
        while (!stop) {
          await login(cluster, ann).catch(() => {});
          await gateCall(cluster.gateUrl, "POST", "/api/v1/codes", {
            body: { email: `r${n++}@example.test`, purpose: "register" },
          }).catch(() => {});
          await sleep(100);
        }
      })();

      const acked = () => chatters.reduce((sum, c) => sum + c.acked.size, 0);
      for (const name of ["verify", "status", "gate", "chat-1", "chat-2"]) {
        const before = acked();
        await eventually(() => acked() > before + 20, {
          timeoutMs: 20_000,
          what: `messages to flow before ${name} restarts`,
        });
        const stopped = await cluster.stop(name);
        assert.equal(stopped.code, 0, `${name} exits 0 on SIGTERM`);
        const proc = await cluster.start(name);
        if (proc.role === "chat") {
          // The runbook's gate for the next chat node: this one takes logins again.
          await eventually(async () => (await nodeInfo(cluster, name))?.state === "up", {
            timeoutMs: 10_000,
            what: `${name} to register again`,
          });
        }
      }
      stop = true;
      await background;
      await Promise.all(chatters.map((c) => c.stop()));

      assert.deepEqual(cluster.unexpectedExits(), []);
      for (const c of chatters) assert.deepEqual(c.errors, [], c.account.name);
      await checkStored(chatters[0], chatters[1]);
      await checkStored(chatters[2], chatters[3]);
      const { nodes } = await cluster.status.ListNodes({}, { metadata: cluster.admin.metadata });
      const live = new Set(nodes.filter((x) => x.state === "up").map((x) => x.name));
      for (const c of chatters) {
        assert.ok(c.node && live.has(c.node), `${c.account.name} is on ${c.node}`);
        // Each drain moved the user by its reconnect event (1012), never by a crash.
        assert.ok(c.moves.length >= 1, `${c.account.name} moved: ${JSON.stringify(c.moves)}`);
        for (const m of c.moves) assert.deepEqual([m.code, m.how], [1012, "reconnect"]);
      }
      assert.deepEqual(new Set(chatters.map((c) => c.node)), new Set(["chat-1"]));
    } catch (e) {
      throw withLogs(e, cluster);
    } finally {
      await Promise.all(chatters.map((c) => c.close()));
      await cluster.close();
    }
  },
});
