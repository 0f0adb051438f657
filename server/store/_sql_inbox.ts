/**
 * The part of the SQL store over what a session reads and moves as it
 * delivers: inbox heads and entries, device cursors, receipt cursors and
 * token revocations. SqlStore (sql_store.ts) extends it. The batch methods
 * take many users at once (a chat node asks for all its sessions per
 * sweep) and send one round trip per chunk of ids, all chunks together.
 */
import {
  checkDevice,
  checkText,
  clampLimit,
  MESSAGE_COLUMNS,
  toCursor,
  toDevice,
  toMessage,
  uniqueIds,
} from "./_common.ts";
import { chunks, type Executor, rowsOf, type Stmt, valuesOf } from "./_exec.ts";
import { SQL } from "./_sql.ts";
import type {
  AuthStates,
  Cursor,
  CursorUpdate,
  Device,
  DeviceUpdate,
  InboxEntry,
} from "./types.ts";

/** Ids per IN list or rows per multi-row statement. */
const CHUNK = 500;

export class InboxStore {
  protected readonly ex: Executor;

  constructor(ex: Executor) {
    this.ex = ex;
  }

  /** `sql(inList)` for each chunk of `values`, all in one script; the rows of all. */
  async #inChunks<T extends number | string>(
    values: T[],
    sql: (inList: string) => string,
  ): Promise<Record<string, unknown>[]> {
    if (values.length === 0) return [];
    const stmts = chunks(values, CHUNK).map((part): Stmt => {
      const list = this.ex.dialect.inList(part);
      return { sql: sql(list.sql), params: list.params };
    });
    return (await this.ex.script(stmts)).flatMap(rowsOf);
  }

  // --- inbox ---

  async inboxHead(userId: number): Promise<number> {
    const row = await this.ex.get(SQL.inboxHead, [userId]);
    return row ? Number(row.seq) : 0;
  }

  async inboxHeads(userIds: number[]): Promise<Map<number, number>> {
    const ids = uniqueIds(userIds);
    const heads = new Map(ids.map((id) => [id, 0]));
    const rows = await this.#inChunks(
      ids,
      (list) => `SELECT user_id, seq FROM inbox_heads WHERE user_id ${list}`,
    );
    for (const r of rows) heads.set(Number(r.user_id), Number(r.seq));
    return heads;
  }

  async inbox(userId: number, options: { after: number; limit: number }): Promise<InboxEntry[]> {
    const after = Math.max(0, options.after);
    const limit = clampLimit(options.limit);
    // One arm per side, each walking its seq index from `after`; merged and cut. A message
    // to oneself is in the sender arm only. (Group conversations add a member-inbox arm.)
    const arm = this.ex.dialect.unionArm;
    const rows = await this.ex.all(
      `${
        arm(`SELECT sender_seq AS seq, ${MESSAGE_COLUMNS} FROM messages
        WHERE sender_id = ? AND sender_seq > ? ORDER BY sender_seq LIMIT ?`)
      }
      UNION ALL
      ${
        arm(`SELECT recipient_seq AS seq, ${MESSAGE_COLUMNS} FROM messages
        WHERE recipient_id = ? AND recipient_seq > ? AND sender_id <> ?
        ORDER BY recipient_seq LIMIT ?`)
      }
      ORDER BY seq LIMIT ?`,
      [userId, after, limit, userId, after, userId, limit, limit],
    );
    return rows.map((r) => ({ seq: Number(r.seq), message: toMessage(r) }));
  }

  // --- devices ---

  async openDevice(userId: number, deviceId: string, label: string, now: number): Promise<Device> {
    checkDevice(deviceId, label);
    const d = this.ex.dialect;
    return await this.ex.tx(async (t) => {
      // Raced by another open of the same new device, the upsert keeps the first row's cursor.
      const start = await t.get(SQL.deviceStart, [userId, userId, deviceId]);
      const ackedSeq = Math.max(Number(start?.base ?? 0), Number(start?.acked ?? 0));
      const [, row] = await t.commitWith([
        {
          sql: `INSERT INTO devices (user_id, device_id, label, acked_seq, created_at, last_seen_at)
            VALUES (?, ?, ?, ?, ?, ?) ${
            d.onConflict(
              "user_id, device_id",
              `label = ${d.proposed("label")}, last_seen_at = ${d.proposed("last_seen_at")}`,
            )
          }`,
          params: [userId, deviceId, label, ackedSeq, now, now],
        },
        // A locking read: it sees a row another open committed after this one's first read.
        { sql: SQL.device + d.forUpdate, params: [userId, deviceId] },
      ]);
      return toDevice(rowsOf(row)[0]);
    });
  }

  async advanceDevices(updates: DeviceUpdate[]): Promise<void> {
    // One update per device, the highest; sorted so concurrent calls lock rows in one order.
    const best = new Map<string, DeviceUpdate>();
    for (const u of updates) {
      const key = `${u.userId}\n${u.deviceId}`;
      if ((best.get(key)?.ackedSeq ?? -1) < u.ackedSeq) best.set(key, u);
    }
    const all = [...best.values()].sort((a, b) =>
      a.userId - b.userId || (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0)
    );
    if (all.length === 0) return;
    const d = this.ex.dialect;
    const stmts = chunks(all, CHUNK).map((part): Stmt => ({
      sql: `UPDATE devices SET acked_seq = ${
        d.greatest(
          "acked_seq",
          `CASE ${
            part.map(() => "WHEN user_id = ? AND device_id = ? THEN ?").join(" ")
          } ELSE 0 END`,
        )
      }
        WHERE ${part.map(() => "(user_id = ? AND device_id = ?)").join(" OR ")}`,
      params: [
        ...part.flatMap((u) => [u.userId, u.deviceId, Math.max(0, Math.trunc(u.ackedSeq))]),
        ...part.flatMap((u) => [u.userId, u.deviceId]),
      ],
    }));
    await this.ex.script(stmts);
  }

  async devices(userId: number): Promise<Device[]> {
    return (await this.ex.all(SQL.devices, [userId])).map(toDevice);
  }

  async pruneDevices(before: number): Promise<number> {
    return (await this.ex.run(SQL.pruneDevices, [before])).changes;
  }

  // --- receipts ---

  async advanceCursor(
    userId: number,
    peerId: number,
    update: { deliveredId?: number; readId?: number },
  ): Promise<Cursor> {
    return (await this.advanceCursors([{ userId, peerId, ...update }]))[0];
  }

  async advanceCursors(updates: CursorUpdate[]): Promise<Cursor[]> {
    // Per pair the highest of each; read implies delivered.
    const merged = new Map<
      string,
      { userId: number; peerId: number; delivered: number; read: number }
    >();
    for (const u of updates) {
      const key = `${u.userId}:${u.peerId}`;
      const m = merged.get(key) ?? { userId: u.userId, peerId: u.peerId, delivered: 0, read: 0 };
      m.read = Math.max(m.read, u.readId ?? 0);
      m.delivered = Math.max(m.delivered, m.read, u.deliveredId ?? 0);
      merged.set(key, m);
    }
    if (merged.size === 0) return [];
    const d = this.ex.dialect;
    // Sorted, so that concurrent batches lock the rows in one order.
    const rows = [...merged.values()].sort((a, b) => a.userId - b.userId || a.peerId - b.peerId);
    const stmts: Stmt[] = [];
    for (const part of chunks(rows, CHUNK)) {
      const v = valuesOf(part.map((m) => [m.userId, m.peerId, m.delivered, m.read]));
      const users = d.inList([...new Set(part.map((m) => m.userId))]);
      const peers = d.inList([...new Set(part.map((m) => m.peerId))]);
      stmts.push(
        {
          sql: `INSERT INTO cursors (user_id, peer_id, delivered_id, read_id) VALUES ${v.sql}
            ${
            d.onConflict(
              "user_id, peer_id",
              `delivered_id = ${d.greatest("delivered_id", d.proposed("delivered_id"))},
               read_id = ${d.greatest("read_id", d.proposed("read_id"))}`,
            )
          }`,
          params: v.params,
        },
        {
          sql: `SELECT user_id, peer_id, delivered_id, read_id FROM cursors
            WHERE user_id ${users.sql} AND peer_id ${peers.sql}`,
          params: [...users.params!, ...peers.params!],
        },
      );
    }
    const found = new Map<string, Cursor>();
    for (const r of (await this.ex.script(stmts)).filter(Array.isArray).flat()) {
      const c = toCursor(r);
      found.set(`${c.userId}:${c.peerId}`, c);
    }
    return [...merged.keys()].map((key) => found.get(key)!);
  }

  async cursor(userId: number, peerId: number): Promise<Cursor> {
    const row = await this.ex.get(SQL.cursor, [userId, peerId]);
    return {
      userId,
      peerId,
      deliveredId: row ? Number(row.delivered_id) : 0,
      readId: row ? Number(row.read_id) : 0,
    };
  }

  // --- tokens ---

  async authStates(userIds: number[], jtis: string[]): Promise<AuthStates> {
    const [users, revoked] = await Promise.all([
      this.#inChunks(
        uniqueIds(userIds),
        (list) => `SELECT id, auth_epoch FROM users WHERE id ${list}`,
      ),
      this.#inChunks(
        [...new Set(jtis)],
        (list) => `SELECT jti FROM revoked_tokens WHERE jti ${list}`,
      ),
    ]);
    return {
      epochs: new Map(users.map((r) => [Number(r.id), Number(r.auth_epoch)])),
      revoked: new Set(revoked.map((r) => String(r.jti))),
    };
  }

  async revokeToken(jti: string, userId: number, expiresAt: number): Promise<void> {
    checkText("jti", jti);
    await this.ex.run(
      `${this.ex.dialect.insertIgnore} INTO revoked_tokens (jti, user_id, expires_at) VALUES (?, ?, ?)`,
      [jti, userId, expiresAt],
    );
  }

  async pruneRevokedTokens(now: number): Promise<number> {
    return (await this.ex.run(SQL.pruneRevokedTokens, [now])).changes;
  }
}
