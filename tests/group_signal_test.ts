/**
 * Stopping a chat node the way systemd (KillMode=control-group), Docker and
 * Kubernetes do: SIGTERM to its whole process group. Under `deno task
 * serve` the server then gets SIGTERM twice (from the group signal, and
 * forwarded by deno task); the second must not cut the drain short. Every
 * session is told to `reconnect`, closed with 1012, and lands on the other
 * node.
 */
import assert from "node:assert/strict";
import { type ChatClient, connect, eventually, sleep } from "../testing/mod.ts";
import { type Account, type Cluster, login, register, startCluster, withLogs } from "./cluster.ts";

const USERS = 4;

/** Connects every account to `node`; returns the clients with the tokens they used. */
async function connectAll(cluster: Cluster, accounts: Account[], node: string) {
  return await Promise.all(accounts.map(async (account) => {
    const token = (await login(cluster, account)).token;
    const client = await connect(cluster.nodes.get(node)!.wsUrl, token);
    assert.equal(client.welcome!.node, node);
    return { client, token };
  }));
}

/** Each session gets `reconnect` naming chat-2, then 1012, and its token works there. */
async function checkMoved(
  cluster: Cluster,
  sessions: { client: ChatClient; token: string }[],
  moved: ChatClient[],
): Promise<void> {
  const target = cluster.nodes.get("chat-2")!.wsUrl;
  for (const { client, token } of sessions) {
    const ev = await client.next("reconnect", undefined, 10_000);
    assert.equal(ev.reason, "draining");
    assert.equal((ev as { chat_url?: string | null }).chat_url, target);
    const closed = await client.closed;
    assert.equal(closed.code, 1012, JSON.stringify(closed));
    const again = await connect(target, token);
    moved.push(again);
    assert.equal(again.welcome!.node, "chat-2");
  }
}

/**
 * Sends a second SIGTERM while the drain is certainly running: the status
 * role is paused (SIGSTOP), so the drain waits on its first status call;
 * once the server logged "draining" the second signal goes, and the status
 * role resumes only after the server logged that it shrugged it off.
 */
async function secondSignalMidDrain(
  cluster: Cluster,
  child: { log(): string },
  send: () => void,
): Promise<void> {
  const status = cluster.procs.get("status").child!.proc;
  status.kill("SIGSTOP");
  try {
    send();
    await eventually(() => /"msg":"draining"/.test(child.log()), { what: "the drain" });
    send();
    await eventually(() => /SIGTERM again: already stopping/.test(child.log()), {
      what: "the second SIGTERM shrugged off during the drain",
    });
  } finally {
    status.kill("SIGCONT");
  }
}

Deno.test({
  name:
    "SIGTERM to a chat node's process group (under deno task, a second one during the drain, and twice 5 ms apart to the server): every session gets reconnect, then 1012, and lands on the other node",
  async fn() {
    const cluster = await startCluster({
      chat: { drainTimeoutMs: 5000 },
      spawn: { "chat-1": { group: true, viaTask: true } },
    });
    const open: ChatClient[] = [];
    try {
      const accounts: Account[] = [];
      for (let i = 0; i < USERS; i++) accounts.push(await register(cluster, `user${i}`));
      for (let round = 0; round < 4; round++) {
        // Rounds 0-2: the process group under deno task; round 3: the server alone.
        const viaGroup = round < 3;
        if (round > 0) {
          await cluster.startChat("chat-1", { group: viaGroup, viaTask: viaGroup });
        }
        const sessions = await connectAll(cluster, accounts, "chat-1");
        open.push(...sessions.map((s) => s.client));
        const child = cluster.procs.expectExit("chat-1");
        // The group's signal reaches the server twice (once forwarded by deno
        // task) unless the two merge into one. Round 2 sends a second one
        // while the drain certainly runs; round 3 sends two 5 ms apart to the
        // server alone (they may merge: the drain must hold either way).
        const send = () => viaGroup ? child.killGroup("SIGTERM") : child.proc.kill("SIGTERM");
        if (round === 2) await secondSignalMidDrain(cluster, child, send);
        else {
          send();
          if (round === 3) {
            await sleep(5);
            send();
          }
        }
        await checkMoved(cluster, sessions, open);
        const status = await child.status;
        assert.equal(status.code, 0, `round ${round}: ${child.log().slice(-3000)}`);
        assert.match(child.log(), /"msg":"draining"/);
        assert.doesNotMatch(child.log(), /drain timed out/);
      }
      assert.deepEqual(cluster.unexpectedExits(), []);
    } catch (e) {
      throw withLogs(e, cluster);
    } finally {
      await Promise.all(open.map((c) => c.close().catch(() => {})));
      await cluster.close();
    }
  },
});
