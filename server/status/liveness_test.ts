import assert from "node:assert/strict";
import { MemoryEngine } from "../engine/memory.ts";
import { getNode, type NodeRecord, upsertNode } from "../engine/nodes.ts";
import { getPresence, setPresence } from "../engine/presence.ts";
import { silentLogger } from "../log.ts";
import { serve } from "../../proto/grpc.ts";
import { eventually } from "../../testing/mod.ts";
import { LivenessWatcher } from "./liveness.ts";

/** A gRPC listener standing in for a chat node's (the watcher makes no calls). */
function fakeNode() {
  return serve("127.0.0.1", 0, [{
    file: "verify.proto",
    service: "parley.verify.VerifyService",
    handlers: {
      SendCode: () => Promise.resolve({}),
      CheckCode: () => Promise.resolve({}),
    },
  }], { auth: { clusterSecrets: ["liveness-test-secret-0123456789"] } });
}

function record(name: string, port: number, startedAt: number): NodeRecord {
  return {
    name,
    wsUrl: `ws://127.0.0.1:1/${name}`,
    grpcAddr: `127.0.0.1:${port}`,
    sessions: 0,
    startedAt,
    state: "up",
    heartbeatAt: Date.now(),
  };
}

Deno.test("a node whose connection drops and whose port refuses is removed with its presence", async () => {
  const engine = new MemoryEngine();
  const node = await fakeNode();
  const dead: string[] = [];
  const watcher = new LivenessWatcher({
    engine,
    log: silentLogger,
    tls: null,
    onDead: (n) => dead.push(n.name),
  });
  try {
    const rec = record("n1", node.port, 1000);
    await upsertNode(engine, rec);
    await setPresence(engine, 7, { node: "n1", session: "s1", since: 1 });
    watcher.watch(rec);
    await new Promise((r) => setTimeout(r, 300));
    assert.notEqual(await getNode(engine, "n1"), null, "a live node stays");
    const t0 = Date.now();
    await node.close();
    await eventually(() => dead.length === 1, { timeoutMs: 3000, what: "the node found dead" });
    assert.ok(Date.now() - t0 < 1500, `${Date.now() - t0} ms`);
    assert.equal(await getNode(engine, "n1"), null);
    assert.equal(await getPresence(engine, 7), null);
  } finally {
    watcher.close();
    await node.close();
  }
});

Deno.test("a node that registered again with a new start time is not removed for its old run", async () => {
  const engine = new MemoryEngine();
  const node = await fakeNode();
  const dead: string[] = [];
  const watcher = new LivenessWatcher({
    engine,
    log: silentLogger,
    tls: null,
    onDead: (n) => dead.push(n.name),
  });
  try {
    watcher.watch(record("n1", node.port, 1000));
    await new Promise((r) => setTimeout(r, 300));
    // The process restarted on the same port: its new run is in the registry.
    await upsertNode(engine, record("n1", node.port, 2000));
    await node.close();
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(dead, []);
    assert.equal((await getNode(engine, "n1"))?.startedAt, 2000);
  } finally {
    watcher.close();
    await node.close();
  }
});
