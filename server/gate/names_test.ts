import assert from "node:assert/strict";
import { createApp } from "./app.ts";
import type { Services } from "./request.ts";
import { NAME_LOOKUPS_PER_IP } from "./names.ts";
import { gateMetrics } from "./telemetry.ts";
import { openEngine } from "../engine/mod.ts";
import { openStore } from "../store/mod.ts";
import { silentLogger } from "../log.ts";
import { testConfig } from "../../testing/mod.ts";

/** A gate on a memory engine and an in-memory SQLite store with one user, "Bob". */
async function rig() {
  const engine = await openEngine("memory:", { log: silentLogger });
  const store = await openStore("sqlite::memory:", { log: silentLogger });
  await store.migrate();
  await store.createUser({ email: "bob@example.com", name: "Bob", passwordHash: "h" });
  const refuse = () => Promise.reject(new Error("must not be used"));
  const s: Services = {
    config: testConfig(),
    log: silentLogger,
    store: () => Promise.resolve(store),
    engine: () => Promise.resolve(engine),
    verify: { SendCode: refuse, CheckCode: refuse },
    status: { PickNode: refuse, Kick: refuse },
    metrics: gateMetrics(),
  };
  const app = createApp(s);
  const ask = async (name: string, ip = "10.0.0.1") => {
    const res = await app.request(`/api/v1/names/${encodeURIComponent(name)}`, {}, {
      remoteAddr: { hostname: ip },
    });
    return { res, status: res.status, json: await res.json() };
  };
  return { ask, close: () => Promise.all([store.close(), engine.close()]) };
}

Deno.test("GET /api/v1/names/:name says whether a name is free, whatever its case", async () => {
  const { ask, close } = await rig();
  try {
    assert.deepEqual((await ask("alice")).json, { available: true });
    const taken = await ask("bob");
    assert.equal(taken.status, 200);
    assert.deepEqual(taken.json, { available: false });
    assert.deepEqual((await ask("BOB")).json, { available: false });
  } finally {
    await close();
  }
});

Deno.test("GET /api/v1/names/:name refuses a malformed name with 400 invalid_name", async () => {
  const { ask, close } = await rig();
  try {
    for (const name of ["ab", "a b", "x".repeat(33), "bob@example.com", "ünï"]) {
      const r = await ask(name);
      assert.equal(r.status, 400, name);
      assert.equal(r.json.error.code, "invalid_name", name);
    }
  } finally {
    await close();
  }
});

Deno.test("GET /api/v1/names/:name is rate-limited per client IP", async () => {
  const { ask, close } = await rig();
  try {
    for (let i = 0; i < NAME_LOOKUPS_PER_IP.limit; i++) {
      assert.equal((await ask(`name${i}`)).status, 200);
    }
    const over = await ask("one-more");
    assert.equal(over.status, 429);
    assert.equal(over.json.error.code, "rate_limited");
    assert.ok(Number(over.res.headers.get("retry-after")) > 0);
    assert.equal((await ask("one-more", "10.0.0.2")).status, 200, "another address is not limited");
  } finally {
    await close();
  }
});
