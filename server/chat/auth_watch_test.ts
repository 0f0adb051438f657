/**
 * The chat node's own re-check of its sessions' tokens: through the sweep
 * of a node on fake connections (no gate, no status, no Kick), and the
 * watch itself with stand-in sessions (batches, a store that fails).
 */
import assert from "node:assert/strict";
import { CLOSE } from "../../proto/protocol.ts";
import { AppError } from "../../proto/errors.ts";
import { openEngine } from "../engine/mod.ts";
import { silentLogger } from "../log.ts";
import { openStore } from "../store/mod.ts";
import type { Store } from "../store/types.ts";
import { memoryLogger } from "../../testing/mod.ts";
import { noteEndReason, signToken, type TokenClaims } from "../tokens.ts";
import { AuthWatch, CHECK_BATCH, CHECK_MIN_INTERVAL_MS, watchOf } from "./auth_watch.ts";
import { chatMetrics } from "./metrics.ts";
import { startTestNode } from "./_test_node.ts";

Deno.test("the sweep ends, with no kick from anyone, the sessions whose password changed or token was logged out", async () => {
  // Sweeps every 250 ms; the re-check runs every CHECK_MIN_INTERVAL_MS.
  const c = await startTestNode({ chat: { heartbeatMs: 500 } });
  try {
    const [alice, bob, carol, dave] = await Promise.all(
      ["alice", "bob", "carol", "dave"].map((n) => c.user(n)),
    );
    const [a, b, cc] = await Promise.all([alice, bob, carol].map((u) => c.connect(u)));
    const daveToken = await signToken(c.ctx.config.jwtSecret, dave.id, 3600);
    const d = c.open();
    await d.auth(daveToken.token);
    d.startPinging(200);

    const started = Date.now();
    await c.store.setPasswordHash(alice.id, "h2", { endSessions: true });
    await noteEndReason(c.engine, carol.id, "password reset");
    await c.store.setPasswordHash(carol.id, "h2", { endSessions: true });
    await c.store.revokeToken(daveToken.claims.jti, dave.id, daveToken.claims.expiresAtMs);

    const limit = CHECK_MIN_INTERVAL_MS + 3000;
    assert.equal((await a.next("kicked", undefined, limit)).reason, "password changed");
    assert.equal((await cc.next("kicked", undefined, limit)).reason, "password reset");
    assert.equal((await d.next("kicked", undefined, limit)).reason, "logged out");
    for (const client of [a, cc, d]) assert.equal((await client.closed).code, CLOSE.KICKED);
    assert.ok(Date.now() - started < limit, `ended in ${Date.now() - started} ms`);

    // Bob's token still holds: his session goes on through further re-checks.
    await watchOf(c.ctx).check();
    assert.deepEqual(await b.request("friend.list", {}), { friends: [] });
    assert.equal(b.events("kicked").length, 0);
    assert.equal(watchOf(c.ctx).size, 1);
  } finally {
    await c.close();
  }
});

/** A stand-in session that records its kick. */
function session() {
  return {
    closed: false,
    kicked: null as string | null,
    kick(reason: string) {
      this.kicked = reason;
      this.closed = true;
    },
  };
}

function claims(userId: number, jti: string, authEpoch = 0): TokenClaims {
  return { userId, jti, authEpoch, issuedAtMs: 0, expiresAtMs: Date.now() + 60_000 };
}

async function rig(wrap: (store: Store) => Pick<Store, "authStates"> = (s) => s) {
  const store = await openStore("sqlite::memory:", { log: silentLogger });
  await store.migrate();
  const engine = await openEngine("memory:", { log: silentLogger });
  const logged = memoryLogger();
  const watch = new AuthWatch({
    store: wrap(store) as Store,
    engine,
    log: logged.log,
    metrics: chatMetrics("t"),
  });
  return {
    store,
    watch,
    lines: logged.lines,
    async close() {
      await store.close();
      await engine.close();
    },
  };
}

Deno.test("AuthWatch.check() asks the store in batches and forgets closed sessions", async () => {
  const calls: number[] = [];
  const r = await rig((store) => ({
    authStates: (ids, jtis) => {
      calls.push(ids.length);
      return store.authStates(ids, jtis);
    },
  }));
  try {
    const u = await r.store.createUser({ email: "u@x.test", name: "u", passwordHash: "h" });
    const n = CHECK_BATCH + 10;
    const sessions = Array.from({ length: n }, () => session());
    sessions.forEach((s, i) => r.watch.watch(s, claims(u.id, `j${i}`)));
    sessions[0].closed = true;
    await r.store.revokeToken(`j${n - 1}`, u.id, Date.now() + 60_000);
    assert.equal(await r.watch.check(), 1);
    assert.deepEqual(calls, [CHECK_BATCH, n - 1 - CHECK_BATCH]);
    assert.equal(sessions[n - 1].kicked, "logged out");
    assert.equal(sessions.filter((s) => s.kicked !== null).length, 1);
    assert.equal(r.watch.size, n - 2);

    await r.store.setPasswordHash(u.id, "h2", { endSessions: true });
    assert.equal(await r.watch.check(), n - 2);
    assert.ok(sessions.slice(1, -1).every((s) => s.kicked === "password changed"));
    assert.equal(r.watch.size, 0);
  } finally {
    await r.close();
  }
});

Deno.test("AuthWatch.tick() runs at most every CHECK_MIN_INTERVAL_MS and survives a store that cannot answer", async () => {
  let fail = true;
  let calls = 0;
  const r = await rig((store) => ({
    authStates: (ids, jtis) => {
      calls++;
      if (fail) return Promise.reject(new AppError("store_unavailable", "down", 503));
      return store.authStates(ids, jtis);
    },
  }));
  try {
    const u = await r.store.createUser({ email: "u@x.test", name: "u", passwordHash: "h" });
    const s = session();
    r.watch.watch(s, claims(u.id, "j"));
    await r.store.setPasswordHash(u.id, "h2", { endSessions: true });
    await r.watch.tick(1_000_000);
    assert.equal(calls, 1);
    assert.equal(s.kicked, null);
    assert.ok(r.lines.some((l) => l.level === "warn" && /re-check/.test(l.msg)));

    fail = false;
    await r.watch.tick(1_000_000 + CHECK_MIN_INTERVAL_MS - 1);
    assert.equal(calls, 1, "too soon for another re-check");
    await r.watch.tick(1_000_000 + CHECK_MIN_INTERVAL_MS);
    assert.equal(calls, 2);
    assert.equal(s.kicked, "password changed");
  } finally {
    await r.close();
  }
});
