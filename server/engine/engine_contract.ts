/**
 * The contract every engine adapter must keep: the primitives of types.ts
 * here, the domain modules in domain_contract.ts. An adapter's test file
 * calls `engineContract(name, open)`; each case opens a fresh engine and
 * cleans it up, so cases share no keys and a failure names the adapter
 * (_contract_kit.ts registers the cases).
 */
import assert from "node:assert/strict";
import {
  type EngineCase,
  engineCases,
  type OpenEngine,
  type Register,
  sleep,
} from "./_contract_kit.ts";
import { domainContract } from "./domain_contract.ts";

export { sleep } from "./_contract_kit.ts";

export function engineContract(name: string, open: OpenEngine, register?: Register): void {
  const test = engineCases(name, open, register);
  primitiveContract(test);
  hashContract(test);
  hashScanContract(test);
  domainContract(test);
}

function primitiveContract(test: EngineCase): void {
  test("get() reads what set() wrote and null for a missing key", async (e) => {
    assert.equal(await e.get("k"), null);
    assert.equal(await e.set("k", "v1"), true);
    assert.equal(await e.get("k"), "v1");
    assert.equal(await e.set("k", "v2"), true);
    assert.equal(await e.get("k"), "v2");
  });

  test("mget() answers in the order asked, null for missing keys", async (e) => {
    await e.set("a", "1");
    await e.set("c", "3");
    assert.deepEqual(await e.mget(["c", "b", "a"]), ["3", null, "1"]);
    assert.deepEqual(await e.mget([]), []);
  });

  test("a key set with ttlMs expires and pttl() reports what is left", async (e) => {
    await e.set("k", "v", { ttlMs: 100 });
    const left = await e.pttl("k");
    assert.ok(left > 0 && left <= 100, `pttl ${left}`);
    assert.equal(await e.get("k"), "v");
    await sleep(200);
    assert.equal(await e.get("k"), null);
    assert.equal(await e.pttl("k"), -2);
  });

  test("pttl() is -1 for a key without TTL, and set() without ttlMs clears an old TTL", async (e) => {
    await e.set("k", "v", { ttlMs: 100 });
    await e.set("k", "w");
    assert.equal(await e.pttl("k"), -1);
    await sleep(200);
    assert.equal(await e.get("k"), "w");
    assert.equal(await e.pttl("missing"), -2);
  });

  test("set() with nx leaves an existing key alone and writes once it has expired", async (e) => {
    assert.equal(await e.set("k", "first", { nx: true, ttlMs: 100 }), true);
    assert.equal(await e.set("k", "second", { nx: true, ttlMs: 100 }), false);
    assert.equal(await e.get("k"), "first");
    await sleep(200);
    assert.equal(await e.set("k", "third", { nx: true }), true);
    assert.equal(await e.get("k"), "third");
  });

  test("set() rejects a TTL that is not a positive number of ms", async (e) => {
    await assert.rejects(() => e.set("k", "v", { ttlMs: 0 }), RangeError);
    await assert.rejects(() => e.set("k", "v", { ttlMs: -5 }), RangeError);
    await assert.rejects(() => e.incr("n", Number.NaN), RangeError);
    assert.equal(await e.get("k"), null);
  });

  test("del() removes a key and ignores a missing one", async (e) => {
    await e.set("k", "v");
    await e.del("k");
    await e.del("k");
    assert.equal(await e.get("k"), null);
  });

  test("delIfEquals() deletes only when the value matches", async (e) => {
    await e.set("k", "mine");
    assert.equal(await e.delIfEquals("k", "theirs"), false);
    assert.equal(await e.get("k"), "mine");
    assert.equal(await e.delIfEquals("k", "mine"), true);
    assert.equal(await e.get("k"), null);
    assert.equal(await e.delIfEquals("k", "mine"), false);
  });

  test("incr() creates the key with its TTL and later increments do not extend it", async (e) => {
    assert.deepEqual((await e.incr("n", 300)).value, 1);
    await sleep(120);
    const second = await e.incr("n", 300, 5);
    assert.equal(second.value, 6);
    assert.ok(second.ttlMs > 0 && second.ttlMs <= 200, `ttl after 120 ms: ${second.ttlMs}`);
    assert.equal((await e.incr("n", 300, -2)).value, 4);
    await sleep(250);
    const fresh = await e.incr("n", 300);
    assert.equal(fresh.value, 1);
    assert.ok(fresh.ttlMs > 200, `a new window gets the whole TTL: ${fresh.ttlMs}`);
  });

  test("incr() fails on a value that is not an integer", async (e) => {
    await e.set("k", "abc");
    await assert.rejects(() => e.incr("k", 1000), /not an integer/);
    assert.equal(await e.get("k"), "abc");
  });
}

function hashContract(test: EngineCase): void {
  test("hashes: hset, hget, hmget, hgetall, hlen and hdel", async (e) => {
    assert.equal(await e.hget("h", "a"), null);
    assert.deepEqual(await e.hgetall("h"), {});
    await e.hset("h", "a", "1");
    await e.hset("h", "b", "2");
    await e.hset("h", "a", "3");
    assert.equal(await e.hget("h", "a"), "3");
    assert.deepEqual(await e.hmget("h", ["b", "x", "a"]), ["2", null, "3"]);
    assert.deepEqual(await e.hmget("h", []), []);
    assert.deepEqual(await e.hgetall("h"), { a: "3", b: "2" });
    assert.equal(await e.hlen("h"), 2);
    await e.hdel("h", "a");
    await e.hdel("h", "missing");
    assert.deepEqual(await e.hgetall("h"), { b: "2" });
  });

  test("a hash whose last field is deleted no longer exists", async (e) => {
    await e.hset("h", "a", "1");
    assert.equal(await e.pttl("h"), -1);
    await e.hdel("h", "a");
    assert.equal(await e.pttl("h"), -2);
    assert.equal(await e.hlen("h"), 0);
  });

  test("hdelIfEquals() deletes a field only when its value matches", async (e) => {
    await e.hset("h", "f", "mine");
    await e.hset("h", "g", "other");
    assert.equal(await e.hdelIfEquals("h", "f", "theirs"), false);
    assert.equal(await e.hget("h", "f"), "mine");
    assert.equal(await e.hdelIfEquals("h", "f", "mine"), true);
    assert.equal(await e.hget("h", "f"), null);
    assert.equal(await e.hdelIfEquals("h", "f", "mine"), false);
    assert.equal(await e.hdelIfEquals("nohash", "f", "mine"), false);
    assert.equal(await e.hget("h", "g"), "other");
  });

  test("hsetIfEquals() sets, replaces or deletes a field only when it holds what was expected", async (e) => {
    assert.equal(await e.hsetIfEquals("h", "f", "x", "a"), false, "expected a value, found none");
    assert.equal(await e.hget("h", "f"), null);
    assert.equal(await e.hsetIfEquals("h", "f", null, "a"), true, "created");
    assert.equal(await e.hsetIfEquals("h", "f", null, "b"), false, "the field exists now");
    assert.equal(await e.hsetIfEquals("h", "f", "b", "c"), false, "another value");
    assert.equal(await e.hget("h", "f"), "a");
    assert.equal(await e.hsetIfEquals("h", "f", "a", "c"), true, "replaced");
    await e.hset("h", "g", "other");
    assert.equal(await e.hsetIfEquals("h", "f", "c", null), true, "deleted");
    assert.equal(await e.hget("h", "f"), null);
    assert.equal(await e.hget("h", "g"), "other", "other fields are left alone");
    assert.equal(await e.hsetIfEquals("h", "g", "other", null), true);
    assert.equal(await e.pttl("h"), -2, "a hash without fields does not exist");
    assert.equal(await e.hsetIfEquals("h", "f", null, null), true, "deleting nothing, as expected");
    assert.equal(await e.hsetIfEquals("h", "f", "", "empty?"), false, "an empty string is a value");
    await e.set("s", "v");
    await assert.rejects(() => e.hsetIfEquals("s", "f", null, "v"), /WRONGTYPE/);
  });
}

/** Hashes, continued: racing writers, scans and type errors. */
function hashScanContract(test: EngineCase): void {
  test("hsetIfEquals() read-modify-write loops lose no update when they race", async (e) => {
    const append = async (item: number) => {
      for (;;) {
        const raw = await e.hget("h", "list");
        const next = JSON.stringify([...(raw ? JSON.parse(raw) : []), item]);
        if (await e.hsetIfEquals("h", "list", raw, next)) return;
      }
    };
    await Promise.all(Array.from({ length: 25 }, (_, i) => append(i)));
    const list: number[] = JSON.parse((await e.hget("h", "list"))!);
    assert.deepEqual([...list].sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i));
  });

  test("hscan() pages through more fields than one page holds", async (e) => {
    // More than Redis keeps in a compact listpack (which it returns whole).
    const n = 600;
    for (let i = 0; i < n; i++) await e.hset("h", `f${i}`, `v${i}`);
    const seen = new Map<string, string>();
    let cursor = "0", pages = 0, returned = 0;
    do {
      const page = await e.hscan("h", cursor, 100);
      for (const [f, v] of page.entries) seen.set(f, v);
      returned += page.entries.length;
      cursor = page.cursor;
      pages++;
      assert.ok(pages < 1000, "hscan does not end");
    } while (cursor !== "0");
    assert.ok(pages > 1, `expected several pages, got ${pages}`);
    assert.equal(seen.size, n);
    // Redis may repeat a field while it rehashes; memory never does.
    if (e.kind === "memory") assert.equal(returned, n, "a field came back twice");
    for (let i = 0; i < n; i++) assert.equal(seen.get(`f${i}`), `v${i}`);
  });

  test("hscan() of a missing hash is one empty, final page", async (e) => {
    assert.deepEqual(await e.hscan("none", "0", 10), { cursor: "0", entries: [] });
  });

  test("using a hash as a string or a string as a hash fails with WRONGTYPE", async (e) => {
    await e.hset("h", "f", "v");
    await e.set("s", "v");
    await assert.rejects(() => e.get("h"), /WRONGTYPE/);
    await assert.rejects(() => e.hset("s", "f", "v"), /WRONGTYPE/);
    await assert.rejects(() => e.hget("s", "f"), /WRONGTYPE/);
    assert.deepEqual(await e.mget(["h", "s"]), [null, "v"]);
  });
}
