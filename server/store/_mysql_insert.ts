/**
 * Message inserts for the mysql adapter, kept apart because idempotency
 * under races is the subtle part. A plain INSERT lets the unique index
 * (sender_id, client_id) decide between racing copies; the loser reads the
 * winner's row. (ON DUPLICATE KEY UPDATE cannot tell a duplicate apart:
 * mysql2 sets CLIENT_FOUND_ROWS, so both outcomes report one affected row.)
 */
import type { Pool, ResultSetHeader } from "mysql2/promise";
import { MESSAGE_COLUMNS, type MessageInput, toMessage } from "./_common.ts";
import { SQL } from "./_sql.ts";
import type { Message } from "./types.ts";

export type Inserted = { message: Message; duplicate: boolean };
type Row = Record<string, unknown>;

const INSERT = "INSERT INTO messages (sender_id, recipient_id, client_id, text, created_at)";
const key = (m: { senderId: number; clientId: string }) => `${m.senderId}:${m.clientId}`;
const isDup = (e: unknown) => (e as { code?: string } | null)?.code === "ER_DUP_ENTRY";

export async function insertOne(pool: Pool, m: MessageInput): Promise<Inserted> {
  try {
    const [res] = await pool.query<ResultSetHeader>(`${INSERT} VALUES (?, ?, ?, ?, ?)`, [
      m.senderId,
      m.recipientId,
      m.clientId,
      m.text,
      m.createdAt,
    ]);
    return { message: { id: Number(res.insertId), ...m }, duplicate: false };
  } catch (e) {
    if (!isDup(e)) throw e;
    const [rows] = await pool.query(SQL.messageByClientId, [m.senderId, m.clientId]);
    const row = (rows as Row[])[0];
    // The winning row cannot vanish (messages are never deleted), but say so if it did.
    if (!row) throw new Error("duplicate message key but no stored message");
    return { message: toMessage(row), duplicate: true };
  }
}

/**
 * Whether a multi-row INSERT numbers its rows consecutively from the
 * insertId it reports: true with innodb_autoinc_lock_mode 0 or 1 (a
 * "simple insert" takes its whole range of ids at once) and an
 * auto-increment step of 1. Asked once per pool.
 */
const consecutiveIds = new WeakMap<Pool, Promise<boolean>>();

function idsAreConsecutive(pool: Pool): Promise<boolean> {
  let known = consecutiveIds.get(pool);
  if (!known) {
    known = pool.query(
      "SELECT @@innodb_autoinc_lock_mode AS mode, @@auto_increment_increment AS step",
    ).then(([rows]) => {
      const r = (rows as Row[])[0];
      return Number(r.mode) <= 1 && Number(r.step) === 1;
    }, () => false);
    consecutiveIds.set(pool, known);
  }
  return known;
}

/**
 * Inserts `rows` with one multi-row INSERT (atomic: all rows or none;
 * InnoDB numbers them in VALUES order). Their ids follow from the first
 * one when the server numbers them consecutively (one round trip), else
 * they are read back with one SELECT. False, having stored nothing, if any
 * row is a duplicate.
 */
async function insertAll(pool: Pool, rows: MessageInput[]): Promise<Map<string, number> | false> {
  let res: ResultSetHeader;
  try {
    [res] = await pool.query<ResultSetHeader>(`${INSERT} VALUES ?`, [
      rows.map((m) => [m.senderId, m.recipientId, m.clientId, m.text, m.createdAt]),
    ]);
  } catch (e) {
    if (isDup(e)) return false;
    throw e;
  }
  if (res.affectedRows === rows.length && (await idsAreConsecutive(pool))) {
    const first = Number(res.insertId);
    return new Map(rows.map((m, i) => [key(m), first + i]));
  }
  const [found] = await pool.query(
    "SELECT id, sender_id, client_id FROM messages WHERE (sender_id, client_id) IN (?)",
    [rows.map((m) => [m.senderId, m.clientId])],
  );
  return new Map((found as Row[]).map((r) => [`${r.sender_id}:${r.client_id}`, Number(r.id)]));
}

/**
 * One round trip (two where ids are not consecutive) for a batch without duplicates (the common case). When
 * the optimistic INSERT hits one, the stored copies are read, the rest is
 * inserted in one statement again, and only if another writer races that
 * too does the batch fall back to one exact INSERT per row.
 */
export async function insertBatch(pool: Pool, inputs: MessageInput[]): Promise<Inserted[]> {
  if (inputs.length <= 1) return await Promise.all(inputs.map((m) => insertOne(pool, m)));
  const stored = new Map<string, Message>();
  let ids = await insertAll(pool, inputs);
  if (!ids) {
    const [rows] = await pool.query(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE (sender_id, client_id) IN (?)`,
      [inputs.map((m) => [m.senderId, m.clientId])],
    );
    for (const r of (rows as Row[]).map(toMessage)) stored.set(key(r), r);
    // Each key not stored yet, once (its first occurrence in the batch).
    const fresh = new Map<string, MessageInput>();
    for (const m of inputs) if (!stored.has(key(m)) && !fresh.has(key(m))) fresh.set(key(m), m);
    ids = fresh.size ? await insertAll(pool, [...fresh.values()]) : new Map<string, number>();
    if (!ids) {
      const out: Inserted[] = [];
      for (const m of inputs) out.push(await insertOne(pool, m));
      return out;
    }
  }
  // The first input with a key is the new message; any later one in the batch is its retry.
  const firsts = new Map<string, Message>();
  return inputs.map((m) => {
    const old = stored.get(key(m)) ?? firsts.get(key(m));
    if (old) return { message: old, duplicate: true };
    const id = ids.get(key(m));
    if (id === undefined) throw new Error("an inserted message was not found again");
    const message = { id, ...m };
    firsts.set(key(m), message);
    return { message, duplicate: false };
  });
}
