/**
 * Store contract, part 5: migration 2 on a database that version 1 filled
 * with users, messages and delivered cursors; see store_contract.ts.
 */
import assert from "node:assert/strict";
import type { StoreHarness } from "./_contract_kit.ts";
import { SqlStore } from "./sql_store.ts";

/** What seedVersion1() wrote: user ids a, b, c, d and message ids m[1]..m[7]. */
export interface Version1 {
  a: number;
  b: number;
  c: number;
  d: number;
  m: number[];
}

/**
 * Migrates to version 1 only and writes, as version 1 would have, users
 * a, b, c, d, the messages m1 a→b, m2 b→a, m3 a→b, m4 c→b, m5 a→b,
 * m6 b→c, m7 a→a (to oneself), and delivered cursors: b has a's up to m3
 * and nothing of c's, a has b's up to m2, c has b's up to m6.
 */
export async function seedVersion1(h: StoreHarness): Promise<Version1> {
  const store = h.store;
  assert.ok(store instanceof SqlStore);
  await store.migrate({ upTo: 1 });
  assert.equal(await store.schemaVersion(), 1);
  for (const n of ["a", "b", "c", "d"]) {
    await h.sql(
      `INSERT INTO users (email, email_norm, name, name_norm, display_name, bio, password_hash,
        created_at) VALUES (?, ?, ?, ?, '', '', 'h', 1)`,
      [`${n}@x.org`, `${n}@x.org`, n, n],
    );
  }
  const [a, b, c, d] = (await h.sql("SELECT id FROM users ORDER BY id")).map((r) => Number(r.id));
  const sends = [[a, b], [b, a], [a, b], [c, b], [a, b], [b, c], [a, a]];
  for (const [i, [from, to]] of sends.entries()) {
    await h.sql(
      `INSERT INTO messages (sender_id, recipient_id, client_id, text, created_at)
        VALUES (?, ?, ?, ?, ?)`,
      [from, to, `c${i + 1}`, `m${i + 1}`, 100 + i],
    );
  }
  const m = [0, ...(await h.sql("SELECT id FROM messages ORDER BY id")).map((r) => Number(r.id))];
  for (const [user, peer, delivered] of [[b, a, m[3]], [b, c, 0], [a, b, m[2]], [c, b, m[6]]]) {
    await h.sql(
      "INSERT INTO cursors (user_id, peer_id, delivered_id, read_id) VALUES (?, ?, ?, 0)",
      [user, peer, delivered],
    );
  }
  return { a, b, c, d, m };
}

/** Checks what migration 2 made of seedVersion1()'s data. */
export async function checkBackfill(h: StoreHarness, v: Version1): Promise<void> {
  const { a, b, c, d, m } = v;
  const s = h.store;
  const inboxOf = async (u: number) =>
    (await s.inbox(u, { after: 0, limit: 100 })).map((e) => [e.seq, e.message.id]);
  // Both sides of every message, dense per user in message id order; a message to oneself once.
  assert.deepEqual(await inboxOf(a), [[1, m[1]], [2, m[2]], [3, m[3]], [4, m[5]], [5, m[7]]]);
  assert.deepEqual(await inboxOf(b), [
    [1, m[1]],
    [2, m[2]],
    [3, m[3]],
    [4, m[4]],
    [5, m[5]],
    [6, m[6]],
  ]);
  assert.deepEqual(await inboxOf(c), [[1, m[4]], [2, m[6]]]);
  assert.deepEqual(await s.inboxHeads([a, b, c, d]), new Map([[a, 5], [b, 6], [c, 2], [d, 0]]));
  // base_seq: b's first received entry past the old cursors is m4 (c's, none delivered) at 4;
  // a and c had everything they received delivered.
  const bases = await h.sql("SELECT user_id, seq, base_seq FROM inbox_heads ORDER BY user_id");
  assert.deepEqual(
    bases.map((r) => [Number(r.user_id), Number(r.seq), Number(r.base_seq)]),
    [[a, 5, 5], [b, 6, 3], [c, 2, 2]],
  );
}

/** Registers the migration cases; `raw` gets an unmigrated database. */
export function migrationCases(
  raw: (name: string, fn: (h: StoreHarness) => Promise<void>) => void,
) {
  raw(
    "migrate() from version 1 backfills inboxes, heads and base_seq from messages and cursors",
    async (h) => {
      const v = await seedVersion1(h);
      await h.store.migrate();
      assert.equal(await h.store.schemaVersion(), 2);
      await checkBackfill(h, v);
      const s = h.store;
      const { a, b, m } = v;
      // Old users keep their data and gain the new columns' defaults.
      const user = await s.userById(a);
      assert.deepEqual(
        [user?.name, user?.findableByEmail, (await s.userForLogin("a"))?.authEpoch],
        ["a", false, 0],
      );
      // A new device of b starts at base_seq: m4 and m5 were never delivered, so it gets them.
      const device = await s.openDevice(b, "first", "", 5);
      assert.equal(device.ackedSeq, 3);
      assert.deepEqual(
        (await s.inbox(b, { after: device.ackedSeq, limit: 10 })).map((e) => e.message.id),
        [m[4], m[5], m[6]],
      );
      // New messages continue each sequence; a retry of an old one gets its backfilled seqs.
      const next = await s.insertMessage({
        senderId: b,
        recipientId: a,
        clientId: "new",
        text: "after",
        createdAt: 200,
      });
      assert.deepEqual([next.senderSeq, next.recipientSeq], [7, 6]);
      const retry = await s.insertMessage({
        senderId: a,
        recipientId: b,
        clientId: "c3",
        text: "m3",
        createdAt: 102,
      });
      assert.deepEqual([retry.duplicate, retry.message.id, retry.senderSeq, retry.recipientSeq], [
        true,
        m[3],
        3,
        3,
      ]);
    },
  );
}
