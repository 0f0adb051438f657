/**
 * The cluster router on a memory engine, with a link that records what it
 * would send to other nodes over gRPC: every session of a user gets an
 * event (here and on each node presence lists, one Deliver per node), the
 * presence cache, the second look after a cached list led nowhere, the
 * retries of a failed Deliver with a fresh lookup, kicks, online state,
 * and that routing never fails its caller while Redis is down.
 */
import assert from "node:assert/strict";
import { silentLogger } from "../log.ts";
import { openEngine } from "../engine/mod.ts";
import type { Engine } from "../engine/types.ts";
import { upsertNode } from "../engine/nodes.ts";
import { addSession, type PresenceSession, removeSession } from "../engine/presence.ts";
import { haveRedisServer, startRedisServer } from "../engine/_redis_servers.ts";
import { eventually, sleep } from "../../testing/mod.ts";
import { LocalSessions } from "./local_sessions.ts";
import { chatMetrics } from "./metrics.ts";
import { ClusterRouter } from "./route_cluster.ts";
import { RecordingLink, RecordingSession } from "./_routing_fakes.ts";

const TTL = 5000;

interface Setup {
  engine: Engine;
  router: ClusterRouter;
  link: RecordingLink;
  sessions: LocalSessions;
  metrics: ReturnType<typeof chatMetrics>;
}

async function withRouter(
  fn: (t: Setup) => Promise<void>,
  options: { engine?: Engine; retryForMs?: number } = {},
) {
  const e = options.engine ?? await openEngine("memory:", { log: silentLogger });
  const metrics = chatMetrics("n1");
  const sessions = new LocalSessions(metrics);
  const link = new RecordingLink();
  const router = new ClusterRouter({
    engine: e,
    sessions,
    link,
    metrics,
    log: silentLogger,
    node: "n1",
    nodeTtlMs: TTL,
    retryForMs: options.retryForMs,
  });
  try {
    await fn({ engine: e, router, link, sessions, metrics });
  } finally {
    router.close();
    if (!options.engine) await e.close();
  }
  assert.equal(link.closed, true, "close() lets go of the other nodes");
}

const node = (name: string, grpcAddr: string, heartbeatAt = Date.now()) => ({
  name,
  wsUrl: `ws://${name}/ws`,
  grpcAddr,
  sessions: 0,
  startedAt: 0,
  state: "up" as const,
  heartbeatAt,
});

const entry = (n: string, session: string, addr?: string): PresenceSession => ({
  node: n,
  session,
  since: 1,
  ...(addr ? { addr } : {}),
});

const typing = { type: "typing", from: 1, active: true } as const;
const typingJson = JSON.stringify(typing);

Deno.test("ClusterRouter sends to every session of a user: each one here, and one Deliver per other node", async () => {
  await withRouter(async ({ engine, router, link, sessions }) => {
    const [a, b] = [new RecordingSession(1, "a"), new RecordingSession(1, "b")];
    sessions.add(a);
    sessions.add(b);
    await addSession(engine, 1, entry("n1", "a"));
    await addSession(engine, 1, entry("n1", "b"));
    await addSession(engine, 1, entry("n2", "c", "10.0.0.2:1"));
    await addSession(engine, 1, entry("n2", "d", "10.0.0.2:1"));
    // No address in the entry (an older node wrote it): the registry has it.
    await upsertNode(engine, node("n3", "10.0.0.3:1"));
    await addSession(engine, 1, entry("n3", "e"));
    const item = { seq: 7, from: 2, id: 40 };
    await router.deliver(1, '{"type":"msg.new","message":{"id":40,"from":2}}', { item });
    assert.equal(a.got.length, 1);
    assert.deepEqual(b.items, [item]);
    assert.deepEqual(link.delivers.map((d) => [d.addr, d.item.seq, d.item.exclude_session]), [
      ["10.0.0.2:1", 7, ""],
      ["10.0.0.3:1", 7, ""],
    ]);
    // The sender's copy of its own message: every session but the one that sent it.
    await router.deliver(1, typing, { exclude: "a" });
    assert.deepEqual([a.got.length, b.got.length], [1, 2]);
    assert.deepEqual(link.delivers.slice(2).map((d) => d.item.exclude_session), ["a", "a"]);
    assert.equal(link.delivers[2].item.frame, typingJson);
    assert.equal(router.nodesOf(1), 3, "the user is on three nodes");
    assert.equal(router.nodesOf(99), 1, "unknown: one");
    // Offline: nothing anywhere.
    await router.deliver(4, typing);
    await router.deliverMany([1, 4], typing);
    assert.equal(b.got.length, 3);
    assert.equal(link.delivers.length, 6);
  });
});

Deno.test("ClusterRouter trusts a user's presence list for a moment, and reads it again once told it changed", async () => {
  await withRouter(async ({ engine, router, link, sessions }) => {
    sessions.add(new RecordingSession(1, "a"));
    await addSession(engine, 1, entry("n1", "a"));
    await router.deliver(1, typing);
    assert.equal(link.delivers.length, 0, "every session is here");
    // A session on n2 opens; this node still routes by what it read.
    await addSession(engine, 1, entry("n2", "b", "10.0.0.2:1"));
    await router.deliver(1, typing);
    assert.equal(link.delivers.length, 0, "within the cache's time, the old list");
    router.forget(1);
    await router.deliver(1, typing);
    assert.equal(link.delivers.length, 1);
    await removeSession(engine, 1, "b");
    await sleep(1100);
    await router.deliver(1, typing);
    assert.equal(link.delivers.length, 1, "the list expired and was read again");
  });
});

Deno.test("ClusterRouter looks again and resends when a Deliver through a cached list finds the user gone", async () => {
  await withRouter(async ({ engine, router, link }) => {
    await addSession(engine, 2, entry("n2", "old", "10.0.0.2:1"));
    await router.deliver(2, typing);
    // The user moved to n3; n2 no longer has them, and this node still caches "n2".
    await removeSession(engine, 2, "old");
    await addSession(engine, 2, entry("n3", "new", "10.0.0.3:1"));
    link.outcome = (addr) => addr === "10.0.0.2:1" ? "absent" : "delivered";
    await router.deliver(2, '{"type":"typing","from":1,"active":false}');
    await eventually(() => link.delivers.length === 3, { what: "the resend" });
    assert.deepEqual(link.delivers.map((d) => d.addr), ["10.0.0.2:1", "10.0.0.2:1", "10.0.0.3:1"]);
    assert.equal(link.delivers[2].item.frame, '{"type":"typing","from":1,"active":false}');
  });
});

Deno.test("ClusterRouter retries a failed Deliver with a fresh lookup until a node takes it", async () => {
  await withRouter(async ({ engine, router, link }) => {
    await addSession(engine, 2, entry("n2", "s", "10.0.0.2:1"));
    // n2 restarts: calls fail for a while; meanwhile the user's session moves to n3.
    let down = true;
    link.outcome = (addr) => addr === "10.0.0.2:1" && down ? "failed" : "delivered";
    await router.deliver(2, typing, { item: { seq: 3, from: 1, id: 9 } });
    await eventually(() => link.delivers.length >= 3, { what: "two retries" });
    assert.equal(router.retrying, 1);
    await removeSession(engine, 2, "s");
    await addSession(engine, 2, entry("n3", "t", "10.0.0.3:1"));
    await eventually(() => router.retrying === 0, { what: "the retry to end" });
    const last = link.delivers[link.delivers.length - 1];
    assert.equal(last.addr, "10.0.0.3:1");
    assert.equal(last.item.seq, 3);
    // A node that comes back gets what failed: no status needed, only its answer.
    down = false;
    link.outcome = (addr) => addr === "10.0.0.2:1" && down ? "failed" : "delivered";
    await addSession(engine, 4, entry("n2", "u", "10.0.0.2:1"));
    down = true;
    await router.deliver(4, typing);
    const before = link.delivers.length;
    await eventually(() => link.delivers.length > before + 1, { what: "a retry" });
    down = false;
    await eventually(() => router.retrying === 0, { what: "the retry to succeed" });
  });
});

Deno.test("ClusterRouter gives a failed Deliver up after its time", async () => {
  await withRouter(async ({ engine, router, link, metrics }) => {
    await addSession(engine, 2, entry("n2", "s", "10.0.0.2:1"));
    link.outcome = () => "failed";
    const t0 = Date.now();
    await router.deliver(2, typing);
    await eventually(() => router.retrying === 0, { what: "the retries to give up" });
    assert.ok(Date.now() - t0 >= 600, `gave up after ${Date.now() - t0} ms`);
    assert.ok(link.delivers.length >= 3, `${link.delivers.length} attempts`);
    assert.match(
      await metrics.registry.text(),
      /parley_chat_cross_node_deliveries_total\{[^}]*result="gave_up"[^}]*\} 1/,
    );
  }, { retryForMs: 700 });
});

Deno.test("ClusterRouter.kick() ends the user's sessions here and on each live node; by session only that one", async () => {
  await withRouter(async ({ engine, router, link, sessions }) => {
    const [h1, h2] = [new RecordingSession(1, "h1"), new RecordingSession(1, "h2")];
    sessions.add(h1);
    sessions.add(h2);
    assert.equal(await router.kick(1, { reason: "r", replaced: true, session: "h2" }), true);
    assert.deepEqual([h1.kicked, h2.kicked], [null, { reason: "r", replaced: true }]);
    assert.equal(await router.kick(1, { reason: "r", replaced: true }), true);
    assert.deepEqual(h1.kicked, { reason: "r", replaced: true });
    assert.equal(link.kicks.length, 0);

    await upsertNode(engine, node("n1", "10.0.0.1:1"));
    await upsertNode(engine, node("n2", "10.0.0.2:1"));
    await upsertNode(engine, node("dead", "10.0.0.9:1", Date.now() - 60_000));
    for (const s of ["a", "b"]) await addSession(engine, 2, entry("n2", s, "10.0.0.2:1"));
    await addSession(engine, 2, entry("dead", "c", "10.0.0.9:1"));
    assert.equal(await router.kick(2, { reason: "bye", replaced: false, session: "zzz" }), false);
    assert.equal(await router.kick(2, { reason: "bye", replaced: false }), true);
    assert.deepEqual(link.kicks, [{
      addr: "10.0.0.2:1",
      req: { user_id: 2, session_id: "", reason: "bye", replaced: false },
    }], "one call per live node ends all the user's sessions there");
    assert.equal(await router.kick(4, { reason: "bye", replaced: true }), false);

    const n = await router.kickSessions(2, [entry("n2", "b", "10.0.0.2:1")], {
      reason: "cap",
      replaced: true,
    });
    assert.equal(n, 1);
    assert.deepEqual(link.kicks[1].req, {
      user_id: 2,
      session_id: "b",
      reason: "cap",
      replaced: true,
    });
  });
});

Deno.test("ClusterRouter.online(): a session here, or one on a node the registry does not know dead", async () => {
  await withRouter(async ({ engine, router, sessions }) => {
    sessions.add(new RecordingSession(1, "here"));
    await addSession(engine, 2, entry("n2", "s2"));
    await addSession(engine, 3, entry("dead", "s3"));
    await upsertNode(engine, node("dead", "10.0.0.9:1", Date.now() - 60_000));
    // Status keeps no registry with this node in it: it cannot tell a dead node.
    assert.deepEqual(await router.online([1, 2, 3, 4]), new Set([1, 2, 3]));
    await upsertNode(engine, node("n1", "10.0.0.1:1"));
    await upsertNode(engine, node("n2", "10.0.0.2:1"));
    await upsertNode(engine, node("dead", "10.0.0.9:1", Date.now() - 60_000));
    await sleep(2100);
    assert.deepEqual(await router.online([1, 2, 3, 4]), new Set([1, 2]));
    assert.deepEqual(await router.online([]), new Set());
  });
});

Deno.test({
  name:
    "ClusterRouter: while Redis is down, deliver() resolves (sessions here still get it) and online() rejects",
  ignore: !(await haveRedisServer()),
  async fn() {
    const server = await startRedisServer();
    const engine = await openEngine(`redis://127.0.0.1:${server.port}?prefix=t:`, {
      log: silentLogger,
    });
    try {
      await withRouter(async ({ router, link, sessions }) => {
        const local = new RecordingSession(1);
        sessions.add(local);
        await server.stop();
        await router.deliver(2, typing);
        await router.deliver(1, typing);
        await router.deliverMany([1, 2], typing);
        assert.equal(link.delivers.length, 0);
        assert.deepEqual(local.got, [typing, typing], "a local session still gets its events");
        await assert.rejects(() => router.online([2]));
      }, { engine });
    } finally {
      await engine.close();
      await server.stop();
    }
  },
});
