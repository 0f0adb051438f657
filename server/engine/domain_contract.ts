/**
 * The domain half of the engine contract (see engine_contract.ts): locks,
 * presence, the node registry and rate limits, run against each
 * adapter so that they behave the same on `memory` and on Redis.
 */
import assert from "node:assert/strict";
import { AppError } from "../../proto/errors.ts";
import type { EngineCase } from "./engine_contract.ts";
import { acquireLock } from "./locks.ts";
import {
  clearNodePresence,
  clearPresence,
  countOnline,
  getPresence,
  getPresenceMany,
  listOnline,
  type PresenceRecord,
  setPresence,
} from "./presence.ts";
import {
  getNode,
  liveNodes,
  type NodeRecord,
  nodeStarts,
  recordStart,
  removeNode,
  removeNodeIfStarted,
  touchNode,
  upsertNode,
} from "./nodes.ts";
import { hit } from "./rate_limit.ts";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function node(name: string, over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    name,
    wsUrl: `ws://127.0.0.1:1/${name}`,
    grpcAddr: "127.0.0.1:2",
    sessions: 0,
    startedAt: 1_000,
    state: "up",
    heartbeatAt: 10_000,
    ...over,
  };
}

export function domainContract(test: EngineCase): void {
  locks(test);
  presence(test);
  nodes(test);
  limits(test);
}

function locks(test: EngineCase): void {
  test("acquireLock() gives a lock to exactly one of two concurrent acquirers", async (e) => {
    const got = await Promise.all([
      acquireLock(e, "login:1", { ttlMs: 5_000 }),
      acquireLock(e, "login:1", { ttlMs: 5_000 }),
    ]);
    assert.equal(got.filter((l) => l !== null).length, 1);
    assert.ok(await acquireLock(e, "login:2", { ttlMs: 5_000 }), "other names are free");
  });

  test("acquireLock() waits up to waitMs and then gives up", async (e) => {
    assert.ok(await acquireLock(e, "x", { ttlMs: 5_000 }));
    const t0 = Date.now();
    assert.equal(await acquireLock(e, "x", { ttlMs: 5_000, waitMs: 150, retryMs: 20 }), null);
    assert.ok(Date.now() - t0 >= 140, `gave up after ${Date.now() - t0} ms`);
  });

  test("a waiter takes the lock as soon as its holder releases it", async (e) => {
    const first = (await acquireLock(e, "x", { ttlMs: 5_000 }))!;
    const waiter = acquireLock(e, "x", { ttlMs: 5_000, waitMs: 2_000, retryMs: 20 });
    await sleep(60);
    assert.equal(await first.release(), true);
    const second = await waiter;
    assert.ok(second);
    assert.notEqual(second.token, first.token);
  });

  test("an expired lock is free, and its old holder cannot release it", async (e) => {
    const old = (await acquireLock(e, "x", { ttlMs: 100 }))!;
    await sleep(200);
    const now = await acquireLock(e, "x", { ttlMs: 5_000 });
    assert.ok(now, "expiry frees the lock");
    assert.equal(await old.release(), false);
    assert.equal(await acquireLock(e, "x", { ttlMs: 5_000 }), null, "the new holder still has it");
    assert.equal(await now.release(), true);
  });
}

function presence(test: EngineCase): void {
  const rec = (node: string, session: string): PresenceRecord => ({ node, session, since: 5 });

  test("getPresence() reads what setPresence() wrote; unknown users are offline", async (e) => {
    assert.equal(await getPresence(e, 7), null);
    await setPresence(e, 7, rec("n1", "s1"));
    assert.deepEqual(await getPresence(e, 7), rec("n1", "s1"));
    await setPresence(e, 7, rec("n2", "s2"));
    assert.deepEqual(await getPresence(e, 7), rec("n2", "s2"));
  });

  test("getPresenceMany() returns only the users who are online", async (e) => {
    await setPresence(e, 1, rec("n1", "a"));
    await setPresence(e, 3, rec("n2", "c"));
    const got = await getPresenceMany(e, [1, 2, 3]);
    assert.deepEqual([...got.entries()].sort(), [[1, rec("n1", "a")], [3, rec("n2", "c")]]);
    assert.equal((await getPresenceMany(e, [])).size, 0);
  });

  test("clearPresence() removes the record only while that session is current", async (e) => {
    await setPresence(e, 7, rec("n1", "old"));
    await setPresence(e, 7, rec("n2", "new"));
    assert.equal(await clearPresence(e, 7, "old"), false);
    assert.deepEqual(await getPresence(e, 7), rec("n2", "new"));
    assert.equal(await clearPresence(e, 7, "new"), true);
    assert.equal(await getPresence(e, 7), null);
    assert.equal(await clearPresence(e, 7, "new"), false);
  });

  test("countOnline() and listOnline() page through every online user", async (e) => {
    for (let id = 1; id <= 30; id++) await setPresence(e, id, rec(`n${id % 3}`, `s${id}`));
    assert.equal(await countOnline(e), 30);
    const seen = new Map<number, PresenceRecord>();
    let cursor = "0";
    do {
      const page = await listOnline(e, { cursor, limit: 7 });
      for (const [id, r] of page.entries) seen.set(id, r);
      cursor = page.cursor;
    } while (cursor !== "0");
    assert.equal(seen.size, 30);
    assert.deepEqual(seen.get(12), rec("n0", "s12"));
  });

  test("listOnline() rejects a cursor or limit it did not hand out", async (e) => {
    const bad = (code: string) => (err: unknown) => err instanceof AppError && err.code === code;
    await assert.rejects(() => listOnline(e, { cursor: "abc", limit: 10 }), bad("bad_cursor"));
    await assert.rejects(() => listOnline(e, { cursor: "0", limit: 0 }), bad("bad_limit"));
  });

  test("clearNodePresence() removes exactly the records that point to that node", async (e) => {
    for (let id = 1; id <= 10; id++) await setPresence(e, id, rec(id <= 4 ? "dead" : "alive", "s"));
    assert.equal(await clearNodePresence(e, "dead"), 4);
    assert.equal(await countOnline(e), 6);
    assert.equal(await getPresence(e, 1), null);
    assert.deepEqual(await getPresence(e, 5), rec("alive", "s"));
    assert.equal(await clearNodePresence(e, "dead"), 0);
  });
}

function nodes(test: EngineCase): void {
  test("getNode() reads what upsertNode() wrote; removeNode() forgets it", async (e) => {
    assert.equal(await getNode(e, "a"), null);
    await upsertNode(e, node("a"));
    assert.deepEqual(await getNode(e, "a"), node("a"));
    await removeNode(e, "a");
    assert.equal(await getNode(e, "a"), null);
  });

  test("touchNode() records load, state and heartbeat, and is false for an unknown node", async (e) => {
    assert.equal(await touchNode(e, "a", { sessions: 3, state: "up" }, 20_000), false);
    assert.equal(await getNode(e, "a"), null);
    await upsertNode(e, node("a"));
    assert.equal(await touchNode(e, "a", { sessions: 3, state: "draining" }, 20_000), true);
    assert.deepEqual(
      await getNode(e, "a"),
      node("a", { sessions: 3, state: "draining", heartbeatAt: 20_000 }),
    );
  });

  test("liveNodes() returns fresh nodes and prunes those whose heartbeat expired", async (e) => {
    await upsertNode(e, node("b", { heartbeatAt: 10_000 }));
    await upsertNode(e, node("a", { heartbeatAt: 14_000 }));
    await upsertNode(e, node("old", { heartbeatAt: 4_999 }));
    const live = await liveNodes(e, 5_000, 10_000 + 5_000);
    assert.deepEqual(live.map((n) => n.name), ["a", "b"]);
    assert.equal(await getNode(e, "old"), null, "the expired node was pruned");
  });

  test("removeNodeIfStarted() removes only the run that started at the given time", async (e) => {
    await upsertNode(e, node("a", { startedAt: 2_000 }));
    assert.equal(await removeNodeIfStarted(e, "a", 1_000), false, "a later run stays");
    assert.notEqual(await getNode(e, "a"), null);
    assert.equal(await removeNodeIfStarted(e, "a", 2_000), true);
    assert.equal(await getNode(e, "a"), null);
    assert.equal(await removeNodeIfStarted(e, "a", 2_000), false, "already gone");
  });

  test("recordStart() counts a new start time as a restart, a repeated one not", async (e) => {
    assert.equal(await recordStart(e, "a", 1_000), 0);
    assert.equal(await recordStart(e, "a", 1_000), 0, "registering again is not a restart");
    assert.equal(await recordStart(e, "a", 5_000), 1);
    assert.equal(await recordStart(e, "b", 5_000), 0);
    await removeNode(e, "a");
    assert.equal(await recordStart(e, "a", 9_000), 2, "the count outlives the registry record");
    assert.deepEqual(
      await nodeStarts(e),
      new Map([["a", { startedAt: 9_000, restarts: 2 }], ["b", { startedAt: 5_000, restarts: 0 }]]),
    );
  });
}

function limits(test: EngineCase): void {
  test("hit() allows `limit` hits per window, then says how long to wait", async (e) => {
    const opts = { limit: 3, windowMs: 300 };
    assert.deepEqual(await hit(e, "login:ip", opts), {
      allowed: true,
      remaining: 2,
      retryAfterMs: 0,
    });
    assert.equal((await hit(e, "login:ip", opts)).remaining, 1);
    assert.equal((await hit(e, "login:ip", opts)).remaining, 0);
    const over = await hit(e, "login:ip", opts);
    assert.equal(over.allowed, false);
    assert.equal(over.remaining, 0);
    assert.ok(over.retryAfterMs > 0 && over.retryAfterMs <= 300, `retryAfter ${over.retryAfterMs}`);
    assert.equal((await hit(e, "other", opts)).allowed, true, "keys are counted apart");
    await sleep(over.retryAfterMs + 50);
    assert.deepEqual(await hit(e, "login:ip", opts), {
      allowed: true,
      remaining: 2,
      retryAfterMs: 0,
    });
  });
}
