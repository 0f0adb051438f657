/**
 * The engine contract on the `redis://` adapter against the test Redis
 * (each case under its own key prefix), plus what only Redis has: key
 * prefixes, URLs, and failing fast when Redis is unreachable.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { AppError } from "../../proto/errors.ts";
import { eventually, freePort, freshRedis, REDIS_URL } from "../../testing/mod.ts";
import { silentLogger } from "../log.ts";
import { engineContract } from "./engine_contract.ts";
import { openEngine } from "./mod.ts";
import { COMMAND_TIMEOUT_MS, parseRedisUrl } from "./redis.ts";
import { haveRedisServer, startRedisServer } from "./_redis_servers.ts";
import { flushRedisPrefix } from "./_flush_redis.ts";

engineContract("redis", async () => {
  const { url } = freshRedis();
  const engine = await openEngine(url, { log: silentLogger });
  return {
    engine,
    async cleanup() {
      await engine.close();
      await flushRedisPrefix(url);
    },
  };
});

/** The keys under `prefix` as Redis itself sees them, through a client with no prefix. */
async function rawKeys(prefix: string): Promise<string[]> {
  const raw = new Redis(REDIS_URL, { lazyConnect: true });
  try {
    await raw.connect();
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, page] = await raw.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      keys.push(...page);
      cursor = next;
    } while (cursor !== "0");
    return keys.sort();
  } finally {
    await raw.quit();
  }
}

const isCode = (code: string) => (e: unknown) => e instanceof AppError && e.code === code;

Deno.test("redis: engines with different prefixes do not see each other's keys", async () => {
  const a = freshRedis(), b = freshRedis();
  const ea = await openEngine(a.url, { log: silentLogger });
  const eb = await openEngine(b.url, { log: silentLogger });
  try {
    await ea.set("k", "from a");
    await eb.set("k", "from b");
    await ea.hset("presence", "1", "a");
    assert.equal(await ea.get("k"), "from a");
    assert.equal(await eb.get("k"), "from b");
    assert.equal(await eb.hget("presence", "1"), null);
    assert.deepEqual(await rawKeys(a.prefix), [`${a.prefix}k`, `${a.prefix}presence`]);
    await flushRedisPrefix(a.url);
    assert.deepEqual(await rawKeys(a.prefix), []);
    assert.equal(await eb.get("k"), "from b", "flushing one prefix spares the other");
  } finally {
    await flushRedisPrefix(b.url);
    await Promise.all([ea.close(), eb.close()]);
  }
  assert.deepEqual(await rawKeys(b.prefix), []);
});

Deno.test("redis: a prefix with glob characters is flushed literally", async () => {
  const base = freshRedis().prefix;
  const narrowUrl = `${REDIS_URL}/0?prefix=${encodeURIComponent(`${base}*[x]?:`)}`;
  const siblingUrl = `${REDIS_URL}/0?prefix=${encodeURIComponent(`${base}ax?:`)}`;
  const narrow = await openEngine(narrowUrl, { log: silentLogger });
  const sibling = await openEngine(siblingUrl, { log: silentLogger });
  try {
    await narrow.set("k", "1");
    await sibling.set("k", "2");
    await flushRedisPrefix(narrowUrl);
    assert.equal(await narrow.get("k"), null);
    assert.equal(await sibling.get("k"), "2", "a glob in the prefix must not match other keys");
  } finally {
    await flushRedisPrefix(siblingUrl);
    await Promise.all([narrow.close(), sibling.close()]);
  }
});

Deno.test("redis: opening a url whose port is closed fails fast with engine_unavailable", async () => {
  const port = await freePort();
  const t0 = Date.now();
  await assert.rejects(
    () => openEngine(`redis://127.0.0.1:${port}`, { log: silentLogger }),
    (e: unknown) =>
      isCode("engine_unavailable")(e) && (e as Error).message.includes(`127.0.0.1:${port}`),
  );
  assert.ok(Date.now() - t0 < 3_000, `took ${Date.now() - t0} ms`);
});

Deno.test({
  name: "redis: calls fail within a second or two once Redis goes away",
  ignore: !(await haveRedisServer()),
  async fn() {
    const server = await startRedisServer();
    const lines: string[] = [];
    const log = { ...silentLogger, warn: (msg: string) => lines.push(msg) };
    const engine = await openEngine(`redis://127.0.0.1:${server.port}?prefix=t:`, { log });
    try {
      await engine.set("k", "v");
      await server.stop();
      const t0 = Date.now();
      await assert.rejects(() => engine.get("k"), isCode("engine_unavailable"));
      assert.ok(Date.now() - t0 < 3_000, `took ${Date.now() - t0} ms`);
      assert.ok(lines.includes("redis connection error"), "the outage is logged");
    } finally {
      await engine.close();
      await server.stop();
    }
  },
});

Deno.test({
  name:
    "redis: calls to a frozen Redis (SIGSTOP) fail with engine_unavailable within the command timeout",
  ignore: !(await haveRedisServer()),
  async fn() {
    const server = await startRedisServer();
    const engine = await openEngine(`redis://127.0.0.1:${server.port}?prefix=t:`, {
      log: silentLogger,
    });
    try {
      await engine.set("k", "v");
      // Frozen, not gone: the connection stays open and nothing answers.
      server.proc.kill("SIGSTOP");
      const t0 = Date.now();
      const calls = [engine.get("k"), engine.incr("n", 1000), engine.hget("h", "f")];
      for (const call of calls) {
        const e = await call.then(() => null, (e) => e);
        assert.ok(isCode("engine_unavailable")(e), String(e));
        assert.equal((e as AppError).status, 503);
        assert.ok((e as AppError).retryAfterS! > 0);
      }
      const took = Date.now() - t0;
      assert.ok(took >= COMMAND_TIMEOUT_MS - 100, `failed after ${took} ms, before the timeout`);
      assert.ok(took < COMMAND_TIMEOUT_MS + 2_000, `took ${took} ms`);
      // Thawed, the same engine works again.
      server.proc.kill("SIGCONT");
      await eventually(async () => await engine.get("k") === "v", {
        what: "Redis to answer again",
      });
    } finally {
      try {
        server.proc.kill("SIGCONT");
      } catch { /* already gone */ }
      await engine.close();
      await server.stop();
    }
  },
});

Deno.test({
  name: "redis: flushRedisPrefix() refuses to run without a key prefix",
  ignore: !(await haveRedisServer()),
  async fn() {
    // A private server: if the guard were broken, this is what it would wipe.
    const server = await startRedisServer();
    const url = `redis://127.0.0.1:${server.port}`;
    const engine = await openEngine(url, { log: silentLogger });
    try {
      await engine.set("k", "v");
      await assert.rejects(() => flushRedisPrefix(url), /prefix/);
      assert.equal(await engine.get("k"), "v");
    } finally {
      await engine.close();
      await server.stop();
    }
  },
});

Deno.test("parseRedisUrl() reads hosts, credentials, database, TLS and prefix", () => {
  assert.deepEqual(parseRedisUrl("redis://127.0.0.1:6380/2?prefix=p%3A"), {
    cluster: false,
    nodes: [{ host: "127.0.0.1", port: 6380 }],
    username: undefined,
    password: undefined,
    db: 2,
    tls: false,
    prefix: "p:",
  });
  const tls = parseRedisUrl("rediss://bob:s%40cret@cache.example:6390");
  assert.deepEqual([tls.tls, tls.username, tls.password, tls.nodes], [
    true,
    "bob",
    "s@cret",
    [{ host: "cache.example", port: 6390 }],
  ]);
  assert.deepEqual(parseRedisUrl("redis://:pw@[::1]").nodes, [{ host: "::1", port: 6379 }]);
  const cluster = parseRedisUrl("redis-cluster://:pw@a:7000,b:7001?prefix=x");
  assert.deepEqual([cluster.cluster, cluster.password, cluster.prefix, cluster.nodes], [
    true,
    "pw",
    "x",
    [{ host: "a", port: 7000 }, { host: "b", port: 7001 }],
  ]);
});

Deno.test("parseRedisUrl() rejects malformed urls with engine_url_invalid, hiding the password", () => {
  for (
    const url of [
      "redis://",
      "redis://h:99999",
      "redis://a:1,b:2",
      "redis://h/x",
      "redis-cluster://a:1/0",
      "redis://h?db=1",
      "http://h",
    ]
  ) {
    assert.throws(() => parseRedisUrl(url), isCode("engine_url_invalid"), url);
  }
  assert.throws(
    () => parseRedisUrl("redis://u:hunter2@h:x"),
    (e: unknown) => isCode("engine_url_invalid")(e) && !(e as Error).message.includes("hunter2"),
  );
});
