import assert from "node:assert/strict";
import { eventually, TEST_CLUSTER_SECRET, testConfig, testDeps } from "../../testing/mod.ts";
import { getPresence, openEngine, setPresence } from "../engine/mod.ts";
import type { Engine } from "../engine/types.ts";
import { openStore } from "../store/mod.ts";
import type { Store } from "../store/types.ts";
import { AppError } from "../../proto/errors.ts";
import { silentLogger } from "../log.ts";
import type { RoleHandle } from "../role.ts";
import { serve } from "../../proto/grpc.ts";
import {
  adminMetadata,
  CHAT_SERVICE,
  type NodeInfo,
  type NodeKickRequest,
  statusClient,
} from "../../proto/services.ts";
import { start } from "./mod.ts";

const TOKEN = "test-admin-token-0123456789";
const admin = { metadata: adminMetadata(TOKEN) };

const isCode = (code: string, status?: number) => (e: unknown) =>
  e instanceof AppError && e.code === code && (status === undefined || e.status === status);

interface Rig {
  engine: Engine;
  store: Store;
  role: RoleHandle;
  client: ReturnType<typeof statusClient>;
  close(): Promise<void>;
}

/** The status role on a free port over a memory engine and an in-memory SQLite store. */
async function rig(nodeTtlMs = 15_000): Promise<Rig> {
  const engine = await openEngine("memory:", { log: silentLogger });
  const store = await openStore("sqlite::memory:", { log: silentLogger });
  await store.migrate();
  const role = await start(
    testConfig({ adminToken: TOKEN, status: { nodeTtlMs } }),
    testDeps({ engine, store }),
  );
  // A cluster member's client: the cluster secret, but not the admin token.
  const client = statusClient(`127.0.0.1:${role.ports.grpc}`, {
    clusterSecret: TEST_CLUSTER_SECRET,
  });
  return {
    engine,
    store,
    role,
    client,
    async close() {
      client.close();
      await role.close();
      await store.close();
      await engine.close();
    },
  };
}

function node(
  name: string,
  sessions = 0,
  grpcAddr = "127.0.0.1:1",
): Omit<NodeInfo, "heartbeat_age_ms"> {
  return {
    name,
    ws_url: `ws://127.0.0.1:1/${name}`,
    grpc_addr: grpcAddr,
    sessions,
    started_at_ms: Date.now(),
    state: "up",
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("PickNode picks the least-loaded live node and skips draining ones", async () => {
  const r = await rig();
  try {
    await r.client.RegisterNode(node("n1", 5));
    await r.client.RegisterNode(node("n2", 2));
    const picked = await r.client.PickNode({});
    assert.equal(picked.name, "n2");
    assert.equal(picked.ws_url, "ws://127.0.0.1:1/n2");

    await r.client.Heartbeat({ name: "n2", sessions: 10, state: "up" });
    assert.equal((await r.client.PickNode({})).name, "n1");

    await r.client.Heartbeat({ name: "n1", sessions: 0, state: "draining" });
    assert.equal((await r.client.PickNode({})).name, "n2");

    await r.client.DeregisterNode({ name: "n2" });
    await assert.rejects(r.client.PickNode({}), isCode("no_chat_node", 503));
  } finally {
    await r.close();
  }
});

Deno.test("PickNode spreads a burst of logins between heartbeats over the nodes", async () => {
  const r = await rig();
  try {
    await r.client.RegisterNode(node("n1", 0));
    await r.client.RegisterNode(node("n2", 1));
    const picks: string[] = [];
    for (let i = 0; i < 5; i++) picks.push((await r.client.PickNode({})).name);
    // Loads: n1 0, n2 1 -> n1 (1,1) -> n1 wins the tie by name (2,1) -> n2 (2,2) -> n1 (3,2) -> n2.
    assert.deepEqual(picks, ["n1", "n1", "n2", "n1", "n2"]);
    // A heartbeat brings the real count and forgets the logins handed out.
    await r.client.Heartbeat({ name: "n1", sessions: 1, state: "up" });
    assert.equal((await r.client.PickNode({})).name, "n1");
  } finally {
    await r.close();
  }
});

Deno.test("PickNode skips nodes whose heartbeat expired and says no_chat_node when none is left", async () => {
  const r = await rig(600);
  try {
    await assert.rejects(
      r.client.PickNode({}),
      (e) => isCode("no_chat_node", 503)(e) && (e as AppError).retryAfterS === 1,
    );
    await r.client.RegisterNode(node("quiet", 0));
    await sleep(400);
    await r.client.RegisterNode(node("busy", 50));
    await sleep(300);
    // "quiet" has fewer sessions but has not heartbeated for 700 ms > 600 ms.
    assert.equal((await r.client.PickNode({})).name, "busy");
    // An expired node is told to register again.
    await assert.rejects(
      r.client.Heartbeat({ name: "quiet", sessions: 0, state: "up" }),
      isCode("node_unknown", 404),
    );
    await sleep(400);
    await assert.rejects(r.client.PickNode({}), isCode("no_chat_node", 503));
  } finally {
    await r.close();
  }
});

Deno.test("Heartbeat from a node that never registered gets node_unknown", async () => {
  const r = await rig();
  try {
    await assert.rejects(
      r.client.Heartbeat({ name: "ghost", sessions: 1, state: "up" }),
      isCode("node_unknown", 404),
    );
  } finally {
    await r.close();
  }
});

Deno.test("RegisterNode and Heartbeat refuse malformed nodes with invalid_node", async () => {
  const r = await rig();
  try {
    const bad: Partial<NodeInfo>[] = [
      { name: "" },
      { name: "has space" },
      { ws_url: "http://x/ws" },
      { grpc_addr: "nohost" },
      { state: "sleeping" },
      { sessions: -1 },
    ];
    for (const b of bad) {
      await assert.rejects(
        r.client.RegisterNode({ ...node("ok"), ...b }),
        isCode("invalid_node", 400),
        JSON.stringify(b),
      );
    }
    await r.client.RegisterNode(node("ok"));
    await assert.rejects(
      r.client.Heartbeat({ name: "ok", sessions: 1, state: "gone" }),
      isCode("invalid_node", 400),
    );
  } finally {
    await r.close();
  }
});

Deno.test("DeregisterNode takes the node out at once and clears its users' presence", async () => {
  const r = await rig();
  try {
    await r.client.RegisterNode(node("n1"));
    await r.client.RegisterNode(node("n2"));
    await setPresence(r.engine, 1, { node: "n1", session: "s1", since: Date.now() });
    await setPresence(r.engine, 2, { node: "n2", session: "s2", since: Date.now() });
    await r.client.DeregisterNode({ name: "n1" });
    const { nodes } = await r.client.ListNodes({}, admin);
    assert.deepEqual(nodes.map((n) => n.name), ["n2"]);
    assert.equal(await getPresence(r.engine, 1), null);
    assert.equal((await getPresence(r.engine, 2))?.session, "s2");
  } finally {
    await r.close();
  }
});

Deno.test("admin calls are refused without the admin token (the cluster secret is not enough) and served with it", async () => {
  const r = await rig();
  try {
    await r.client.RegisterNode(node("n1", 3));
    const calls: [string, unknown][] = [
      ["ListNodes", {}],
      ["Presence", { id: 1, login: "" }],
      ["ListOnline", { cursor: "", limit: 10 }],
      ["UserInfo", { id: 1, login: "" }],
      ["Stats", {}],
    ];
    const wrong = [
      undefined,
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
      { authorization: TOKEN },
      { authorization: `Basic ${TOKEN}` },
    ];
    // deno-lint-ignore no-explicit-any
    const c = r.client as any;
    for (const [method, req] of calls) {
      for (const metadata of wrong) {
        await assert.rejects(
          c[method](req, { metadata }),
          isCode("admin_unauthorized", 401),
          `${method} with ${JSON.stringify(metadata)}`,
        );
      }
    }
    const { nodes } = await r.client.ListNodes({}, admin);
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0].name, "n1");
    assert.equal(nodes[0].sessions, 3);
    assert.ok(nodes[0].heartbeat_age_ms >= 0 && nodes[0].heartbeat_age_ms < 5000);
    // The node calls need no admin token.
    await r.client.Heartbeat({ name: "n1", sessions: 4, state: "up" });
    // Kick takes the cluster secret alone (the gate ends sessions with it)...
    const ann = await r.store.createUser({
      email: "an@example.com",
      name: "an",
      passwordHash: "x",
    });
    const kick = { user: { id: ann.id, login: "" }, reason: "" };
    assert.deepEqual(await r.client.Kick(kick), { kicked: false, node: "", sessions: 0 });
    // ...or the admin token alone (parley-admin), and nothing less.
    const adminOnly = statusClient(r.client.target);
    try {
      assert.deepEqual(await adminOnly.Kick(kick, admin), { kicked: false, node: "", sessions: 0 });
      for (const metadata of wrong) {
        await assert.rejects(
          adminOnly.Kick(kick, { metadata }),
          isCode("unauthenticated", 401),
          `Kick with ${JSON.stringify(metadata)}`,
        );
      }
    } finally {
      adminOnly.close();
    }
  } finally {
    await r.close();
  }
});

Deno.test("Presence finds a user by id, name or e-mail and is online only while the node is live", async () => {
  const r = await rig(800);
  try {
    const ann = await r.store.createUser({
      email: "ann@example.com",
      name: "ann",
      passwordHash: "x",
    });
    await r.store.setLastSeen(ann.id, 1_700_000_000_000);
    const offline = await r.client.Presence({ id: ann.id, login: "" }, admin);
    assert.equal(offline.online, false);
    assert.equal(offline.name, "ann");
    assert.equal(offline.last_seen_ms, 1_700_000_000_000);

    await r.client.RegisterNode(node("n1"));
    await setPresence(r.engine, ann.id, { node: "n1", session: "sess-a", since: 1234 });
    for (
      const ref of [{ id: ann.id, login: "" }, { id: 0, login: "ANN" }, {
        id: 0,
        login: "ann@example.com",
      }]
    ) {
      const p = await r.client.Presence(ref, admin);
      assert.deepEqual(
        {
          online: p.online,
          node: p.node,
          session_id: p.session_id,
          since_ms: p.since_ms,
          user_id: p.user_id,
        },
        { online: true, node: "n1", session_id: "sess-a", since_ms: 1234, user_id: ann.id },
      );
    }
    await assert.rejects(
      r.client.Presence({ id: 999, login: "" }, admin),
      isCode("user_not_found", 404),
    );
    await assert.rejects(
      r.client.Presence({ id: 0, login: "nobody" }, admin),
      isCode("user_not_found", 404),
    );
    await assert.rejects(
      r.client.Presence({ id: 0, login: "" }, admin),
      isCode("invalid_user_ref", 400),
    );

    // n1 stops heartbeating: its record is stale, so ann reads as offline.
    await sleep(900);
    assert.equal((await r.client.Presence({ id: ann.id, login: "" }, admin)).online, false);
  } finally {
    await r.close();
  }
});

Deno.test("ListOnline pages through online users with their names and a total", async () => {
  const r = await rig();
  try {
    await r.client.RegisterNode(node("n1"));
    const names = ["u1", "u2", "u3", "u4", "u5"];
    for (const name of names) {
      const u = await r.store.createUser({ email: `${name}@example.com`, name, passwordHash: "x" });
      await setPresence(r.engine, u.id, { node: "n1", session: `s-${name}`, since: Date.now() });
    }
    const seen: string[] = [];
    let cursor = "";
    let pages = 0;
    do {
      const page = await r.client.ListOnline({ cursor, limit: 2 }, admin);
      assert.equal(page.total, 5);
      for (const u of page.users) {
        assert.equal(u.online, true);
        assert.equal(u.node, "n1");
        assert.equal(u.session_id, `s-${u.name}`);
        seen.push(u.name);
      }
      cursor = page.next_cursor;
      assert.ok(++pages < 10, "the listing ends");
    } while (cursor !== "");
    assert.deepEqual(seen.sort(), names);
    assert.ok(pages >= 2, "a limit of 2 gives several pages");
    await assert.rejects(
      r.client.ListOnline({ cursor: "not-a-cursor", limit: 2 }, admin),
      isCode("bad_cursor", 400),
    );
  } finally {
    await r.close();
  }
});

Deno.test("Kick forwards to the chat node holding the user's session", async () => {
  const kicks: NodeKickRequest[] = [];
  const chatNode = await serve("127.0.0.1", 0, [{
    file: "chat.proto",
    service: CHAT_SERVICE,
    handlers: {
      Kick: (req: NodeKickRequest) => {
        kicks.push(req);
        return Promise.resolve({ kicked: true });
      },
      Deliver: (req: { items: unknown[] }) =>
        Promise.resolve({ delivered: req.items.map(() => false) }),
    },
  }], { auth: { clusterSecrets: [TEST_CLUSTER_SECRET] } });
  const r = await rig();
  try {
    const bo = await r.store.createUser({ email: "bo@example.com", name: "bo", passwordHash: "x" });
    const cy = await r.store.createUser({ email: "cy@example.com", name: "cy", passwordHash: "x" });
    await r.client.RegisterNode(node("n1", 1, `127.0.0.1:${chatNode.port}`));
    await setPresence(r.engine, bo.id, { node: "n1", session: "sess-bo", since: Date.now() });

    const reply = await r.client.Kick({ user: { id: 0, login: "bo" }, reason: "spam" }, admin);
    assert.deepEqual(reply, { kicked: true, node: "n1", sessions: 1 });
    // An admin kick is not a replacement: the user goes offline for their friends.
    assert.deepEqual(kicks, [{
      user_id: bo.id,
      session_id: "sess-bo",
      reason: "spam",
      replaced: false,
    }]);

    assert.deepEqual(
      await r.client.Kick({ user: { id: cy.id, login: "" }, reason: "" }, admin),
      { kicked: false, node: "", sessions: 0 },
    );
    assert.equal(kicks.length, 1, "an offline user costs no call");
    await assert.rejects(
      r.client.Kick({ user: { id: 0, login: "nobody" }, reason: "" }, admin),
      isCode("user_not_found", 404),
    );
  } finally {
    await r.close();
    await chatNode.close();
  }
});

Deno.test("UserInfo and Stats count users, friends, messages and sessions", async () => {
  const r = await rig();
  try {
    const mk = (name: string) =>
      r.store.createUser({ email: `${name}@example.com`, name, passwordHash: "x" });
    const [a, b] = [await mk("alba"), await mk("bert"), await mk("cleo")];
    await r.store.createFriendRequest(a.id, b.id, "hi");
    assert.equal(await r.store.acceptFriendRequest(b.id, a.id), true);
    const msg = (from: number, to: number, clientId: string) =>
      r.store.insertMessage({
        senderId: from,
        recipientId: to,
        clientId,
        text: "hey",
        createdAt: Date.now(),
      });
    await msg(a.id, b.id, "m1");
    await msg(a.id, b.id, "m2");
    await msg(b.id, a.id, "m3");
    await r.client.RegisterNode(node("n1"));
    await r.client.RegisterNode(node("n2"));
    await r.client.Heartbeat({ name: "n1", sessions: 4, state: "up" });
    await r.client.Heartbeat({ name: "n2", sessions: 6, state: "draining" });
    await setPresence(r.engine, a.id, { node: "n2", session: "sa", since: 42 });

    const info = await r.client.UserInfo({ id: 0, login: "alba@example.com" }, admin);
    assert.equal(info.id, a.id);
    assert.equal(info.email, "alba@example.com");
    assert.equal(info.name, "alba");
    assert.equal(info.friends, 1);
    assert.equal(info.messages, 3, "two sent and one received");
    assert.equal(info.created_at_ms, a.createdAt);
    assert.equal(info.presence?.online, true);
    assert.equal(info.presence?.node, "n2");

    const stats = await r.client.Stats({}, admin);
    assert.equal(stats.users, 3);
    assert.equal(stats.messages, 3);
    assert.equal(stats.sessions, 10);
    assert.deepEqual(stats.nodes.map((n) => [n.name, n.sessions, n.state]), [
      ["n1", 4, "up"],
      ["n2", 6, "draining"],
    ]);
  } finally {
    await r.close();
  }
});

Deno.test("the status role sweeps out a node that stopped heartbeating, with its users' presence", async () => {
  const r = await rig(400);
  try {
    await r.client.RegisterNode(node("dies"));
    await setPresence(r.engine, 7, { node: "dies", session: "s7", since: Date.now() });
    // Presence on a node no status role ever saw live is found by the first full scan.
    await setPresence(r.engine, 8, { node: "never-seen", session: "s8", since: Date.now() });
    await eventually(async () => (await getPresence(r.engine, 8)) === null, {
      what: "presence on an unknown node to be cleared",
    });
    await eventually(async () => (await getPresence(r.engine, 7)) === null, {
      what: "presence on the expired node to be cleared",
    });
    assert.deepEqual((await r.client.ListNodes({}, admin)).nodes, []);
  } finally {
    await r.close();
  }
});
