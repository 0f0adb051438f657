/**
 * A chat node dies (SIGKILL) while its users are sending. The clients do
 * what docs/protocol.md §11 tells a client to do: log in again through the
 * gate with backoff, land on the surviving node, and resend every msg.send
 * that had no result with the same client_id. Afterwards every message that
 * was acked is in history exactly once, and nothing is stored twice.
 */
import assert from "node:assert/strict";
import {
  type ChatClient,
  connect,
  eventually,
  RequestError,
  sleep,
  withoutSeq,
} from "../testing/mod.ts";
import {
  type Account,
  befriend,
  type Cluster,
  connectTo,
  fullHistory,
  login,
  loginWithRetry,
  register,
  startCluster,
  withLogs,
} from "./cluster.ts";
import type { WireMessage } from "../proto/protocol.ts";

/** Sends to `to` every `everyMs` without waiting for replies, and keeps track of acks. */
class Sender {
  /** client_id → the message the server acked. */
  readonly acked = new Map<string, WireMessage>();
  /** client_id → text, for every msg.send written to the socket. */
  readonly sent = new Map<string, string>();
  readonly errors: string[] = [];
  #n = 0;
  #stop = false;
  #loop: Promise<void> = Promise.resolve();
  #inflight = new Set<Promise<void>>();

  constructor(readonly prefix: string, readonly to: number) {}

  start(client: ChatClient, everyMs = 25): void {
    this.#stop = false;
    this.#loop = (async () => {
      while (!this.#stop && client.isOpen) {
        const clientId = `${this.prefix}-${this.#n++}`;
        this.#send(client, clientId, `${this.prefix} says ${this.#n}`);
        await sleep(everyMs);
      }
    })();
  }

  #send(client: ChatClient, clientId: string, text: string): void {
    this.sent.set(clientId, text);
    const p = client.request("msg.send", { to: this.to, text, client_id: clientId }, 15_000)
      .then((r) => {
        assert.equal(r.message.client_id, clientId);
        const before = this.acked.get(clientId);
        if (before) assert.deepEqual(r.message, before, "a retry acks the message stored first");
        this.acked.set(clientId, r.message);
      }, (e) => {
        // A drop before the reply leaves the message unacked: resent later.
        if (!(e instanceof RequestError && e.code === "socket_closed")) {
          this.errors.push(`${clientId}: ${e}`);
        }
      })
      .finally(() => this.#inflight.delete(p));
    this.#inflight.add(p);
  }

  /** Stops sending and waits for every reply (or the socket's end). */
  async stop(): Promise<void> {
    this.#stop = true;
    await this.#loop;
    await Promise.all([...this.#inflight]);
  }

  get unacked(): string[] {
    return [...this.sent.keys()].filter((id) => !this.acked.has(id));
  }

  /** Resends every unacked message with its client_id, one by one, on `client`. */
  async resend(client: ChatClient): Promise<void> {
    for (const id of this.unacked) this.#send(client, id, this.sent.get(id)!);
    await Promise.all([...this.#inflight]);
  }
}

/** History between the two users holds each of `sender`'s messages exactly once, acked ids included. */
function checkHistory(history: WireMessage[], from: number, sender: Sender): void {
  const ids = history.map((m) => m.id);
  assert.equal(new Set(ids).size, ids.length, "no message id twice in history");
  const mine = history.filter((m) => m.from === from);
  const clientIds = mine.map((m) => m.client_id);
  assert.equal(new Set(clientIds).size, clientIds.length, `no client_id of ${sender.prefix} twice`);
  const byClientId = new Map(mine.map((m) => [m.client_id, m]));
  for (const [clientId, acked] of sender.acked) {
    // (The ack carries the message's seq in the sender's inbox; history has none.)
    assert.deepEqual(
      byClientId.get(clientId),
      withoutSeq(acked),
      `acked ${clientId} is in history as acked`,
    );
  }
  // Every message was resent until acked, so history holds exactly what was sent.
  assert.deepEqual(new Set(clientIds), new Set(sender.sent.keys()));
}

Deno.test({
  name:
    "a chat node killed with SIGKILL while its users send: they log in again on the surviving node, and every acked message is stored exactly once",
  async fn() {
    const cluster: Cluster = await startCluster({
      nodeTtlMs: 3000,
      // Rate limits are not under test here: let the senders run freely.
      chat: { heartbeatMs: 1000, msgRate: 200, msgBurst: 500 },
    });
    const clients: ChatClient[] = [];
    try {
      const alice = await register(cluster, "alice");
      const carol = await register(cluster, "carol");
      const bob = await register(cluster, "bob");
      // alice's phone acks no seq: whatever it held, its next session syncs it all again.
      const phone = { device: "alice-phone", inbox: { ack: false } };
      const on = async (account: Account, node: string) => {
        const c = await connectTo(cluster, account, node, account === alice ? phone : {});
        clients.push(c.client);
        await c.client.syncMessages();
        return c;
      };
      const a = await on(alice, "chat-1");
      const c = await on(carol, "chat-1");
      const b = await on(bob, "chat-2");
      await befriend(a, b);
      await befriend(c, b);

      const fromAlice = new Sender("alice", bob.id);
      const fromCarol = new Sender("carol", bob.id);
      const fromBob = new Sender("bob", alice.id);
      fromAlice.start(a.client);
      fromCarol.start(c.client);
      fromBob.start(b.client);
      // Kill mid-stream: once every sender has had some acks, and sends are in flight.
      await eventually(
        () => fromAlice.acked.size >= 10 && fromCarol.acked.size >= 10 && fromBob.acked.size >= 10,
        { what: "the senders to get going" },
      );

      const dead = cluster.nodes.get("chat-1")!;
      const killed = await dead.child!.kill("SIGKILL");
      assert.equal(killed.signal, "SIGKILL");
      const [ca, cc] = await Promise.all([a.client.closed, c.client.closed]);
      // A crashed node sends no close frame: docs say 1006; Deno's WebSocket reports 0 for a reset.
      for (const info of [ca, cc]) {
        assert.equal(info.wasClean, false, JSON.stringify(info));
        assert.ok(info.code === 1006 || info.code === 0, JSON.stringify(info));
      }
      await Promise.all([fromAlice.stop(), fromCarol.stop()]);
      // bob keeps writing to alice while she is away; then stops.
      await sleep(300);
      await fromBob.stop();
      assert.deepEqual(fromBob.errors, [], "bob's sends during the outage are all acked");
      assert.deepEqual(fromBob.unacked, []);

      // Like a real client: back through the gate, with backoff, until a live node takes us.
      const [a2, c2] = await Promise.all([
        loginWithRetry(cluster, alice, { deadlineMs: 20_000, timeoutMs: 10_000, ...phone }),
        loginWithRetry(cluster, carol, { deadlineMs: 20_000, timeoutMs: 10_000 }),
      ]);
      clients.push(a2.client, c2.client);
      assert.equal(a2.client.welcome!.node, "chat-2", a2.attempts.join("\n"));
      assert.equal(c2.client.welcome!.node, "chat-2", c2.attempts.join("\n"));

      // alice's phone never acked: its sync holds every message bob wrote her (and hers).
      const synced = (await a2.client.syncMessages()).filter((m) => m.from === bob.id);
      assert.deepEqual(
        synced.map((m) => m.client_id),
        [...fromBob.acked.values()].sort((x, y) => x.id - y.id).map((m) => m.client_id),
      );

      await Promise.all([fromAlice.resend(a2.client), fromCarol.resend(c2.client)]);
      assert.deepEqual(fromAlice.errors, []);
      assert.deepEqual(fromCarol.errors, []);
      assert.deepEqual(fromAlice.unacked, []);
      assert.deepEqual(fromCarol.unacked, []);

      const ab = await fullHistory(a2.client, bob.id);
      checkHistory(ab, alice.id, fromAlice);
      checkHistory(ab, bob.id, fromBob);
      const cb = await fullHistory(c2.client, bob.id);
      checkHistory(cb, carol.id, fromCarol);
      assert.ok(ab.every((m) => m.from !== carol.id && m.to !== carol.id));

      // Status dropped the dead node from the pick list; presence points at the survivor.
      await eventually(async () => {
        const { nodes } = await cluster.status.ListNodes({}, { metadata: cluster.admin.metadata });
        return nodes.map((n) => n.name).join() === "chat-2";
      }, { what: "status to forget chat-1 after its TTL" });
      for (let i = 0; i < 3; i++) {
        assert.equal((await cluster.status.PickNode({})).name, "chat-2");
      }
      const p = await cluster.status.Presence({ id: alice.id, login: "" }, {
        metadata: cluster.admin.metadata,
      });
      assert.deepEqual([p.online, p.node, p.session_id], [
        true,
        "chat-2",
        a2.client.welcome!.session_id,
      ]);

      // Life goes on on the survivor: live delivery between alice and bob.
      const m = (await a2.client.request("msg.send", {
        to: bob.id,
        text: "back again",
        client_id: "alice-after",
      })).message;
      const pushed = (await b.client.next("msg.new", (e) => e.message.id === m.id)).message;
      assert.deepEqual(withoutSeq(pushed), withoutSeq(m));
    } catch (e) {
      throw withLogs(e, cluster);
    } finally {
      await Promise.all(clients.map((cl) => cl.close()));
      await cluster.close();
    }
  },
});

Deno.test({
  name:
    "a session that stops pinging is closed with 4004 after three heartbeat intervals and its friends see it go offline",
  async fn() {
    const cluster = await startCluster({ chat: { heartbeatMs: 1000 } });
    const clients: ChatClient[] = [];
    try {
      const alice = await register(cluster, "alice");
      const bob = await register(cluster, "bob");
      const a = await connectTo(cluster, alice, "chat-1");
      const b = await connectTo(cluster, bob, "chat-2");
      clients.push(a.client, b.client);
      await befriend(a, b);
      assert.equal(b.client.welcome!.heartbeat_ms, 1000);

      // bob's client keeps pinging for a while: the session lives past three intervals.
      await sleep(3500);
      assert.ok(b.client.isOpen, "a pinging session stays open");
      b.client.stopPinging();
      const silentSince = Date.now();
      const closed = await b.client.closed;
      const after = Date.now() - silentSince;
      assert.equal(closed.code, 4004);
      assert.ok(after >= 2500 && after < 6000, `closed ${after} ms after the last ping`);
      const off = await a.client.next("presence", (p) => p.user_id === bob.id, 5000);
      assert.equal(off.online, false);
      const p = await cluster.status.Presence({ id: bob.id, login: "" }, {
        metadata: cluster.admin.metadata,
      });
      assert.equal(p.online, false);
      assert.ok(a.client.isOpen, "alice kept pinging and stays");
    } catch (e) {
      throw withLogs(e, cluster);
    } finally {
      await Promise.all(clients.map((cl) => cl.close()));
      await cluster.close();
    }
  },
});

Deno.test({
  name:
    "a chat node stopped with SIGTERM tells its clients to reconnect to the other node (1012), is no longer picked, deregisters and exits",
  async fn() {
    const cluster = await startCluster({ chat: { drainTimeoutMs: 3000 } });
    const clients: ChatClient[] = [];
    try {
      const alice = await register(cluster, "alice");
      const bob = await register(cluster, "bob");
      const aliceLogin = await login(cluster, alice);
      const a = {
        client: await connect(cluster.nodes.get("chat-1")!.wsUrl, aliceLogin.token),
        account: alice,
      };
      const b = {
        client: await connect(
          cluster.nodes.get("chat-2")!.wsUrl,
          (await login(cluster, bob)).token,
        ),
        account: bob,
      };
      clients.push(a.client, b.client);
      await befriend(a, b);
      const unread = (await b.client.request("msg.send", {
        to: alice.id,
        text: "before the drain",
        client_id: "d-0",
      })).message;
      await a.client.next("msg.new");

      const draining = cluster.nodes.get("chat-1")!.child!;
      draining.proc.kill("SIGTERM");
      const ev = await a.client.next("reconnect", undefined, 5000);
      assert.equal(ev.reason, "draining");
      assert.equal(
        (ev as { chat_url?: string | null }).chat_url,
        cluster.nodes.get("chat-2")!.wsUrl,
      );
      assert.equal((await a.client.closed).code, 1012);
      // No longer picked for logins at once (draining, then deregistered), though
      // chat-1 now carries fewer sessions than chat-2; gone long before the 15 s TTL.
      const { nodes } = await cluster.status.ListNodes({}, { metadata: cluster.admin.metadata });
      const one = nodes.find((n) => n.name === "chat-1");
      assert.ok(!one || one.state === "draining", JSON.stringify(one));
      for (let i = 0; i < 3; i++) {
        assert.equal((await cluster.status.PickNode({})).name, "chat-2");
      }
      await eventually(async () => {
        const { nodes } = await cluster.status.ListNodes({}, { metadata: cluster.admin.metadata });
        return nodes.map((n) => n.name).join() === "chat-2";
      }, { timeoutMs: 5000, what: "chat-1 to deregister" });

      // The same token works on the node the event named.
      const a2 = await connect((ev as { chat_url: string }).chat_url, aliceLogin.token);
      clients.push(a2);
      assert.equal(a2.welcome!.node, "chat-2");
      assert.deepEqual(await a2.syncMessages(), [unread], "never acked delivered: synced again");
      const m = (await a2.request("msg.send", {
        to: bob.id,
        text: "moved",
        client_id: "d-1",
      })).message;
      assert.deepEqual((await b.client.next("msg.new")).message, m);

      const status = await draining.proc.status;
      assert.equal(status.code, 0, draining.log().slice(-2000));
    } catch (e) {
      throw withLogs(e, cluster);
    } finally {
      await Promise.all(clients.map((cl) => cl.close()));
      await cluster.close();
    }
  },
});
