/**
 * The engine contract on the `memory:` adapter, plus what only it has: the
 * periodic sweep of keys nobody reads.
 */
import assert from "node:assert/strict";
import { AppError } from "../../proto/errors.ts";
import { silentLogger } from "../log.ts";
import { engineContract, sleep } from "./engine_contract.ts";
import { MemoryEngine } from "./memory.ts";
import { openEngine } from "./mod.ts";

engineContract("memory", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  return { engine, cleanup: () => engine.close() };
});

Deno.test("memory: the sweep drops expired keys that nobody reads", async () => {
  const engine = new MemoryEngine({ sweepMs: 20 });
  try {
    await engine.set("gone", "v", { ttlMs: 10 });
    await engine.hset("h", "f", "v");
    assert.equal(engine.storedKeys, 2);
    await sleep(100);
    assert.equal(engine.storedKeys, 1);
  } finally {
    await engine.close();
  }
});

Deno.test("openEngine() rejects an unknown url with engine_url_invalid", async () => {
  await assert.rejects(
    () => openEngine("memcached://127.0.0.1", { log: silentLogger }),
    (e: unknown) => e instanceof AppError && e.code === "engine_url_invalid",
  );
});
