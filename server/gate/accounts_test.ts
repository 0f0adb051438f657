/**
 * The token side of the account endpoints on a real SQLite store and memory
 * engine (verify and status stand-ins): a login signs the auth epoch it read,
 * logout and password change end tokens in the store, the gate forgets
 * expired revocations at most hourly, and a login's rehash never undoes a
 * password change.
 */
import assert from "node:assert/strict";
import { randomBytes, scryptSync } from "node:crypto";
import { createApp } from "./app.ts";
import type { Services } from "./request.ts";
import { gateMetrics } from "./telemetry.ts";
import { openEngine } from "../engine/mod.ts";
import { silentLogger } from "../log.ts";
import { hashPassword } from "../passwords.ts";
import { openStore } from "../store/mod.ts";
import { eventually, testConfig } from "../../testing/mod.ts";
import { endReasons, readToken } from "../tokens.ts";

async function rig() {
  const store = await openStore("sqlite::memory:", { log: silentLogger });
  await store.migrate();
  const engine = await openEngine("memory:", { log: silentLogger });
  const kicks: { id: number; reason: string; token_id: string }[] = [];
  const config = testConfig();
  const s: Services = {
    config,
    log: silentLogger,
    store: () => Promise.resolve(store),
    engine: () => Promise.resolve(engine),
    verify: {
      SendCode: () => Promise.reject(new Error("not used")),
      CheckCode: () => Promise.reject(new Error("not used")),
    },
    status: {
      PickNode: () => Promise.resolve({ node: { ws_url: "ws://127.0.0.1:1/ws" } } as never),
      Kick: (req) => {
        kicks.push({ id: req.user.id, reason: req.reason, token_id: req.token_id ?? "" });
        return Promise.resolve({ kicked: true } as never);
      },
    },
    metrics: gateMetrics(),
  };
  const app = createApp(s);
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await app.request(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };
  const user = await store.createUser({
    email: "pat@example.com",
    name: "pat",
    passwordHash: await hashPassword("first password"),
  });
  return {
    secret: config.jwtSecret,
    store,
    engine,
    user,
    kicks,
    call,
    login: (password = "first password") =>
      call("POST", "/api/v1/login", { login: "pat", password }),
    async close() {
      await store.close();
      await engine.close();
    },
  };
}

Deno.test("login signs the epoch it read; logout and password change end tokens in the store", async () => {
  const r = await rig();
  try {
    const first = await r.login();
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const claims = await readToken(r.secret, first.json.token);
    assert.equal(claims.authEpoch, 0);

    const second = (await r.login()).json.token;
    assert.equal((await r.call("POST", "/api/v1/logout", undefined, first.json.token)).status, 204);
    const states = await r.store.authStates([], [claims.jti]);
    assert.deepEqual(states.revoked, new Set([claims.jti]));
    assert.deepEqual(r.kicks, [{ id: r.user.id, reason: "logged out", token_id: claims.jti }]);
    assert.equal((await r.call("GET", "/api/v1/me", undefined, second)).status, 200);

    const change = await r.call("POST", "/api/v1/password/change", {
      old_password: "first password",
      new_password: "second password",
    }, second);
    assert.equal(change.status, 204, JSON.stringify(change.json));
    assert.deepEqual((await r.store.authStates([r.user.id], [])).epochs, new Map([[r.user.id, 1]]));
    assert.equal(r.kicks[1].reason, "password changed");
    assert.deepEqual(
      await endReasons(r.engine, [r.user.id]),
      new Map([[r.user.id, "password changed"]]),
    );
    const refused = await r.call("GET", "/api/v1/me", undefined, second);
    assert.equal(refused.json.error.code, "token_revoked");

    const third = await r.login("second password");
    assert.equal((await readToken(r.secret, third.json.token)).authEpoch, 1);
    assert.equal((await r.call("GET", "/api/v1/me", undefined, third.json.token)).status, 200);
  } finally {
    await r.close();
  }
});

Deno.test("the gate forgets revocations of expired tokens, at most once an hour", async () => {
  const r = await rig();
  try {
    const now = Date.now();
    await r.store.revokeToken("expired-1", r.user.id, now - 1000);
    await r.store.revokeToken("still-valid", r.user.id, now + 60_000);
    const jtis = ["expired-1", "expired-2", "still-valid"];
    assert.equal((await r.login()).status, 200);
    await eventually(async () => (await r.store.authStates([], jtis)).revoked.size === 1, {
      what: "the expired revocation pruned",
    });
    assert.deepEqual((await r.store.authStates([], jtis)).revoked, new Set(["still-valid"]));

    // Within the hour, neither a login nor a logout prunes again.
    await r.store.revokeToken("expired-2", r.user.id, now - 1000);
    const token = (await r.login()).json.token;
    assert.equal((await r.call("POST", "/api/v1/logout", undefined, token)).status, 204);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok((await r.store.authStates([], jtis)).revoked.has("expired-2"));
  } finally {
    await r.close();
  }
});

/** A hash made the old way (scrypt), which a login replaces with Argon2id. */
function scryptHash(password: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize("NFC"), salt, 32, { N: 1024, r: 8, p: 1 });
  return ["scrypt", 1024, 8, 1, salt.toString("base64"), key.toString("base64")].join("$");
}

Deno.test("a login's rehash never undoes a password change that landed after its read", async () => {
  const r = await rig();
  try {
    await r.store.setPasswordHash(r.user.id, scryptHash("first password"));
    // The change lands between the login's read of the old hash and its rehash.
    const read = r.store.userForLogin.bind(r.store);
    r.store.userForLogin = async (login) => {
      const found = await read(login);
      await r.store.setPasswordHash(r.user.id, await hashPassword("changed password"), {
        endSessions: true,
      });
      r.store.userForLogin = read;
      return found;
    };
    const raced = await r.login("first password");
    assert.equal(raced.status, 200, JSON.stringify(raced.json));
    const me = await r.call("GET", "/api/v1/me", undefined, raced.json.token);
    assert.equal(me.json.error.code, "token_revoked");
    // The change holds: the old password stays refused, the new one works.
    assert.equal((await r.login("first password")).status, 401);
    assert.equal((await r.login("changed password")).status, 200);
    assert.match((await r.store.userForLogin("pat"))!.passwordHash, /^\$argon2id\$/);
  } finally {
    await r.close();
  }
});
