/**
 * The admin calls with several sessions per user: Presence and UserInfo
 * list every session (node, device, label, since) on live nodes, ListOnline
 * counts a user once, and Kick ends every session, one named session, or
 * those of one token, one call per session on the node holding it.
 */
import assert from "node:assert/strict";
import { TEST_CLUSTER_SECRET, testConfig, testDeps } from "../../testing/mod.ts";
import { addSession, getSessions, openEngine } from "../engine/mod.ts";
import { openStore } from "../store/mod.ts";
import { silentLogger } from "../log.ts";
import { serve } from "../../proto/grpc.ts";
import {
  adminMetadata,
  CHAT_SERVICE,
  type NodeKickRequest,
  statusClient,
} from "../../proto/services.ts";
import { start } from "./mod.ts";

const TOKEN = "test-admin-token-0123456789";
const admin = { metadata: adminMetadata(TOKEN) };

/** A chat node that records kicks (and ends what it is asked to). */
async function fakeChatNode(held: Set<string>) {
  const kicks: NodeKickRequest[] = [];
  const server = await serve("127.0.0.1", 0, [{
    file: "chat.proto",
    service: CHAT_SERVICE,
    handlers: {
      Kick: (req: NodeKickRequest) => {
        kicks.push(req);
        return Promise.resolve({ kicked: held.delete(req.session_id) });
      },
      Deliver: (req: { items: unknown[] }) =>
        Promise.resolve({ delivered: req.items.map(() => false) }),
    },
  }], { auth: { clusterSecrets: [TEST_CLUSTER_SECRET] } });
  return { kicks, server, addr: `127.0.0.1:${server.port}` };
}

Deno.test("Presence, UserInfo and ListOnline list every session of a user on live nodes; Kick ends all, one, or a token's", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  const store = await openStore("sqlite::memory:", { log: silentLogger });
  await store.migrate();
  const role = await start(testConfig({ adminToken: TOKEN }), testDeps({ engine, store }));
  const client = statusClient(`127.0.0.1:${role.ports.grpc}`, {
    clusterSecret: TEST_CLUSTER_SECRET,
  });
  const held = new Set(["s1", "s2", "s3"]);
  const [n1, n2] = [await fakeChatNode(held), await fakeChatNode(held)];
  try {
    const ann = await store.createUser({
      email: "ann@example.com",
      name: "ann",
      passwordHash: "x",
    });
    for (const [name, addr] of [["n1", n1.addr], ["n2", n2.addr]]) {
      await client.RegisterNode({
        name,
        ws_url: `ws://${name}/ws`,
        grpc_addr: addr,
        sessions: 1,
        started_at_ms: 1,
        state: "up",
      });
    }
    const s = (session: string, node: string, since: number, device: string, jti: string) => ({
      session,
      node,
      since,
      device,
      label: device.toUpperCase(),
      jti,
    });
    await addSession(engine, ann.id, s("s2", "n2", 2000, "phone", "j2"));
    await addSession(engine, ann.id, s("s1", "n1", 1000, "laptop", "j1"));
    await addSession(engine, ann.id, s("s3", "n1", 3000, "term", "j1"));
    // A session on a node no status ever saw live is not shown.
    await addSession(engine, ann.id, s("s9", "gone", 500, "old", "j9"));

    const p = await client.Presence({ id: ann.id, login: "" }, admin);
    assert.equal(p.online, true);
    assert.deepEqual([p.node, p.session_id, p.since_ms], ["n1", "s3", 3000], "the newest");
    assert.deepEqual(p.sessions, [
      { session_id: "s1", node: "n1", device: "laptop", label: "LAPTOP", since_ms: 1000 },
      { session_id: "s2", node: "n2", device: "phone", label: "PHONE", since_ms: 2000 },
      { session_id: "s3", node: "n1", device: "term", label: "TERM", since_ms: 3000 },
    ]);
    const info = await client.UserInfo({ id: 0, login: "ann" }, admin);
    assert.equal(info.presence?.sessions.length, 3);
    const online = await client.ListOnline({ cursor: "", limit: 10 }, admin);
    assert.equal(online.users.length, 1);
    assert.equal(online.users[0].sessions.length, 3);

    // One session by id: only that call.
    const one = await client.Kick(
      { user: { id: ann.id, login: "" }, reason: "", session_id: "s2" },
      admin,
    );
    assert.deepEqual(one, { kicked: true, node: "n2", sessions: 1 });
    assert.deepEqual(n2.kicks.map((k) => k.session_id), ["s2"]);
    // A logout: the sessions of one token (the gate passes its jti).
    const byToken = await client.Kick({
      user: { id: ann.id, login: "" },
      reason: "logged out",
      token_id: "j1",
    });
    assert.deepEqual(byToken, { kicked: true, node: "n1", sessions: 2 });
    assert.deepEqual(n1.kicks.map((k) => [k.session_id, k.reason]).sort(), [
      ["s1", "logged out"],
      ["s3", "logged out"],
    ]);
    // Nothing left to end (the fake node ended them; presence still lists them).
    const none = await client.Kick({ user: { id: ann.id, login: "" }, reason: "" }, admin);
    assert.deepEqual(none, { kicked: false, node: "", sessions: 0 });
    assert.equal(n1.kicks.length + n2.kicks.length, 6, "every session asked once more, by id");
    assert.equal(
      (await getSessions(engine, ann.id)).length,
      4,
      "status never edits presence itself",
    );
  } finally {
    client.close();
    await role.close();
    await n1.server.close();
    await n2.server.close();
    await store.close();
    await engine.close();
  }
});
