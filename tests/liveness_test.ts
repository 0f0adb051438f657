/**
 * Failure detection: a chat node killed with SIGKILL stops being handed to
 * logins within 2 s (status watches its connection, server/status/
 * liveness.ts), a node that is only stalled (SIGSTOP, longer than any lease
 * that short) is not dropped, and a chat node that started before status
 * registers within a second of status listening.
 */
import assert from "node:assert/strict";
import { type ChatClient, eventually, sleep } from "../testing/mod.ts";
import { type Cluster, connectTo, login, register, startCluster, withLogs } from "./cluster.ts";

/** The names ListNodes reports now. */
async function listed(cluster: Cluster): Promise<string[]> {
  const { nodes } = await cluster.status.ListNodes({}, { metadata: cluster.admin.metadata });
  return nodes.map((n) => n.name);
}

/** Time of the first log line of `log` that contains `text`. */
function loggedAt(log: string, text: string): number {
  const line = log.split("\n").find((l) => l.includes(text));
  if (!line) throw new Error(`no "${text}" in:\n${log.slice(-2000)}`);
  return Date.parse(JSON.parse(line).t);
}

Deno.test({
  name:
    "a SIGKILLed chat node is no longer handed to logins within 2 s; a stalled one (SIGSTOP 4 s) stays",
  async fn() {
    const cluster = await startCluster({ chat: { heartbeatMs: 1000 } });
    const clients: ChatClient[] = [];
    try {
      const alice = await register(cluster, "alice");
      // Load on chat-2, so that the least-loaded pick is chat-1 while it is listed.
      for (const name of ["bob", "carol"]) {
        clients.push((await connectTo(cluster, await register(cluster, name), "chat-2")).client);
      }
      await eventually(async () => {
        const { nodes } = await cluster.status.ListNodes({}, {
          metadata: cluster.admin.metadata,
        });
        return nodes.find((n) => n.name === "chat-2")?.sessions === 2;
      }, { what: "chat-2's heartbeat with two sessions" });
      assert.equal((await cluster.status.PickNode({})).name, "chat-1");

      // Stalled, not dead: the process keeps its sockets, the kernel keeps accepting.
      const chat1 = cluster.nodes.get("chat-1")!.child!;
      Deno.kill(chat1.pid, "SIGSTOP");
      await sleep(4000);
      assert.deepEqual(await listed(cluster), ["chat-1", "chat-2"], "a stalled node stays");
      Deno.kill(chat1.pid, "SIGCONT");
      assert.equal((await cluster.status.PickNode({})).name, "chat-1");

      cluster.procs.expectExit("chat-1");
      const killedAt = Date.now();
      await chat1.kill("SIGKILL");
      let lastPicked = killedAt;
      const chat1Url = cluster.nodes.get("chat-1")!.wsUrl;
      while (Date.now() - killedAt < 3000) {
        const asked = Date.now();
        const [picked, reply] = await Promise.all([
          cluster.status.PickNode({}),
          login(cluster, alice),
        ]);
        if (picked.name === "chat-1" || reply.chat_url === chat1Url) lastPicked = asked;
        await sleep(25);
      }
      const handedOutFor = lastPicked - killedAt;
      assert.ok(handedOutFor < 2000, `the dead node was handed out for ${handedOutFor} ms`);
      assert.deepEqual(await listed(cluster), ["chat-2"]);
      const removedAt = loggedAt(cluster.logs(), "unreachable after its connection dropped");
      console.log(
        `SIGKILL to removal: ${removedAt - killedAt} ms; last handed out after ` +
          `${handedOutFor} ms`,
      );
      assert.deepEqual(cluster.unexpectedExits(), []);
    } catch (e) {
      throw withLogs(e, cluster);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await cluster.close();
    }
  },
});

Deno.test({
  name: "a chat node that starts while status is down registers within 1 s of status listening",
  async fn() {
    const cluster = await startCluster({ chatNodes: ["chat-1"] });
    try {
      await cluster.stop("status");
      // Deregistering failed (status is down); the new run must register on its own.
      await cluster.restart("chat-1");
      await sleep(1500);
      const status = await cluster.start("status");
      const readyAt = loggedAt(status.child!.log(), "parley is running");
      await eventually(
        () => cluster.nodes.get("chat-1")!.child!.log().includes("registered with status"),
        { timeoutMs: 5000, what: "chat-1 to register" },
      );
      const registeredAt = loggedAt(cluster.nodes.get("chat-1")!.child!.log(), "registered with");
      const late = registeredAt - readyAt;
      console.log(`registered ${late} ms after status listened`);
      assert.ok(late < 1000, `registered ${late} ms after status listened`);
      const { nodes } = await cluster.status.ListNodes({}, { metadata: cluster.admin.metadata });
      assert.equal(nodes.find((n) => n.name === "chat-1")?.restarts, 1);
    } catch (e) {
      throw withLogs(e, cluster);
    } finally {
      await cluster.close();
    }
  },
});
