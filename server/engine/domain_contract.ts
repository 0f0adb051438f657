/**
 * The domain half of the engine contract (see engine_contract.ts): locks,
 * presence, the node registry and rate limits, run against each
 * adapter so that they behave the same on `memory` and on Redis.
 */
import assert from "node:assert/strict";
import { AppError } from "../../proto/errors.ts";
import type { EngineCase } from "./_contract_kit.ts";
import { acquireLock } from "./locks.ts";
import {
  addSession,
  clearNodePresence,
  countOnline,
  ensureSessions,
  getPresence,
  getSessions,
  getSessionsMany,
  hasNodeMarker,
  listOnline,
  type PresenceSession,
  removeSession,
  setNodeMarker,
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
  presenceMany(test);
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

const rec = (node: string, session: string, since = 5): PresenceSession => ({
  node,
  session,
  since,
});
const ids = (list: PresenceSession[]) => list.map((s) => s.session).sort();

/** Presence of one user: the sessions added, replaced, removed and read. */
function presence(test: EngineCase): void {
  test("getPresence() reads what setPresence() wrote; unknown users are offline", async (e) => {
    assert.equal(await getPresence(e, 7), null);
    assert.deepEqual(await getSessions(e, 7), []);
    await setPresence(e, 7, rec("n1", "s1"));
    assert.deepEqual(await getPresence(e, 7), rec("n1", "s1"));
    await setPresence(e, 7, rec("n2", "s2"));
    assert.deepEqual(await getSessions(e, 7), [rec("n2", "s2")]);
  });

  test("addSession() keeps every session of a user, and says which were there before", async (e) => {
    const full: PresenceSession = {
      ...rec("n1", "a", 1),
      addr: "10.0.0.1:5",
      device: "laptop-1",
      label: "laptop",
      jti: "j1",
    };
    assert.deepEqual(await addSession(e, 7, full), { before: [], evicted: [] });
    const second = await addSession(e, 7, rec("n2", "b", 2));
    assert.deepEqual(second, { before: [full], evicted: [] });
    // The same session again replaces its own entry.
    const again = await addSession(e, 7, rec("n2", "b", 3));
    assert.deepEqual(ids(again.before), ["a"]);
    const list = await getSessions(e, 7);
    assert.deepEqual(list, [full, rec("n2", "b", 3)]);
    assert.deepEqual(await getPresence(e, 7), rec("n2", "b", 3), "the newest session");
  });

  test("addSession() with replace leaves only the new session; with max evicts the oldest", async (e) => {
    await addSession(e, 1, rec("n1", "old", 1));
    await addSession(e, 1, rec("n2", "older", 0));
    const r = await addSession(e, 1, rec("n1", "new", 9), { replace: true });
    assert.deepEqual(ids(r.evicted), ["old", "older"]);
    assert.deepEqual(await getSessions(e, 1), [rec("n1", "new", 9)]);

    for (const [s, since] of [["c", 30], ["a", 10], ["b", 20]] as const) {
      assert.deepEqual((await addSession(e, 2, rec("n1", s, since), { max: 3 })).evicted, []);
    }
    const capped = await addSession(e, 2, rec("n2", "d", 40), { max: 3 });
    assert.deepEqual(capped.evicted, [rec("n1", "a", 10)]);
    assert.deepEqual(ids(await getSessions(e, 2)), ["b", "c", "d"]);
    const tighter = await addSession(e, 2, rec("n2", "e", 50), { max: 2 });
    assert.deepEqual(ids(tighter.evicted), ["b", "c"]);
    assert.deepEqual(ids(await getSessions(e, 2)), ["d", "e"]);
  });

  test("removeSession() takes out one session and says how many are left", async (e) => {
    await addSession(e, 7, rec("n1", "a"));
    await addSession(e, 7, rec("n2", "b"));
    assert.deepEqual(await removeSession(e, 7, "zzz"), { removed: false, left: 2 });
    assert.deepEqual(await removeSession(e, 7, "a"), { removed: true, left: 1 });
    assert.deepEqual(await removeSession(e, 7, "a"), { removed: false, left: 1 });
    assert.deepEqual(await removeSession(e, 7, "b"), { removed: true, left: 0 });
    assert.deepEqual(await getSessions(e, 7), []);
    assert.equal(await countOnline(e), 0, "an offline user has no field left");
  });

  test("sessions of one user opening and closing at once lose none of each other's entries", async (e) => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => addSession(e, 9, rec(`n${i % 3}`, `s${i}`, i))),
    );
    assert.equal((await getSessions(e, 9)).length, 20);
    const results = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => removeSession(e, 9, `s${i}`)),
      ...Array.from({ length: 5 }, (_, i) => addSession(e, 9, rec("n9", `t${i}`, 100 + i))),
    ]);
    assert.ok(results.slice(0, 10).every((r) => "removed" in r && r.removed));
    assert.deepEqual(
      ids(await getSessions(e, 9)),
      [...Array.from({ length: 10 }, (_, i) => `s${i + 10}`), "t0", "t1", "t2", "t3", "t4"]
        .sort(),
    );
  });

  test("a record an older node wrote (one object) reads as a list of one; garbage reads as offline", async (e) => {
    await e.hset("presence", "3", JSON.stringify({ node: "n1", session: "s", since: 4, jti: "j" }));
    await e.hset("presence", "4", "{not json");
    await e.hset("presence", "5", JSON.stringify([{ node: "n1" }, rec("n2", "ok")]));
    assert.deepEqual(await getSessions(e, 3), [{ ...rec("n1", "s", 4), jti: "j" }]);
    assert.deepEqual(await getSessions(e, 4), []);
    assert.deepEqual(await getSessions(e, 5), [rec("n2", "ok")]);
    assert.deepEqual((await addSession(e, 3, rec("n2", "t"))).before, [
      { ...rec("n1", "s", 4), jti: "j" },
    ]);
    assert.equal((await getSessions(e, 3)).length, 2);
  });
}

/** Presence across users and nodes: reading many, counting, listing, clearing a node. */
function presenceMany(test: EngineCase): void {
  test("getSessionsMany() returns only the users who are online", async (e) => {
    await addSession(e, 1, rec("n1", "a"));
    await addSession(e, 1, rec("n2", "a2"));
    await addSession(e, 3, rec("n2", "c"));
    const got = await getSessionsMany(e, [1, 2, 3]);
    assert.deepEqual([...got.keys()].sort(), [1, 3]);
    assert.deepEqual(ids(got.get(1)!), ["a", "a2"]);
    assert.equal((await getSessionsMany(e, [])).size, 0);
  });

  test("countOnline() and listOnline() page through every online user", async (e) => {
    for (let id = 1; id <= 30; id++) await addSession(e, id, rec(`n${id % 3}`, `s${id}`));
    await addSession(e, 12, rec("n9", "second"));
    assert.equal(await countOnline(e), 30);
    const seen = new Map<number, PresenceSession[]>();
    let cursor = "0";
    do {
      const page = await listOnline(e, { cursor, limit: 7 });
      for (const [id, r] of page.entries) seen.set(id, r);
      cursor = page.cursor;
    } while (cursor !== "0");
    assert.equal(seen.size, 30);
    assert.deepEqual(seen.get(12), [rec("n0", "s12"), rec("n9", "second")]);
  });

  test("listOnline() rejects a cursor or limit it did not hand out", async (e) => {
    const bad = (code: string) => (err: unknown) => err instanceof AppError && err.code === code;
    await assert.rejects(() => listOnline(e, { cursor: "abc", limit: 10 }), bad("bad_cursor"));
    await assert.rejects(() => listOnline(e, { cursor: "0", limit: 0 }), bad("bad_limit"));
  });

  test("clearNodePresence() takes out exactly the sessions on that node, and its marker", async (e) => {
    for (let id = 1; id <= 10; id++) await addSession(e, id, rec(id <= 4 ? "dead" : "alive", "s"));
    await addSession(e, 2, rec("alive", "s2"));
    await setNodeMarker(e, "dead", 1);
    await setNodeMarker(e, "alive", 1);
    assert.equal(await hasNodeMarker(e, "dead"), true);
    assert.equal(await clearNodePresence(e, "dead"), 4);
    assert.equal(await hasNodeMarker(e, "dead"), false);
    assert.equal(await hasNodeMarker(e, "alive"), true);
    assert.equal(await countOnline(e), 7, "user 2 still has a session on a live node");
    assert.deepEqual(await getSessions(e, 1), []);
    assert.deepEqual(await getSessions(e, 2), [rec("alive", "s2")]);
    assert.deepEqual(await getSessions(e, 5), [rec("alive", "s")]);
    assert.equal(await clearNodePresence(e, "dead"), 0);
  });

  test("ensureSessions() writes back only the sessions presence lost", async (e) => {
    await addSession(e, 1, rec("n1", "kept"));
    await addSession(e, 2, rec("n2", "theirs"));
    const n = await ensureSessions(e, [
      [1, rec("n1", "kept", 99)],
      [2, rec("n1", "lost")],
      [3, rec("n1", "gone")],
    ]);
    assert.equal(n, 2);
    assert.deepEqual(await getSessions(e, 1), [rec("n1", "kept")], "a present entry is untouched");
    assert.deepEqual(ids(await getSessions(e, 2)), ["lost", "theirs"]);
    assert.deepEqual(await getSessions(e, 3), [rec("n1", "gone")]);
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
