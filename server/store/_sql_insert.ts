/**
 * Storing messages and appending them to the inboxes, the store's hot path
 * (every batch of the chat node's group commit comes here), in one
 * transaction per call and two round trips on MySQL:
 *
 * 1. The inbox head of every user in the batch is raised by the number of
 *    entries the batch gives it (one per message in the sender's inbox,
 *    one in the recipient's; one for a message to oneself), with one
 *    upsert in ascending user id order (a missing head starts at 0). That
 *    write-locks them, always in the same order, so concurrent batches
 *    wait for each other instead of deadlocking, and two copies of one
 *    message (same sender) are never stored at once. The new heads are
 *    read, and the messages go in with one multi-row INSERT (their ids
 *    follow from the first when the database numbers them consecutively;
 *    else they are read back in the same round trip).
 * 2. JS numbers the entries in input order, from the heads before the
 *    batch, and writes them with the COMMIT.
 *
 * Measured on MariaDB, a subquery per entry (to number them in SQL and
 * save round trip 2) cost more than the round trip, so the numbers are
 * computed here. A duplicate (a retry of a message already stored) fails
 * the INSERT of step 1 alone, inside the transaction: the stored copies
 * are then read with their seqs (the heads lock keeps this read exact)
 * and only the rest is inserted. Copies of one message inside the batch
 * are resolved in JS before any SQL.
 */
import { checkMessageInput, messageKey, toMessage } from "./_common.ts";
import {
  type Dialect,
  type Executor,
  type Row,
  rowsOf,
  runOf,
  type Stmt,
  type StmtResult,
  valuesOf,
} from "./_exec.ts";
import type { Inserted, Message, MessageInput } from "./types.ts";

/** Seqs of one stored message in its two inboxes. */
interface Placed {
  message: Message;
  senderSeq: number;
  recipientSeq: number;
}

/** How many inbox entries `msgs` give each user: one for sender and one for recipient. */
function countEntries(msgs: MessageInput[]): Map<number, number> {
  const counts = new Map<number, number>();
  const add = (u: number) => counts.set(u, (counts.get(u) ?? 0) + 1);
  for (const m of msgs) {
    add(m.senderId);
    // A message to oneself is one entry.
    if (m.recipientId !== m.senderId) add(m.recipientId);
  }
  return counts;
}

/**
 * Raises the heads of `counts`' users by their counts (ascending user id;
 * missing heads start at 0), which write-locks them, and reads them back.
 */
function raiseHeads(d: Dialect, counts: Map<number, number>): Stmt[] {
  const v = valuesOf([...counts].sort((a, b) => a[0] - b[0]));
  const list = d.inList([...counts.keys()]);
  return [
    {
      sql: `INSERT INTO inbox_heads (user_id, seq) VALUES ${v.sql}
        ${d.onConflict("user_id", `seq = seq + ${d.proposed("seq")}`)}`,
      params: v.params,
    },
    { sql: `SELECT user_id, seq FROM inbox_heads WHERE user_id ${list.sql}`, params: list.params },
  ];
}

/** `sender_id IN (...) AND client_id IN (...)` for the keys of `msgs` (a superset; filter by key). */
function keysMatch(d: Dialect, msgs: MessageInput[], alias = ""): Stmt {
  const senders = d.inList([...new Set(msgs.map((m) => m.senderId))]);
  const clients = d.inList([...new Set(msgs.map((m) => m.clientId))]);
  return {
    sql: `${alias}sender_id ${senders.sql} AND ${alias}client_id ${clients.sql}`,
    params: [...senders.params!, ...clients.params!],
  };
}

/** The INSERT of `msgs`, and with `readIds` the SELECT of their ids after it. */
function insertRows(d: Dialect, msgs: MessageInput[], readIds: boolean): Stmt[] {
  const rows = valuesOf(
    msgs.map((m) => [m.senderId, m.recipientId, m.clientId, m.text, m.createdAt]),
  );
  const keys = keysMatch(d, msgs);
  return [
    {
      sql: `INSERT INTO messages (sender_id, recipient_id, client_id, text, created_at)
        VALUES ${rows.sql}`,
      params: rows.params,
    },
    ...(readIds
      ? [{
        sql: `SELECT id, sender_id, client_id FROM messages WHERE ${keys.sql}`,
        params: keys.params,
      }]
      : []),
  ];
}

/** Message ids from insertRows()' results: counted from the first, or as read back. */
function idsFrom(msgs: MessageInput[], results: StmtResult[], consecutive: boolean): number[] {
  if (consecutive) {
    const first = runOf(results[0]).insertId;
    return msgs.map((_, i) => first + i);
  }
  const ids = new Map(
    rowsOf(results[1]).map((r) => [`${r.sender_id}:${r.client_id}`, Number(r.id)]),
  );
  return msgs.map((m) => ids.get(messageKey(m))!);
}

/**
 * Numbers the inbox entries of `msgs` (stored with `ids`) after `heads`
 * (the heads before them, advanced here); returns the placed messages and
 * the INSERT of the entries.
 */
function placeAll(
  msgs: MessageInput[],
  ids: number[],
  heads: Map<number, number>,
): [Placed[], Stmt] {
  const entries: unknown[][] = [];
  const next = (u: number, id: number) => {
    const seq = heads.get(u)! + 1;
    heads.set(u, seq);
    entries.push([u, seq, id]);
    return seq;
  };
  const placed = msgs.map((m, i): Placed => {
    const senderSeq = next(m.senderId, ids[i]);
    const recipientSeq = m.recipientId === m.senderId ? senderSeq : next(m.recipientId, ids[i]);
    return { message: { id: ids[i], ...m }, senderSeq, recipientSeq };
  });
  const e = valuesOf(entries);
  return [placed, {
    sql: `INSERT INTO inbox (user_id, seq, message_id) VALUES ${e.sql}`,
    params: e.params,
  }];
}

/** Sets the heads of the users in `heads` to its values (ascending user id). */
function setHeads(d: Dialect, heads: Map<number, number>): Stmt {
  const h = valuesOf([...heads].sort((a, b) => a[0] - b[0]));
  return {
    sql: `INSERT INTO inbox_heads (user_id, seq) VALUES ${h.sql}
      ${d.onConflict("user_id", `seq = ${d.proposed("seq")}`)}`,
    params: h.params,
  };
}

/** Messages already stored among `msgs`' keys, with their seqs, by key. */
function storedFrom(rows: Row[], msgs: MessageInput[]): Map<string, Placed> {
  const wanted = new Set(msgs.map(messageKey));
  const found = new Map<string, Placed>();
  for (const r of rows) {
    const message = toMessage(r);
    const key = messageKey(message);
    if (!wanted.has(key)) continue;
    const p = found.get(key) ?? { message, senderSeq: 0, recipientSeq: 0 };
    const user = Number(r.user_id);
    if (user === message.senderId) p.senderSeq = Number(r.seq);
    if (user === message.recipientId) p.recipientSeq = Number(r.seq);
    found.set(key, p);
  }
  for (const p of found.values()) {
    if (!p.senderSeq || !p.recipientSeq) {
      throw new Error(`message ${p.message.id} is stored without its inbox entries`);
    }
  }
  return found;
}

/** True for a unique-key violation on (sender_id, client_id): a message stored before. */
function isStoredBefore(d: Dialect, e: unknown): boolean {
  return d.duplicateKey(e)?.includes("client") ?? false;
}

const headsOf = (rows: Row[]) => new Map(rows.map((r) => [Number(r.user_id), Number(r.seq)]));

/** `heads` minus `counts`: the heads before the entries were counted in. */
function before(heads: Map<number, number>, counts: Map<number, number>): Map<number, number> {
  return new Map([...heads].map(([u, seq]) => [u, seq - (counts.get(u) ?? 0)]));
}

/** Stores `inputs` (see the module comment); one Inserted per input, in order. */
export async function insertMessages(ex: Executor, inputs: MessageInput[]): Promise<Inserted[]> {
  inputs.forEach(checkMessageInput);
  if (inputs.length === 0) return [];
  // The first input with a key is the message; any later one in the batch is its retry.
  const firsts = new Map<string, number>();
  inputs.forEach((m, i) => firsts.has(messageKey(m)) || firsts.set(messageKey(m), i));
  const fresh = [...firsts.values()].map((i) => inputs[i]);
  const counts = countEntries(fresh);
  const d = ex.dialect;
  const consecutive = await ex.consecutiveIds();
  const [stored, placed] = await ex.tx(async (t) => {
    try {
      const out = await t.script([...raiseHeads(d, counts), ...insertRows(d, fresh, !consecutive)]);
      const ids = idsFrom(fresh, out.slice(2), consecutive);
      const [placed, entries] = placeAll(fresh, ids, before(headsOf(rowsOf(out[1])), counts));
      await t.commitWith([entries]);
      return [new Map<string, Placed>(), placed] as const;
    } catch (e) {
      if (!isStoredBefore(d, e)) throw e;
    }
    // The INSERT alone failed: the heads are raised and locked, so no copy can be stored
    // meanwhile and this read sees every one that was.
    const keys = keysMatch(d, fresh, "m.");
    const [locked, found] = await t.script([
      raiseHeads(d, counts)[1],
      {
        sql: `SELECT m.id, m.sender_id, m.recipient_id, m.client_id, m.text, m.created_at,
            i.user_id, i.seq
          FROM messages m JOIN inbox i ON i.message_id = m.id WHERE ${keys.sql}`,
        params: keys.params,
      },
    ]);
    const heads = before(headsOf(rowsOf(locked)), counts);
    const old = storedFrom(rowsOf(found), fresh);
    const rest = fresh.filter((m) => !old.has(messageKey(m)));
    if (rest.length === 0) {
      await t.commitWith([setHeads(d, heads)]);
      return [old, []] as const;
    }
    const ids = idsFrom(rest, await t.script(insertRows(d, rest, !consecutive)), consecutive);
    const [placed, entries] = placeAll(rest, ids, heads);
    await t.commitWith([entries, setHeads(d, heads)]);
    return [old, placed] as const;
  });
  const made = new Map(placed.map((p) => [messageKey(p.message), p]));
  return inputs.map((m, i) => {
    const key = messageKey(m);
    const old = stored.get(key);
    if (old) return { ...old, duplicate: true };
    // Only the input that the batch stored is new; a later copy is its retry.
    return { ...made.get(key)!, duplicate: firsts.get(key) !== i };
  });
}
