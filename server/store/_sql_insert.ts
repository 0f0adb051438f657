/**
 * Storing messages with their inbox seqs, the store's hot path (every
 * batch of the chat node's group commit comes here), in one transaction per
 * call and two round trips on MySQL:
 *
 * 1. The inbox head of every user in the batch is raised by the number of
 *    entries the batch gives it (one per message in the sender's inbox,
 *    one in the recipient's; one for a message to oneself), with one
 *    upsert in ascending user id order (a missing head starts at 0). That
 *    write-locks them, always in the same order, so concurrent batches
 *    wait for each other instead of deadlocking, and two copies of one
 *    message (same sender) are never stored at once. The raised heads come
 *    back from the upsert (RETURNING, MariaDB 10.5+ and SQLite) or from a
 *    SELECT after it (MySQL).
 * 2. JS numbers the entries in input order from the heads before the
 *    batch, and the messages go in with their seqs (messages.sender_seq,
 *    recipient_seq) in one multi-row INSERT, with the COMMIT. Their ids
 *    follow from the first when the database numbers a multi-row INSERT
 *    consecutively; else they are read back before the COMMIT.
 *
 * Because a message's seqs are assigned under its users' head locks, and
 * its id when it is inserted under them, a user's seqs rise with the ids of
 * the user's messages; undelivered() relies on it.
 *
 * On MySQL, `onLocked` is called once the heads are raised: the caller (the
 * chat node's writer) may then start its next batch, which waits on the
 * locks of every user the two share. If this batch's transaction must run
 * again after a deadlock, that later batch may have taken the heads first;
 * the batch then fails with store_unavailable (its senders send again)
 * instead of storing a conversation's earlier messages after later ones.
 *
 * One round trip is reachable on MariaDB (INSERT ... SELECT from a VALUES
 * CTE joined with the heads the same script raised, RETURNING the ids),
 * but measured (layout_timing.ts) it cost the server 15-25% more CPU per
 * message than these two and was no faster on a loopback connection: the
 * CTE, the join and the sort cost more than the round trip saves.
 *
 * A duplicate (a retry of a message already stored) fails the INSERT alone,
 * inside the transaction: the stored copies are then read with their seqs
 * (the heads lock keeps this read exact), only the rest is inserted and the
 * heads are set to what was used. Copies of one message inside the batch
 * are resolved in JS before any SQL.
 */
import { checkMessageInput, MESSAGE_COLUMNS, messageKey, toMessage } from "./_common.ts";
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
import { AppError } from "../../proto/errors.ts";
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
 * missing heads start at 0), which write-locks them; the last statement's
 * rows are the raised heads.
 */
function raiseHeads(d: Dialect, counts: Map<number, number>, returning: boolean): Stmt[] {
  const v = valuesOf([...counts].sort((a, b) => a[0] - b[0]));
  const raise = `INSERT INTO inbox_heads (user_id, seq) VALUES ${v.sql}
    ${d.onConflict("user_id", `seq = seq + ${d.proposed("seq")}`)}`;
  if (returning) return [{ sql: `${raise} RETURNING user_id, seq`, params: v.params }];
  const list = d.inList([...counts.keys()]);
  return [
    { sql: raise, params: v.params },
    { sql: `SELECT user_id, seq FROM inbox_heads WHERE user_id ${list.sql}`, params: list.params },
  ];
}

/** `(sender_id, client_id)` is one of `msgs`' keys. */
function keysMatch(d: Dialect, msgs: MessageInput[]): Stmt {
  return d.pairList("sender_id", "client_id", msgs.map((m) => [m.senderId, m.clientId]));
}

/**
 * Numbers `msgs` after `heads` (the heads before them, advanced here) and
 * returns them placed (ids still 0) with the INSERT of the rows and, unless
 * ids are consecutive, the SELECT of their ids after it.
 */
function placeAll(
  d: Dialect,
  msgs: MessageInput[],
  heads: Map<number, number>,
  consecutive: boolean,
): [Placed[], Stmt[]] {
  const next = (u: number) => {
    const seq = heads.get(u)! + 1;
    heads.set(u, seq);
    return seq;
  };
  const placed = msgs.map((m): Placed => {
    const senderSeq = next(m.senderId);
    const recipientSeq = m.recipientId === m.senderId ? senderSeq : next(m.recipientId);
    return { message: { id: 0, ...m }, senderSeq, recipientSeq };
  });
  const rows = valuesOf(placed.map(({ message: m, senderSeq, recipientSeq }) => [
    m.senderId,
    m.recipientId,
    m.clientId,
    m.text,
    m.createdAt,
    senderSeq,
    recipientSeq,
  ]));
  const keys = keysMatch(d, msgs);
  return [placed, [
    {
      sql: `INSERT INTO messages (sender_id, recipient_id, client_id, text, created_at,
        sender_seq, recipient_seq) VALUES ${rows.sql}`,
      params: rows.params,
    },
    ...(consecutive ? [] : [{
      sql: `SELECT id, sender_id, client_id FROM messages WHERE ${keys.sql}`,
      params: keys.params,
    }]),
  ]];
}

/** Gives `placed` their ids from placeAll()'s results: counted from the first, or as read back. */
function setIds(placed: Placed[], results: StmtResult[], consecutive: boolean): Placed[] {
  if (consecutive) {
    const first = runOf(results[0]).insertId;
    placed.forEach((p, i) => p.message.id = first + i);
    return placed;
  }
  const ids = new Map(
    rowsOf(results[1]).map((r) => [`${r.sender_id}:${r.client_id}`, Number(r.id)]),
  );
  for (const p of placed) p.message.id = ids.get(messageKey(p.message))!;
  return placed;
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

/** The stored messages among `rows` (read by key) with their seqs, by key. */
function storedFrom(rows: Row[]): Map<string, Placed> {
  return new Map(rows.map((r) => {
    const message = toMessage(r);
    const placed = {
      message,
      senderSeq: Number(r.sender_seq),
      recipientSeq: Number(r.recipient_seq),
    };
    return [messageKey(message), placed];
  }));
}

/** True for a unique-key violation on (sender_id, client_id): a message stored before. */
function isStoredBefore(d: Dialect, e: unknown): boolean {
  return d.duplicateKey(e)?.includes("client") ?? false;
}

/** The heads before the batch: `raised` (rows of user_id, seq) minus `counts`. */
function before(raised: Row[], counts: Map<number, number>): Map<number, number> {
  return new Map(raised.map((r) => {
    const user = Number(r.user_id);
    return [user, Number(r.seq) - counts.get(user)!];
  }));
}

/** Stores `inputs` (see the module comment); one Inserted per input, in order. */
export async function insertMessages(
  ex: Executor,
  inputs: MessageInput[],
  onLocked?: () => void,
): Promise<Inserted[]> {
  inputs.forEach(checkMessageInput);
  if (inputs.length === 0) return [];
  // The first input with a key is the message; any later one in the batch is its retry.
  const firsts = new Map<string, number>();
  inputs.forEach((m, i) => firsts.has(messageKey(m)) || firsts.set(messageKey(m), i));
  const fresh = [...firsts.values()].map((i) => inputs[i]);
  const counts = countEntries(fresh);
  const d = ex.dialect;
  const { consecutiveIds, returning } = await ex.features();
  let told = false;
  const [stored, placed] = await ex.tx(async (t) => {
    // Run again after a deadlock: once a batch started after this one was told it may take the
    // heads, storing this one behind it would put a conversation's later messages first.
    if (told) throw new AppError("store_unavailable", "the store was busy; send again", 503, 1);
    const raised = await t.script(raiseHeads(d, counts, returning));
    // SQLite runs one transaction at a time: a batch started now would only wait, and be smaller.
    if (onLocked && d.name === "mysql") {
      told = true;
      onLocked();
    }
    const heads = before(rowsOf(raised[raised.length - 1]), counts);
    const start = new Map(heads);
    try {
      const [placed, stmts] = placeAll(d, fresh, heads, consecutiveIds);
      return [new Map(), setIds(placed, await t.commitWith(stmts), consecutiveIds)] as const;
    } catch (e) {
      if (!isStoredBefore(d, e)) throw e;
    }
    // The INSERT alone failed: the heads are locked, so no copy can be stored meanwhile and
    // this read sees every one that was.
    const keys = keysMatch(d, fresh);
    const old = storedFrom(
      await t.all(
        `SELECT ${MESSAGE_COLUMNS}, sender_seq, recipient_seq FROM messages WHERE ${keys.sql}`,
        keys.params,
      ),
    );
    const rest = fresh.filter((m) => !old.has(messageKey(m)));
    if (rest.length === 0) {
      await t.commitWith([setHeads(d, start)]);
      return [old, []] as const;
    }
    const [placed, stmts] = placeAll(d, rest, start, consecutiveIds);
    const out = await t.commitWith([...stmts, setHeads(d, start)]);
    return [old, setIds(placed, out, consecutiveIds)] as const;
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
