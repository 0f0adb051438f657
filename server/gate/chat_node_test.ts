import assert from "node:assert/strict";
import { createApp } from "./app.ts";
import { CHAT_NODE_PATH } from "./chat_node.ts";
import type { Services } from "./request.ts";
import { gateMetrics } from "./telemetry.ts";
import { start as startStatus } from "../status/mod.ts";
import { openEngine } from "../engine/mod.ts";
import { openStore } from "../store/mod.ts";
import { silentLogger } from "../log.ts";
import { signToken } from "../tokens.ts";
import { testConfig, testDeps } from "../../testing/mod.ts";
import { type NodeInfo, statusClient } from "../../proto/services.ts";

function node(name: string, sessions: number, state = "up"): Omit<NodeInfo, "heartbeat_age_ms"> {
  return {
    name,
    ws_url: `ws://127.0.0.1:1/${name}`,
    grpc_addr: "127.0.0.1:1",
    sessions,
    started_at_ms: Date.now(),
    state,
  };
}

/**
 * A gate app over a memory engine and a SQLite store (which says whether a
 * token still holds), with the real status role behind it over gRPC;
 * `picks` counts the PickNode calls the gate made. Verify must not be
 * needed by this endpoint, so it fails if used. `users` are ids of users
 * that exist.
 */
async function rig() {
  const config = testConfig();
  const engine = await openEngine("memory:", { log: silentLogger });
  const store = await openStore("sqlite::memory:", { log: silentLogger });
  await store.migrate();
  const users: number[] = [];
  for (const name of ["u1", "u2"]) {
    users.push((await store.createUser({ email: `${name}@x.test`, name, passwordHash: "h" })).id);
  }
  const role = await startStatus(config, testDeps({ engine, store }));
  const status = statusClient(`127.0.0.1:${role.ports.grpc}`, {
    clusterSecret: config.clusterSecret,
  });
  let picks = 0;
  const refuse = () => Promise.reject(new Error("must not be used"));
  const s: Services = {
    config,
    log: silentLogger,
    store: () => Promise.resolve(store),
    engine: () => Promise.resolve(engine),
    verify: { SendCode: refuse, CheckCode: refuse },
    status: {
      PickNode: (req, options) => {
        picks++;
        return status.PickNode(req, options);
      },
      Kick: refuse,
    },
    metrics: gateMetrics(),
  };
  const app = createApp(s);
  const ask = async (token?: string, method = "POST") => {
    const res = await app.request(CHAT_NODE_PATH, {
      method,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    return { res, status: res.status, json: await res.json() };
  };
  return {
    config,
    engine,
    store,
    users,
    status,
    ask,
    picks: () => picks,
    async close() {
      status.close();
      await role.close();
      await store.close();
      await engine.close();
    },
  };
}

Deno.test("POST /session/chat-node names the least-loaded live node and the token's expiry", async () => {
  const r = await rig();
  try {
    await r.status.RegisterNode(node("busy", 5));
    await r.status.RegisterNode(node("quiet", 1));
    await r.status.RegisterNode(node("leaving", 0, "draining"));
    const { token, claims } = await signToken(r.config.jwtSecret, r.users[0], 3600);
    const got = await r.ask(token);
    assert.equal(got.status, 200, JSON.stringify(got.json));
    assert.deepEqual(got.json, {
      chat_url: "ws://127.0.0.1:1/quiet",
      expires_at: claims.expiresAtMs,
    });
    assert.equal(r.picks(), 1);
  } finally {
    await r.close();
  }
});

Deno.test("POST /session/chat-node refuses a missing, revoked or expired token without picking a node", async () => {
  const r = await rig();
  try {
    await r.status.RegisterNode(node("n1", 0));
    const none = await r.ask();
    assert.equal(none.status, 401);
    assert.equal(none.json.error.code, "unauthorized");

    const out = await signToken(r.config.jwtSecret, r.users[0], 3600);
    await r.store.revokeToken(out.claims.jti, r.users[0], out.claims.expiresAtMs);
    const loggedOut = await r.ask(out.token);
    assert.equal(loggedOut.status, 401);
    assert.equal(loggedOut.json.error.code, "token_revoked");

    // A password reset moves the user's auth epoch: every token signed at the old one is refused.
    const before = await signToken(r.config.jwtSecret, r.users[1], 3600, { authEpoch: 0 });
    assert.equal((await r.ask(before.token)).status, 200);
    await r.store.setPasswordHash(r.users[1], "h2", { endSessions: true });
    const reset = await r.ask(before.token);
    assert.equal(reset.json.error.code, "token_revoked");
    const after = await signToken(r.config.jwtSecret, r.users[1], 3600, { authEpoch: 1 });
    assert.equal((await r.ask(after.token)).status, 200);
    // A token of a user the store does not have.
    const nobody = await signToken(r.config.jwtSecret, r.users[1] + 100, 3600);
    assert.equal((await r.ask(nobody.token)).json.error.code, "token_invalid");

    const expired = await signToken(r.config.jwtSecret, r.users[0], -10);
    assert.equal((await r.ask(expired.token)).json.error.code, "token_expired");
    assert.equal((await r.ask("not.a.jwt")).json.error.code, "token_invalid");
    assert.equal(r.picks(), 2, "status was asked only for the two good tokens");

    const get = await r.ask(out.token, "GET");
    assert.equal(get.status, 405);
    assert.equal(get.res.headers.get("allow"), "POST, OPTIONS");
  } finally {
    await r.close();
  }
});

Deno.test("POST /session/chat-node answers 503 no_chat_node with Retry-After when no node is up", async () => {
  const r = await rig();
  try {
    await r.status.RegisterNode(node("leaving", 0, "draining"));
    const { token } = await signToken(r.config.jwtSecret, r.users[0], 3600);
    const got = await r.ask(token);
    assert.equal(got.status, 503);
    assert.equal(got.json.error.code, "no_chat_node");
    assert.ok(Number(got.res.headers.get("retry-after")) > 0);
  } finally {
    await r.close();
  }
});
