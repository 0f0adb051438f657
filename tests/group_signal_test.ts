/**
 * Stopping a chat node the way systemd (KillMode=control-group), Docker and
 * Kubernetes do: SIGTERM to its whole process group. Under `deno task
 * serve` the server then gets SIGTERM twice (from the group signal, and
 * forwarded by deno task); the second must not cut the drain short. Every
 * session is told to `reconnect`, closed with 1012, and lands on the other
 * node.
 */
import assert from "node:assert/strict";
import { type ChatClient, connect } from "../testing/mod.ts";
import { RawSocket } from "../testing/raw_socket.ts";
import { AUTH_PREFIX, SUBPROTOCOL } from "../testing/ws_client.ts";
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
 * A logged-in session that never answers the server's close frame: the
 * drain waits for it until the server's close timeout (3 s), so a second
 * signal sent 5 or 50 ms after the first always lands during the drain.
 */
async function stubbornSession(cluster: Cluster, account: Account, node: string) {
  const token = (await login(cluster, account)).token;
  const raw = await RawSocket.open(cluster.nodes.get(node)!.wsUrl, [
    SUBPROTOCOL,
    AUTH_PREFIX + token,
  ]);
  const first = await raw.readFrame();
  assert.ok(first && new TextDecoder().decode(first.payload).includes('"welcome"'));
  return raw;
}

Deno.test({
  name:
    "SIGTERM to a chat node's process group (under deno task, and twice 5 ms apart to the server): every session gets reconnect, then 1012, and lands on the other node",
  async fn() {
    const cluster = await startCluster({
      chat: { drainTimeoutMs: 5000 },
      spawn: { "chat-1": { group: true, viaTask: true } },
    });
    const open: ChatClient[] = [];
    const raws: RawSocket[] = [];
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
        // task), unless the two arrive so close together that they merge
        // into one. Rounds 2 and 3 make sure a separate second one comes,
        // while a session that never answers its close frame holds the drain.
        const twice = round >= 2;
        if (twice) raws.push(await stubbornSession(cluster, accounts[0], "chat-1"));
        const send = () => viaGroup ? child.killGroup("SIGTERM") : child.proc.kill("SIGTERM");
        send();
        if (twice) {
          await new Promise((r) => setTimeout(r, viaGroup ? 50 : 5));
          send();
        }
        await checkMoved(cluster, sessions, open);
        const status = await child.status;
        assert.equal(status.code, 0, `round ${round}: ${child.log().slice(-3000)}`);
        assert.match(child.log(), /"msg":"draining"/);
        assert.doesNotMatch(child.log(), /drain timed out/);
        // The second signal landed during the drain and was shrugged off.
        if (twice) assert.match(child.log(), /SIGTERM again: already stopping/);
      }
      assert.deepEqual(cluster.unexpectedExits(), []);
    } catch (e) {
      throw withLogs(e, cluster);
    } finally {
      for (const raw of raws) raw.close();
      await Promise.all(open.map((c) => c.close().catch(() => {})));
      await cluster.close();
    }
  },
});
