import assert from "node:assert/strict";
import { startCluster } from "./_test_kit.ts";
import { connect, eventually, freePort, testConfig, testDeps } from "../../testing/mod.ts";
import { getNode, removeNode } from "../engine/nodes.ts";
import { start } from "./mod.ts";

Deno.test("a chat node registers its bound addresses, heartbeats its sessions and registers again when forgotten", async () => {
  const c = await startCluster();
  try {
    const rec = await getNode(c.engine, "chat-1");
    assert.equal(rec?.wsUrl, c.url);
    assert.match(rec!.grpcAddr, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(rec!.grpcAddr, "127.0.0.1:0");
    await c.connect(await c.user("alice"));
    // The test cluster's node TTL is 3 s: a heartbeat every second.
    await eventually(async () => (await getNode(c.engine, "chat-1"))?.sessions === 1, {
      what: "a heartbeat with one session",
    });
    await removeNode(c.engine, "chat-1");
    await eventually(async () => (await getNode(c.engine, "chat-1")) !== null, {
      what: "the node to register again",
    });
  } finally {
    await c.close();
  }
});

Deno.test("a chat node starts and serves while status is unreachable", async () => {
  const c = await startCluster();
  try {
    const config = testConfig({
      jwtSecret: c.nodes[0].config.jwtSecret,
      status: { address: `127.0.0.1:${await freePort()}`, nodeTtlMs: 3000 },
      chat: { name: "lonely" },
    });
    const handle = await start(config, testDeps({ store: c.store, engine: c.engine }));
    try {
      const alice = await c.user("alice");
      const client = c.track(
        await connect(`ws://127.0.0.1:${handle.ports.ws}/ws`, await c.token(alice.id)),
      );
      assert.equal(client.welcome!.node, "lonely");
      await client.close();
    } finally {
      await handle.close();
    }
  } finally {
    await c.close();
  }
});
