/** Runs the store contract on the mysql adapter, each test on a fresh database of the test server. */
import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { silentLogger } from "../log.ts";
import { freshMysql, MYSQL_URL } from "../../testing/mod.ts";
import type { Executor } from "./_exec.ts";
import { openStore } from "./mod.ts";
import { storeContract } from "./store_contract.ts";
import { checkBackfill, seedVersion1 } from "./_contract_migration.ts";
import { AppError } from "../../proto/errors.ts";

storeContract("mysql", async () => {
  const db = await freshMysql();
  const store = await openStore(db.url, { log: silentLogger });
  // Another pool for each openAnother(): like another chat node on the same database.
  let raw: mysql.Connection | undefined;
  return {
    store,
    openAnother: () => openStore(db.url, { log: silentLogger }),
    async sql(statement, params = []) {
      raw ??= await mysql.createConnection({ uri: db.url });
      const [rows] = await raw.query(statement, params);
      return Array.isArray(rows) ? rows as Record<string, unknown>[] : [];
    },
    async cleanup() {
      await store.close();
      await raw?.end();
      await db.drop();
    },
  };
});

Deno.test("migration 2 run again from its start on MySQL (as after a crash half-way) changes nothing", async () => {
  const db = await freshMysql();
  const store = await openStore(db.url, { log: silentLogger });
  const raw = await mysql.createConnection({ uri: db.url });
  const sql = async (statement: string, params: unknown[] = []) => {
    const [rows] = await raw.query(statement, params);
    return Array.isArray(rows) ? rows as Record<string, unknown>[] : [];
  };
  const h = {
    store,
    sql,
    openAnother: () => Promise.reject(new Error("unused")),
    cleanup: () => Promise.resolve(),
  };
  try {
    const v = await seedVersion1(h);
    await store.migrate();
    await checkBackfill(h, v);
    // MySQL commits each DDL statement: a crash leaves version 2 done in part and unrecorded.
    // Scramble what the backfill computes (seqs kept unique per user), and lose a head.
    await sql("DELETE FROM schema_migrations WHERE version = 2");
    await sql("UPDATE inbox_heads SET base_seq = 0");
    await sql("DELETE FROM inbox_heads WHERE user_id = ?", [v.c]);
    await sql("UPDATE messages SET sender_seq = -id, recipient_seq = -id WHERE id > ?", [v.m[2]]);
    await store.migrate();
    assert.equal(await store.schemaVersion(), 2);
    await checkBackfill(h, v);
  } finally {
    await store.close();
    await raw.end();
    await db.drop();
  }
});

Deno.test("insertMessages() works without RETURNING (MySQL) and reads back ids numbered with gaps", async () => {
  const db = await freshMysql();
  const store = await openStore(db.url, { log: silentLogger });
  const raw = await mysql.createConnection({ uri: db.url });
  try {
    await store.migrate();
    const ex = (store as unknown as { ex: Executor }).ex;
    const [server] = await raw.query("SELECT VERSION() AS v");
    const mariadb = /MariaDB/.test(String((server as { v: string }[])[0].v));
    assert.equal((await ex.features()).returning, mariadb, "RETURNING is MariaDB's");
    // As on MySQL (no RETURNING) with innodb_autoinc_lock_mode = 2 (or a step above 1).
    ex.features = () => Promise.resolve({ consecutiveIds: false, returning: false });
    const a = (await store.createUser({ email: "a@x.org", name: "a", passwordHash: "h" })).id;
    const b = (await store.createUser({ email: "b@x.org", name: "b", passwordHash: "h" })).id;
    const m = (clientId: string, from = a, to = b) => ({
      senderId: from,
      recipientId: to,
      clientId,
      text: clientId,
      createdAt: 1,
    });
    const first = await store.insertMessages([m("x"), m("y", b, a), m("x")]);
    const second = await store.insertMessages([m("z"), m("y", b, a), m("w", b, a)]);
    for (const r of [...first, ...second]) {
      assert.deepEqual(await store.messageById(r.message.id), r.message);
    }
    assert.deepEqual(first.map((r) => [r.duplicate, r.senderSeq, r.recipientSeq]), [
      [false, 1, 1],
      [false, 2, 2],
      [true, 1, 1],
    ]);
    assert.deepEqual(second.map((r) => [r.duplicate, r.senderSeq, r.recipientSeq]), [
      [false, 3, 3],
      [true, 2, 2],
      [false, 4, 4],
    ]);
    assert.deepEqual(
      (await store.inbox(a, { after: 0, limit: 10 })).map((e) => [e.seq, e.message.clientId]),
      [[1, "x"], [2, "y"], [3, "z"], [4, "w"]],
    );
    assert.deepEqual(await store.inboxHeads([a, b]), new Map([[a, 4], [b, 4]]));
  } finally {
    await store.close();
    await raw.end();
    await db.drop();
  }
});

Deno.test("openStore() creates a missing mysql database with utf8mb4", async () => {
  const name = `parley_t_new_${Date.now().toString(36)}`;
  const url = new URL(MYSQL_URL);
  url.pathname = `/${name}`;
  const admin = await mysql.createConnection({ uri: MYSQL_URL });
  try {
    const store = await openStore(url.toString(), { log: silentLogger });
    try {
      assert.equal(store.kind, "mysql");
      await store.migrate();
      assert.equal(await store.countUsers(), 0);
    } finally {
      await store.close();
    }
    const [rows] = await admin.query(
      "SELECT default_character_set_name AS cs FROM information_schema.schemata WHERE schema_name = ?",
      [name],
    );
    assert.deepEqual(rows, [{ cs: "utf8mb4" }]);
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await admin.end();
  }
});

Deno.test("a batch that deadlocks after it said it holds its heads fails with store_unavailable and stores nothing", async () => {
  const db = await freshMysql();
  const store = await openStore(db.url, { log: silentLogger });
  const other = await mysql.createConnection({ uri: db.url });
  try {
    await store.migrate();
    const a = (await store.createUser({ email: "a@x.org", name: "a", passwordHash: "h" })).id;
    const b = (await store.createUser({ email: "b@x.org", name: "b", passwordHash: "h" })).id;
    const dup = { senderId: a, recipientId: b, clientId: "dup", text: "hi", createdAt: 1 };
    // Another transaction holds the key the batch will insert, and has written more rows than
    // the batch (InnoDB rolls back the smaller of two deadlocked transactions).
    await other.query("START TRANSACTION");
    const rows = Array.from({ length: 200 }, (_, i) => [b, a, `w${i}`, "w", 1, 1000 + i, 1000 + i]);
    rows.push([a, b, "dup", "held", 1, 5000, 5000]);
    await other.query(
      `INSERT INTO messages (sender_id, recipient_id, client_id, text, created_at,
        sender_seq, recipient_seq) VALUES ?`,
      [rows],
    );
    const locked = Promise.withResolvers<void>();
    const batch = store.insertMessages([dup], () => locked.resolve()).then(
      () => null,
      (e: unknown) => e,
    );
    // The batch holds a's and b's heads and is told so; its INSERT waits for "dup". The other
    // transaction now asks for a's head: a deadlock, and the batch is the victim.
    await locked.promise;
    const wait = other.query("SELECT seq FROM inbox_heads WHERE user_id = ? FOR UPDATE", [a]);
    const e = await batch;
    assert.ok(e instanceof AppError, `the batch failed with ${e}`);
    assert.equal(e.code, "store_unavailable");
    assert.equal(e.status, 503);
    assert.equal(e.retryAfterS, 1);
    await wait;
    await other.query("ROLLBACK");
    // Nothing of the batch is stored and no head moved; sent again, it is stored as new.
    assert.equal(await store.countMessages(), 0);
    assert.deepEqual([await store.inboxHead(a), await store.inboxHead(b)], [0, 0]);
    const [again] = await store.insertMessages([dup]);
    assert.deepEqual([again.duplicate, again.senderSeq, again.recipientSeq], [false, 1, 1]);
  } finally {
    await other.end();
    await store.close();
    await db.drop();
  }
});
