/**
 * The engine contract on `redis-cluster://`, against a private three-master
 * Redis Cluster started for this test: it proves that no primitive or
 * domain call spans slots (MGET of keys in several slots, flushing every
 * master), and that calls fail fast once the cluster is gone.
 * Skipped where no redis-server binary is installed.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { AppError } from "../../proto/errors.ts";
import { silentLogger } from "../log.ts";
import { engineContract } from "./engine_contract.ts";
import { openEngine } from "./mod.ts";
import { haveRedisServer, startRedisCluster } from "./_redis_servers.ts";
import { flushRedisPrefix } from "./_flush_redis.ts";

Deno.test({
  name: "redis-cluster: the engine contract holds on a three-master cluster",
  ignore: !(await haveRedisServer()),
  async fn(t) {
    const cluster = await startRedisCluster(3);
    try {
      const cases: [string, () => Promise<void>][] = [];
      let n = 0;
      engineContract("redis-cluster", async () => {
        const url = `${cluster.url}?prefix=parley_t_c${n++}:`;
        const engine = await openEngine(url, { log: silentLogger });
        return {
          engine,
          async cleanup() {
            await engine.close();
            await flushRedisPrefix(url);
          },
        };
      }, (name, fn) => cases.push([name, fn]));
      let failed = 0;
      for (const [name, fn] of cases) if (!(await t.step(name, fn))) failed++;
      assert.equal(failed, 0, `${failed} contract cases failed on the cluster`);

      await t.step("flushRedisPrefix() left no key behind on any master", async () => {
        for (const s of cluster.servers) {
          const raw = new Redis({ port: s.port, host: "127.0.0.1", lazyConnect: true });
          try {
            await raw.connect();
            assert.equal(await raw.dbsize(), 0, `keys left on 127.0.0.1:${s.port}`);
          } finally {
            await raw.quit();
          }
        }
      });

      await t.step("calls fail fast with engine_unavailable once the cluster is gone", async () => {
        const engine = await openEngine(`${cluster.url}?prefix=parley_t_gone:`, {
          log: silentLogger,
        });
        try {
          await engine.set("k", "v");
          await cluster.stop();
          const t0 = Date.now();
          await assert.rejects(
            () => engine.get("k"),
            (e: unknown) => e instanceof AppError && e.code === "engine_unavailable",
          );
          assert.ok(Date.now() - t0 < 3_000, `took ${Date.now() - t0} ms`);
        } finally {
          await engine.close();
        }
      });
    } finally {
      await cluster.stop();
    }
  },
});
