import assert from "node:assert/strict";
import { getPresence, openEngine, setPresence, upsertNode } from "../engine/mod.ts";
import type { NodeRecord } from "../engine/nodes.ts";
import { silentLogger } from "../log.ts";
import { startSweeper } from "./sweep.ts";

const TTL = 10_000;

function rec(name: string, heartbeatAt: number): NodeRecord {
  return {
    name,
    wsUrl: `ws://127.0.0.1:1/${name}`,
    grpcAddr: "127.0.0.1:1",
    sessions: 0,
    startedAt: heartbeatAt,
    state: "up",
    heartbeatAt,
  };
}

Deno.test("a sweep clears presence of nodes that expired since the last one, not of live ones", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  // A huge interval: this test drives the sweeps itself.
  const sweeper = startSweeper(engine, { ttlMs: TTL, log: silentLogger, intervalMs: 3_600_000 });
  try {
    await upsertNode(engine, rec("a", Date.now()));
    await upsertNode(engine, rec("b", Date.now()));
    await setPresence(engine, 1, { node: "a", session: "s1", since: 1 });
    await setPresence(engine, 2, { node: "b", session: "s2", since: 1 });
    const first = await sweeper.run();
    assert.deepEqual(first.live.map((n) => n.name), ["a", "b"]);
    assert.deepEqual(first.cleared, {});

    // "a" last heartbeated longer ago than the TTL.
    await upsertNode(engine, rec("a", Date.now() - TTL - 1));
    const second = await sweeper.run();
    assert.deepEqual(second.live.map((n) => n.name), ["b"]);
    assert.deepEqual(second.cleared, { a: 1 });
    assert.equal(await getPresence(engine, 1), null);
    assert.equal((await getPresence(engine, 2))?.node, "b");
  } finally {
    await sweeper.stop();
    await engine.close();
  }
});

Deno.test("a full sweep clears presence pointing to nodes it never saw live", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  const sweeper = startSweeper(engine, { ttlMs: TTL, log: silentLogger, intervalMs: 3_600_000 });
  try {
    await upsertNode(engine, rec("live", Date.now()));
    await setPresence(engine, 1, { node: "live", session: "s1", since: 1 });
    await setPresence(engine, 2, { node: "gone", session: "s2", since: 1 });
    await setPresence(engine, 3, { node: "gone", session: "s3", since: 1 });
    assert.deepEqual((await sweeper.run()).cleared, {}, "a plain sweep does not scan presence");
    assert.deepEqual((await sweeper.run({ fullScan: true })).cleared, { gone: 2 });
    assert.equal((await getPresence(engine, 1))?.node, "live");
    assert.equal(await getPresence(engine, 2), null);
  } finally {
    await sweeper.stop();
    await engine.close();
  }
});

Deno.test("a sweep reports the live nodes to onLive", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  const seen: string[][] = [];
  const sweeper = startSweeper(engine, {
    ttlMs: TTL,
    log: silentLogger,
    intervalMs: 3_600_000,
    onLive: (live) => seen.push(live.map((n) => n.name)),
  });
  try {
    await upsertNode(engine, rec("x", Date.now()));
    await sweeper.run();
    assert.deepEqual(seen, [["x"]]);
  } finally {
    await sweeper.stop();
    await engine.close();
  }
});
