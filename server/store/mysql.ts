/**
 * The `mysql` store adapter for a cluster: MySQL or MariaDB through a
 * mysql2 connection pool. Statements go through `pool.query` with `?`
 * placeholders (mysql2 escapes every value; `VALUES ?` takes the nested
 * arrays of a multi-row insert). Transactions run on one pooled connection
 * and are retried on deadlock; friend changes lock the two users' rows
 * first, so two requests between the same pair are serialised.
 */
import mysql, { type Pool, type PoolConnection, type ResultSetHeader } from "mysql2/promise";
import type { Logger } from "../log.ts";
import {
  checkMessageInput,
  checkText,
  checkUserInput,
  clampLimit,
  decodeAfter,
  encodeAfter,
  escapeLike,
  MESSAGE_COLUMNS,
  type MessageInput,
  normalizeKey,
  orderByIds,
  REQUEST_COLUMNS,
  selfFriendError,
  toMessage,
  toRequest,
  toUser,
  uniqueIds,
  USER_COLUMNS,
  userNotFound,
} from "./_common.ts";
import { CREATE_SCHEMA_MIGRATIONS, MIGRATIONS } from "./migrations.ts";
import {
  ConflictError,
  type Cursor,
  type Friend,
  type FriendRequest,
  type Message,
  type Page,
  type Store,
  type UnreadCount,
  type User,
} from "./types.ts";

type Row = Record<string, unknown>;
type Queryable = Pool | PoolConnection;
type Inserted = { message: Message; duplicate: boolean };

function errCode(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}

/** Opens a pool for `mysql://user:pass@host:port/db`, creating the database if it is missing. */
export async function openMysql(url: string, options: { log: Logger }): Promise<MysqlStore> {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (!/^[A-Za-z0-9_$-]{1,64}$/.test(database)) {
    throw new Error(
      "the mysql store URL needs a database name, e.g. mysql://user@host:3306/parley",
    );
  }
  const base = {
    host: u.hostname.replace(/^\[|\]$/g, ""),
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username) || "root",
    password: decodeURIComponent(u.password) || undefined,
    charset: "utf8mb4",
    // BIGINT columns come back as numbers (strings only past 2^53, which ids never reach).
    supportBigNumbers: true,
    bigNumberStrings: false,
  };
  const pool = mysql.createPool({
    ...base,
    database,
    connectionLimit: 10,
    waitForConnections: true,
  });
  try {
    await pool.query("SELECT 1");
  } catch (e) {
    if (errCode(e) !== "ER_BAD_DB_ERROR") {
      await pool.end();
      throw e;
    }
    // A newcomer only needs a server: make the database on first start.
    const conn = await mysql.createConnection(base);
    try {
      await conn.query(
        `CREATE DATABASE IF NOT EXISTS ${
          conn.escapeId(database)
        } CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
      );
    } finally {
      await conn.end();
    }
    options.log.info("created the database", { database });
  }
  return new MysqlStore(pool, options.log);
}

export class MysqlStore implements Store {
  readonly kind = "mysql";
  #pool: Pool;
  #log: Logger;
  #closed = false;

  constructor(pool: Pool, log: Logger) {
    this.#pool = pool;
    this.#log = log;
  }

  async #all(sql: string, params: unknown[] = [], on: Queryable = this.#pool): Promise<Row[]> {
    const [rows] = await on.query(sql, params);
    return rows as Row[];
  }

  async #get(sql: string, params: unknown[] = [], on: Queryable = this.#pool): Promise<Row | null> {
    return (await this.#all(sql, params, on))[0] ?? null;
  }

  async #run(sql: string, params: unknown[] = [], on: Queryable = this.#pool) {
    const [res] = await on.query(sql, params);
    return res as ResultSetHeader;
  }

  /** Runs `fn` in a transaction on one connection; retried when InnoDB picks it as a deadlock victim. */
  async #tx<T>(fn: (c: PoolConnection) => Promise<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      const c = await this.#pool.getConnection();
      try {
        await c.beginTransaction();
        const out = await fn(c);
        await c.commit();
        return out;
      } catch (e) {
        await c.rollback().catch(() => {});
        if (errCode(e) !== "ER_LOCK_DEADLOCK" || attempt >= 5) throw e;
      } finally {
        c.release();
      }
    }
  }

  async migrate(): Promise<void> {
    const c = await this.#pool.getConnection();
    // GET_LOCK is server-wide, so the name carries the database's.
    const lock = "LEFT(CONCAT('parley_migrate:', DATABASE()), 64)";
    try {
      const got = await this.#get(`SELECT GET_LOCK(${lock}, 60) AS ok`, [], c);
      if (Number(got?.ok) !== 1) throw new Error("could not take the migration lock within 60 s");
      try {
        await c.query(CREATE_SCHEMA_MIGRATIONS.mysql);
        const rows = await this.#all("SELECT version FROM schema_migrations", [], c);
        const done = new Set(rows.map((r) => Number(r.version)));
        for (const m of MIGRATIONS) {
          if (done.has(m.version)) continue;
          for (const sql of m.mysql) await c.query(sql);
          await c.query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", [
            m.version,
            Date.now(),
          ]);
          this.#log.info("migration applied", { version: m.version, name: m.name });
        }
        const newest = Math.max(0, ...done);
        const known = MIGRATIONS[MIGRATIONS.length - 1].version;
        if (newest > known) {
          this.#log.warn("the database schema is newer than this program", { newest, known });
        }
      } finally {
        await c.query(`DO RELEASE_LOCK(${lock})`);
      }
    } finally {
      c.release();
    }
  }

  async schemaVersion(): Promise<number> {
    const table = await this.#get(
      `SELECT 1 AS x FROM information_schema.tables
       WHERE table_schema = DATABASE() AND table_name = 'schema_migrations'`,
    );
    if (!table) return 0;
    const row = await this.#get("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations");
    return Number(row!.v);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  // --- users ---

  async createUser(input: { email: string; name: string; passwordHash: string }): Promise<User> {
    checkUserInput(input);
    const createdAt = Date.now();
    try {
      const res = await this.#run(
        `INSERT INTO users (email, email_norm, name, name_norm, display_name, bio, password_hash,
           created_at) VALUES (?, ?, ?, ?, '', '', ?, ?)`,
        [
          input.email,
          normalizeKey(input.email),
          input.name,
          normalizeKey(input.name),
          input.passwordHash,
          createdAt,
        ],
      );
      return {
        id: Number(res.insertId),
        email: input.email,
        name: input.name,
        displayName: "",
        bio: "",
        createdAt,
        lastSeenAt: null,
      };
    } catch (e) {
      if (errCode(e) === "ER_DUP_ENTRY") {
        // "Duplicate entry 'x' for key 'uq_users_email'" (MySQL 8 writes 'users.uq_users_email').
        const key = /for key '([^']*)'\s*$/.exec(String((e as Error).message))?.[1] ?? "";
        throw new ConflictError(key.endsWith("uq_users_email") ? "email" : "name");
      }
      throw e;
    }
  }

  async userById(id: number): Promise<User | null> {
    const row = await this.#get(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`, [id]);
    return row ? toUser(row) : null;
  }

  async usersByIds(ids: number[]): Promise<User[]> {
    const want = uniqueIds(ids);
    if (want.length === 0) return [];
    const rows = await this.#all(`SELECT ${USER_COLUMNS} FROM users WHERE id IN (?)`, [want]);
    return orderByIds(rows.map(toUser), want);
  }

  async userForLogin(login: string): Promise<{ user: User; passwordHash: string } | null> {
    const key = normalizeKey(login);
    // Should a name ever equal someone's e-mail, the e-mail wins.
    const row = await this.#get(
      `SELECT ${USER_COLUMNS}, password_hash FROM users WHERE email_norm = ? OR name_norm = ?
       ORDER BY email_norm = ? DESC LIMIT 1`,
      [key, key, key],
    );
    return row ? { user: toUser(row), passwordHash: String(row.password_hash) } : null;
  }

  async userByEmail(email: string): Promise<User | null> {
    const row = await this.#get(`SELECT ${USER_COLUMNS} FROM users WHERE email_norm = ?`, [
      normalizeKey(email),
    ]);
    return row ? toUser(row) : null;
  }

  async userByName(name: string): Promise<User | null> {
    const row = await this.#get(`SELECT ${USER_COLUMNS} FROM users WHERE name_norm = ?`, [
      normalizeKey(name),
    ]);
    return row ? toUser(row) : null;
  }

  async setPasswordHash(userId: number, hash: string): Promise<void> {
    checkText("passwordHash", hash);
    await this.#run("UPDATE users SET password_hash = ? WHERE id = ?", [hash, userId]);
  }

  async updateProfile(
    userId: number,
    patch: { displayName?: string; bio?: string },
  ): Promise<User> {
    if (patch.displayName !== undefined) checkText("displayName", patch.displayName);
    if (patch.bio !== undefined) checkText("bio", patch.bio);
    await this.#run(
      "UPDATE users SET display_name = COALESCE(?, display_name), bio = COALESCE(?, bio) WHERE id = ?",
      [patch.displayName ?? null, patch.bio ?? null, userId],
    );
    const user = await this.userById(userId);
    if (!user) throw userNotFound();
    return user;
  }

  async setLastSeen(userId: number, at: number): Promise<void> {
    await this.#run("UPDATE users SET last_seen_at = ? WHERE id = ?", [at, userId]);
  }

  async searchUsers(
    query: string,
    options: { limit: number; after?: string },
  ): Promise<Page<User>> {
    const key = normalizeKey(query);
    const after = decodeAfter(options.after);
    const limit = clampLimit(options.limit);
    // One row more than asked tells whether there is a next page.
    const rows = await this.#all(
      `SELECT ${USER_COLUMNS}, name_norm FROM users
       WHERE (name_norm LIKE ? ESCAPE '!' OR email_norm = ?) AND name_norm > ?
       ORDER BY name_norm LIMIT ?`,
      [escapeLike(key) + "%", key, after ?? "", limit + 1],
    );
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    return {
      items: page.map(toUser),
      next: more ? encodeAfter(String(page[page.length - 1].name_norm)) : null,
    };
  }

  async countUsers(): Promise<number> {
    return Number((await this.#get("SELECT COUNT(*) AS n FROM users"))!.n);
  }

  // --- friends ---

  /** Locks both users' rows for the transaction; false if either does not exist. */
  async #lockPair(c: PoolConnection, a: number, b: number): Promise<boolean> {
    const rows = await this.#all("SELECT id FROM users WHERE id IN (?, ?) FOR UPDATE", [a, b], c);
    return rows.length === 2;
  }

  async #pending(c: Queryable, fromId: number, toId: number): Promise<FriendRequest | null> {
    const row = await this.#get(
      `SELECT ${REQUEST_COLUMNS} FROM friend_requests WHERE from_id = ? AND to_id = ?`,
      [fromId, toId],
      c,
    );
    return row ? toRequest(row) : null;
  }

  /** Makes a and b friends (both directions) and drops requests either way. */
  async #befriend(c: PoolConnection, a: number, b: number, at: number): Promise<void> {
    await this.#run(
      `DELETE FROM friend_requests WHERE (from_id = ? AND to_id = ?) OR (from_id = ? AND to_id = ?)`,
      [a, b, b, a],
      c,
    );
    await this.#run(
      `INSERT INTO friendships (user_id, friend_id, created_at) VALUES (?, ?, ?), (?, ?, ?)
       ON DUPLICATE KEY UPDATE created_at = created_at`,
      [a, b, at, b, a, at],
      c,
    );
  }

  async createFriendRequest(
    fromId: number,
    toId: number,
    greeting: string,
  ): Promise<
    { result: "created" | "exists" | "friends" | "accepted"; request: FriendRequest | null }
  > {
    if (fromId === toId) throw selfFriendError();
    checkText("greeting", greeting);
    return await this.#tx(async (c) => {
      if (!(await this.#lockPair(c, fromId, toId))) throw userNotFound();
      if (await this.#areFriends(fromId, toId, c)) {
        return { result: "friends" as const, request: null };
      }
      const reverse = await this.#pending(c, toId, fromId);
      if (reverse) {
        await this.#befriend(c, fromId, toId, Date.now());
        return { result: "accepted" as const, request: reverse };
      }
      const existing = await this.#pending(c, fromId, toId);
      if (existing) return { result: "exists" as const, request: existing };
      const createdAt = Date.now();
      const res = await this.#run(
        "INSERT INTO friend_requests (from_id, to_id, greeting, created_at) VALUES (?, ?, ?, ?)",
        [fromId, toId, greeting, createdAt],
        c,
      );
      return {
        result: "created" as const,
        request: { id: Number(res.insertId), fromId, toId, greeting, createdAt },
      };
    });
  }

  async pendingRequests(
    userId: number,
  ): Promise<{ incoming: FriendRequest[]; outgoing: FriendRequest[] }> {
    const [incoming, outgoing] = await Promise.all([
      this.#all(
        `SELECT ${REQUEST_COLUMNS} FROM friend_requests WHERE to_id = ? ORDER BY created_at, id`,
        [userId],
      ),
      this.#all(
        `SELECT ${REQUEST_COLUMNS} FROM friend_requests WHERE from_id = ? ORDER BY created_at, id`,
        [userId],
      ),
    ]);
    return { incoming: incoming.map(toRequest), outgoing: outgoing.map(toRequest) };
  }

  async acceptFriendRequest(userId: number, fromId: number): Promise<boolean> {
    return await this.#tx(async (c) => {
      if (!(await this.#lockPair(c, userId, fromId))) return false;
      if (!(await this.#pending(c, fromId, userId))) return false;
      await this.#befriend(c, userId, fromId, Date.now());
      return true;
    });
  }

  async declineFriendRequest(userId: number, fromId: number): Promise<boolean> {
    const res = await this.#run("DELETE FROM friend_requests WHERE from_id = ? AND to_id = ?", [
      fromId,
      userId,
    ]);
    return res.affectedRows > 0;
  }

  async cancelFriendRequest(userId: number, toId: number): Promise<boolean> {
    const res = await this.#run("DELETE FROM friend_requests WHERE from_id = ? AND to_id = ?", [
      userId,
      toId,
    ]);
    return res.affectedRows > 0;
  }

  async #areFriends(a: number, b: number, on: Queryable = this.#pool): Promise<boolean> {
    const row = await this.#get(
      "SELECT 1 AS x FROM friendships WHERE user_id = ? AND friend_id = ?",
      [a, b],
      on,
    );
    return row !== null;
  }

  areFriends(a: number, b: number): Promise<boolean> {
    return this.#areFriends(a, b);
  }

  async friends(userId: number): Promise<Friend[]> {
    const rows = await this.#all(
      `SELECT u.id, u.email, u.name, u.display_name, u.bio, u.created_at, u.last_seen_at,
         f.created_at AS since
       FROM friendships f JOIN users u ON u.id = f.friend_id
       WHERE f.user_id = ? ORDER BY u.name_norm`,
      [userId],
    );
    return rows.map((r) => ({ user: toUser(r), since: Number(r.since) }));
  }

  async friendIds(userId: number): Promise<number[]> {
    const rows = await this.#all(
      "SELECT friend_id FROM friendships WHERE user_id = ? ORDER BY friend_id",
      [userId],
    );
    return rows.map((r) => Number(r.friend_id));
  }

  async removeFriend(userId: number, friendId: number): Promise<boolean> {
    const res = await this.#run(
      `DELETE FROM friendships WHERE (user_id = ? AND friend_id = ?) OR (user_id = ? AND friend_id = ?)`,
      [userId, friendId, friendId, userId],
    );
    return res.affectedRows > 0;
  }

  async countFriends(userId: number): Promise<number> {
    const row = await this.#get("SELECT COUNT(*) AS n FROM friendships WHERE user_id = ?", [
      userId,
    ]);
    return Number(row!.n);
  }

  // --- messages ---

  /**
   * A plain INSERT, so that the unique index decides between two racing
   * copies; the loser reads the winner's row. (ON DUPLICATE KEY UPDATE
   * cannot tell a duplicate apart: mysql2 sets CLIENT_FOUND_ROWS, so both
   * outcomes report one affected row.)
   */
  async #insertOne(input: MessageInput): Promise<Inserted> {
    try {
      const res = await this.#run(
        `INSERT INTO messages (sender_id, recipient_id, client_id, text, created_at)
         VALUES (?, ?, ?, ?, ?)`,
        [input.senderId, input.recipientId, input.clientId, input.text, input.createdAt],
      );
      return { message: { id: Number(res.insertId), ...input }, duplicate: false };
    } catch (e) {
      if (errCode(e) !== "ER_DUP_ENTRY") throw e;
      const row = await this.#get(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE sender_id = ? AND client_id = ?`,
        [input.senderId, input.clientId],
      );
      // The row that won cannot vanish (messages are never deleted), but say so if it did.
      if (!row) throw new Error("duplicate message key but no stored message");
      return { message: toMessage(row), duplicate: true };
    }
  }

  async insertMessage(input: MessageInput): Promise<Inserted> {
    checkMessageInput(input);
    return await this.#insertOne(input);
  }

  /**
   * One multi-row INSERT (atomic: all rows or none; InnoDB numbers the rows
   * in VALUES order) and one SELECT for the ids: two round trips for any
   * batch. A duplicate anywhere fails the whole statement, which changed
   * nothing, and the batch is then stored row by row in order, which is
   * exact about which rows were duplicates. Retries are rare, so that
   * slower path is too.
   */
  async insertMessages(inputs: MessageInput[]): Promise<Inserted[]> {
    inputs.forEach(checkMessageInput);
    if (inputs.length <= 1) return await Promise.all(inputs.map((m) => this.#insertOne(m)));
    try {
      await this.#run(
        "INSERT INTO messages (sender_id, recipient_id, client_id, text, created_at) VALUES ?",
        [inputs.map((m) => [m.senderId, m.recipientId, m.clientId, m.text, m.createdAt])],
      );
    } catch (e) {
      if (errCode(e) !== "ER_DUP_ENTRY") throw e;
      const out: Inserted[] = [];
      for (const m of inputs) out.push(await this.#insertOne(m));
      return out;
    }
    const rows = await this.#all(
      "SELECT id, sender_id, client_id FROM messages WHERE (sender_id, client_id) IN (?)",
      [inputs.map((m) => [m.senderId, m.clientId])],
    );
    const ids = new Map(rows.map((r) => [`${r.sender_id}:${r.client_id}`, Number(r.id)]));
    return inputs.map((m) => {
      const id = ids.get(`${m.senderId}:${m.clientId}`);
      if (id === undefined) throw new Error("an inserted message was not found again");
      return { message: { id, ...m }, duplicate: false };
    });
  }

  async messageById(id: number): Promise<Message | null> {
    const row = await this.#get(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ?`, [id]);
    return row ? toMessage(row) : null;
  }

  async history(
    a: number,
    b: number,
    options: { before?: number; limit: number },
  ): Promise<Message[]> {
    const before = options.before ?? Number.MAX_SAFE_INTEGER;
    const limit = clampLimit(options.limit);
    // Each direction walks ix_messages_pair backwards; the union is merged and cut.
    const rows = await this.#all(
      `(SELECT ${MESSAGE_COLUMNS} FROM messages
         WHERE sender_id = ? AND recipient_id = ? AND id < ? ORDER BY id DESC LIMIT ?)
       UNION ALL
       (SELECT ${MESSAGE_COLUMNS} FROM messages
         WHERE sender_id = ? AND recipient_id = ? AND id < ? ORDER BY id DESC LIMIT ?)
       ORDER BY id DESC LIMIT ?`,
      [a, b, before, limit, b, a, before, limit, limit],
    );
    return rows.map(toMessage);
  }

  async undelivered(
    userId: number,
    options: { afterId?: number; limit: number },
  ): Promise<Message[]> {
    const rows = await this.#all(
      `SELECT m.id, m.sender_id, m.recipient_id, m.client_id, m.text, m.created_at
       FROM messages m
       LEFT JOIN cursors c ON c.user_id = m.recipient_id AND c.peer_id = m.sender_id
       WHERE m.recipient_id = ? AND m.id > ? AND m.id > COALESCE(c.delivered_id, 0)
       ORDER BY m.id LIMIT ?`,
      [userId, options.afterId ?? 0, clampLimit(options.limit)],
    );
    return rows.map(toMessage);
  }

  async unreadCounts(userId: number): Promise<UnreadCount[]> {
    const rows = await this.#all(
      `SELECT m.sender_id AS peer_id, COUNT(*) AS n, MAX(m.id) AS last_id
       FROM messages m
       LEFT JOIN cursors c ON c.user_id = m.recipient_id AND c.peer_id = m.sender_id
       WHERE m.recipient_id = ? AND m.id > COALESCE(c.read_id, 0)
       GROUP BY m.sender_id ORDER BY m.sender_id`,
      [userId],
    );
    return rows.map((r) => ({
      peerId: Number(r.peer_id),
      count: Number(r.n),
      lastId: Number(r.last_id),
    }));
  }

  async countMessages(userId?: number): Promise<number> {
    const row = userId === undefined
      ? await this.#get("SELECT COUNT(*) AS n FROM messages")
      : await this.#get(
        `SELECT (SELECT COUNT(*) FROM messages WHERE sender_id = ?)
              + (SELECT COUNT(*) FROM messages WHERE recipient_id = ? AND sender_id <> ?) AS n`,
        [userId, userId, userId],
      );
    return Number(row!.n);
  }

  // --- receipts ---

  async advanceCursor(
    userId: number,
    peerId: number,
    update: { deliveredId?: number; readId?: number },
  ): Promise<Cursor> {
    const read = Math.max(0, update.readId ?? 0);
    const delivered = Math.max(read, update.deliveredId ?? 0);
    // One atomic upsert; GREATEST keeps both cursors from moving back.
    await this.#run(
      `INSERT INTO cursors (user_id, peer_id, delivered_id, read_id) VALUES (?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE delivered_id = GREATEST(delivered_id, VALUES(delivered_id)),
         read_id = GREATEST(read_id, VALUES(read_id))`,
      [userId, peerId, delivered, read],
    );
    return await this.cursor(userId, peerId);
  }

  async cursor(userId: number, peerId: number): Promise<Cursor> {
    const row = await this.#get(
      "SELECT delivered_id, read_id FROM cursors WHERE user_id = ? AND peer_id = ?",
      [userId, peerId],
    );
    return {
      userId,
      peerId,
      deliveredId: row ? Number(row.delivered_id) : 0,
      readId: row ? Number(row.read_id) : 0,
    };
  }

  async lastMessageId(senderId: number, recipientId: number): Promise<number> {
    const row = await this.#get(
      "SELECT COALESCE(MAX(id), 0) AS id FROM messages WHERE sender_id = ? AND recipient_id = ?",
      [senderId, recipientId],
    );
    return Number(row!.id);
  }
}
