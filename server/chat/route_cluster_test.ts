/**
 * The cluster router on a memory engine, with a link that records what it
 * would send to other nodes over gRPC: where an event goes, when it is
 * dropped, the retry after a stale cached record, kicks, online state, and
 * that routing never fails its caller while Redis is down.
 */
import assert from "node:assert/strict";
import { silentLogger } from "../log.ts";
import { openEngine } from "../engine/mod.ts";
import type { Engine } from "../engine/types.ts";
import { upsertNode } from "../engine/nodes.ts";
import { setPresence } from "../engine/presence.ts";
import { haveRedisServer, startRedisServer } from "../engine/_redis_servers.ts";
import { eventually } from "../../testing/mod.ts";
import { LocalSessions } from "./local_sessions.ts";
import { chatMetrics } from "./metrics.ts";
import { ClusterRouter } from "./route_cluster.ts";
import { RecordingLink, RecordingSession } from "./_routing_fakes.ts";

const TTL = 5000;

async function withRouter(
  fn: (t: {
    engine: Engine;
    router: ClusterRouter;
    link: RecordingLink;
    sessions: LocalSessions;
  }) => Promise<void>,
  engine?: Engine,
) {
  const e = engine ?? await openEngine("memory:", { log: silentLogger });
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
  });
  try {
    await fn({ engine: e, router, link, sessions });
  } finally {
    router.close();
    if (!engine) await e.close();
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

const typing = { type: "typing", from: 1, active: true } as const;

Deno.test("ClusterRouter pushes to a local session, sends to the node presence names, drops for the offline and the dead", async () => {
  await withRouter(async ({ engine, router, link, sessions }) => {
    const local = new RecordingSession(1);
    sessions.add(local);
    await upsertNode(engine, node("n2", "10.0.0.2:1"));
    await upsertNode(engine, node("dead", "10.0.0.9:1", Date.now() - 60_000));
    await setPresence(engine, 2, { node: "n2", session: "s2", since: 1 });
    await setPresence(engine, 3, { node: "dead", session: "s3", since: 1 });
    for (const id of [1, 2, 3, 4]) await router.deliver(id, typing);
    assert.deepEqual(local.got, [typing]);
    assert.deepEqual(link.delivers, [
      { addr: "10.0.0.2:1", item: { user_id: 2, frame: JSON.stringify(typing) } },
    ]);
    await router.deliverMany([1, 2, 3, 4], typing);
    assert.equal(local.got.length, 2);
    assert.equal(link.delivers.length, 2);
  });
});

Deno.test("ClusterRouter looks again and resends when a Deliver through a cached record comes back undelivered", async () => {
  await withRouter(async ({ engine, router, link }) => {
    await upsertNode(engine, node("n2", "10.0.0.2:1"));
    await upsertNode(engine, node("n3", "10.0.0.3:1"));
    await setPresence(engine, 2, { node: "n2", session: "old", since: 1 });
    await router.deliver(2, typing);
    // The user moved to n3; n2 no longer has them, and this node still caches "n2".
    await setPresence(engine, 2, { node: "n3", session: "new", since: 2 });
    link.delivered = (addr) => addr !== "10.0.0.2:1";
    await router.deliver(2, '{"type":"typing","from":1,"active":false}');
    await eventually(() => link.delivers.length === 3, { what: "the resend" });
    assert.deepEqual(link.delivers.map((d) => d.addr), ["10.0.0.2:1", "10.0.0.2:1", "10.0.0.3:1"]);
    assert.equal(link.delivers[2].item.frame, '{"type":"typing","from":1,"active":false}');
  });
});

Deno.test("ClusterRouter.kick() ends the local session and the one presence names on a live node", async () => {
  await withRouter(async ({ engine, router, link, sessions }) => {
    const here = new RecordingSession(1, "h");
    sessions.add(here);
    assert.equal(await router.kick(1, { reason: "r", replaced: true }), true);
    assert.deepEqual(here.kicked, { reason: "r", replaced: true });
    assert.equal(link.kicks.length, 0);

    await upsertNode(engine, node("n2", "10.0.0.2:1"));
    await setPresence(engine, 2, { node: "n2", session: "s2", since: 1 });
    assert.equal(await router.kick(2, { reason: "bye", replaced: false, session: "other" }), false);
    assert.equal(await router.kick(2, { reason: "bye", replaced: false }), true);
    assert.deepEqual(link.kicks, [{
      addr: "10.0.0.2:1",
      req: { user_id: 2, session_id: "s2", reason: "bye", replaced: false },
    }]);

    await upsertNode(engine, node("dead", "10.0.0.9:1", Date.now() - 60_000));
    await setPresence(engine, 3, { node: "dead", session: "s3", since: 1 });
    assert.equal(await router.kick(3, { reason: "bye", replaced: true }), false);
    assert.equal(await router.kick(4, { reason: "bye", replaced: true }), false);
    assert.equal(link.kicks.length, 1);
  });
});

Deno.test("ClusterRouter.online() counts a session here only if presence names it, and sessions on live nodes", async () => {
  await withRouter(async ({ engine, router, sessions }) => {
    sessions.add(new RecordingSession(1, "current"));
    sessions.add(new RecordingSession(5, "stale"));
    await setPresence(engine, 1, { node: "n1", session: "current", since: 1 });
    await setPresence(engine, 5, { node: "n1", session: "newer", since: 1 });
    await upsertNode(engine, node("n2", "10.0.0.2:1"));
    await upsertNode(engine, node("dead", "10.0.0.9:1", Date.now() - 60_000));
    await setPresence(engine, 2, { node: "n2", session: "s2", since: 1 });
    await setPresence(engine, 3, { node: "dead", session: "s3", since: 1 });
    assert.deepEqual(await router.online([1, 2, 3, 4, 5]), new Set([1, 2]));
    assert.deepEqual(await router.online([]), new Set());
  });
});

Deno.test({
  name:
    "ClusterRouter: while Redis is down, deliver() resolves (the event is dropped) and online() rejects",
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
        await router.deliverMany([1, 2], typing);
        assert.equal(link.delivers.length, 0);
        assert.deepEqual(local.got, [typing], "a local session still gets its events");
        await assert.rejects(() => router.online([2]));
      }, engine);
    } finally {
      await engine.close();
      await server.stop();
    }
  },
});
