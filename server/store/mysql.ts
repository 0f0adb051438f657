/**
 * The `mysql` store adapter for a cluster: MySQL or MariaDB through a
 * mysql2 connection pool. Statements go through `pool.query` with `?`
 * placeholders (mysql2 escapes every value; `VALUES ?` takes the nested
 * arrays of a multi-row insert). Transactions run on one pooled connection
 * and are retried on deadlock; friend changes lock the two users' rows
 * first, so two requests between the same pair are serialised. Message
 * inserts live in _mysql_insert.ts.
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
  selfFriendError,
  toMessage,
  toRequest,
  toUnread,
  toUser,
  uniqueIds,
  USER_COLUMNS,
  userNotFound,
} from "./_common.ts";
import { insertBatch, type Inserted, insertOne } from "./_mysql_insert.ts";
import { SQL } from "./_sql.ts";
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
type RequestResult = {
  result: "created" | "exists" | "friends" | "accepted";
  request: FriendRequest | null;
};

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
          await c.query(SQL.recordMigration, [m.version, Date.now()]);
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
    return table ? Number((await this.#get(SQL.schemaVersion))!.v) : 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  // --- users ---

  async createUser(input: { email: string; name: string; passwordHash: string }): Promise<User> {
    checkUserInput(input);
    const { email, name, passwordHash } = input;
    const createdAt = Date.now();
    try {
      const res = await this.#run(
        `INSERT INTO users (email, email_norm, name, name_norm, display_name, bio, password_hash,
           created_at) VALUES (?, ?, ?, ?, '', '', ?, ?)`,
        [email, normalizeKey(email), name, normalizeKey(name), passwordHash, createdAt],
      );
      const id = Number(res.insertId);
      return { id, email, name, displayName: "", bio: "", createdAt, lastSeenAt: null };
    } catch (e) {
      if (errCode(e) !== "ER_DUP_ENTRY") throw e;
      // "Duplicate entry 'x' for key 'uq_users_email'" (MySQL 8 writes 'users.uq_users_email').
      const key = /for key '([^']*)'\s*$/.exec(String((e as Error).message))?.[1] ?? "";
      throw new ConflictError(key.endsWith("uq_users_email") ? "email" : "name");
    }
  }

  async userById(id: number): Promise<User | null> {
    const row = await this.#get(SQL.userById, [id]);
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
    const row = await this.#get(SQL.userForLogin, [key, key, key]);
    return row ? { user: toUser(row), passwordHash: String(row.password_hash) } : null;
  }

  async userByEmail(email: string): Promise<User | null> {
    const row = await this.#get(SQL.userByEmail, [normalizeKey(email)]);
    return row ? toUser(row) : null;
  }

  async userByName(name: string): Promise<User | null> {
    const row = await this.#get(SQL.userByName, [normalizeKey(name)]);
    return row ? toUser(row) : null;
  }

  async setPasswordHash(userId: number, hash: string): Promise<void> {
    checkText("passwordHash", hash);
    await this.#run(SQL.setPasswordHash, [hash, userId]);
  }

  async updateProfile(
    userId: number,
    patch: { displayName?: string; bio?: string },
  ): Promise<User> {
    if (patch.displayName !== undefined) checkText("displayName", patch.displayName);
    if (patch.bio !== undefined) checkText("bio", patch.bio);
    await this.#run(SQL.updateProfile, [patch.displayName ?? null, patch.bio ?? null, userId]);
    const user = await this.userById(userId);
    if (!user) throw userNotFound();
    return user;
  }

  async setLastSeen(userId: number, at: number): Promise<void> {
    await this.#run(SQL.setLastSeen, [at, userId]);
  }

  async searchUsers(
    query: string,
    options: { limit: number; after?: string },
  ): Promise<Page<User>> {
    const key = normalizeKey(query);
    const limit = clampLimit(options.limit);
    const after = decodeAfter(options.after);
    // One row more than asked tells whether there is a next page.
    const rows = await this.#all(SQL.searchUsers, [
      escapeLike(key) + "%",
      key,
      after,
      after,
      limit + 1,
    ]);
    const page = rows.slice(0, limit);
    const next = rows.length > limit ? encodeAfter(Number(page[page.length - 1].id)) : null;
    return { items: page.map(toUser), next };
  }

  async countUsers(): Promise<number> {
    return Number((await this.#get(SQL.countUsers))!.n);
  }

  // --- friends ---

  /** Locks both users' rows for the transaction; false if either does not exist. */
  async #lockPair(c: PoolConnection, a: number, b: number): Promise<boolean> {
    const rows = await this.#all("SELECT id FROM users WHERE id IN (?, ?) FOR UPDATE", [a, b], c);
    return rows.length === 2;
  }

  async #pending(c: Queryable, fromId: number, toId: number): Promise<FriendRequest | null> {
    const row = await this.#get(SQL.pendingRequest, [fromId, toId], c);
    return row ? toRequest(row) : null;
  }

  /** Makes a and b friends (both directions) and drops requests either way. */
  async #befriend(c: PoolConnection, a: number, b: number, at: number): Promise<void> {
    await this.#run(SQL.deleteRequestsBothWays, [a, b, b, a], c);
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
  ): Promise<RequestResult> {
    if (fromId === toId) throw selfFriendError();
    checkText("greeting", greeting);
    // With both users locked first, a plain read below sees every committed change.
    return await this.#tx(async (c): Promise<RequestResult> => {
      if (!(await this.#lockPair(c, fromId, toId))) throw userNotFound();
      if (await this.#get(SQL.areFriends, [fromId, toId], c)) {
        return { result: "friends", request: null };
      }
      const reverse = await this.#pending(c, toId, fromId);
      if (reverse) {
        await this.#befriend(c, fromId, toId, Date.now());
        return { result: "accepted", request: reverse };
      }
      const existing = await this.#pending(c, fromId, toId);
      if (existing) return { result: "exists", request: existing };
      const createdAt = Date.now();
      const res = await this.#run(SQL.insertRequest, [fromId, toId, greeting, createdAt], c);
      const id = Number(res.insertId);
      return { result: "created", request: { id, fromId, toId, greeting, createdAt } };
    });
  }

  async pendingRequests(
    userId: number,
  ): Promise<{ incoming: FriendRequest[]; outgoing: FriendRequest[] }> {
    const [incoming, outgoing] = await Promise.all([
      this.#all(SQL.incomingRequests, [userId]),
      this.#all(SQL.outgoingRequests, [userId]),
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
    return (await this.#run(SQL.deleteRequest, [fromId, userId])).affectedRows > 0;
  }

  async cancelFriendRequest(userId: number, toId: number): Promise<boolean> {
    return (await this.#run(SQL.deleteRequest, [userId, toId])).affectedRows > 0;
  }

  async areFriends(a: number, b: number): Promise<boolean> {
    return (await this.#get(SQL.areFriends, [a, b])) !== null;
  }

  async friends(userId: number): Promise<Friend[]> {
    const rows = await this.#all(SQL.friends, [userId]);
    return rows.map((r) => ({ user: toUser(r), since: Number(r.since) }));
  }

  async friendIds(userId: number): Promise<number[]> {
    return (await this.#all(SQL.friendIds, [userId])).map((r) => Number(r.friend_id));
  }

  async removeFriend(userId: number, friendId: number): Promise<boolean> {
    const res = await this.#run(SQL.removeFriend, [userId, friendId, friendId, userId]);
    return res.affectedRows > 0;
  }

  async countFriends(userId: number): Promise<number> {
    return Number((await this.#get(SQL.countFriends, [userId]))!.n);
  }

  // --- messages ---

  async insertMessage(input: MessageInput): Promise<Inserted> {
    checkMessageInput(input);
    return await insertOne(this.#pool, input);
  }

  async insertMessages(inputs: MessageInput[]): Promise<Inserted[]> {
    inputs.forEach(checkMessageInput);
    return await insertBatch(this.#pool, inputs);
  }

  async messageById(id: number): Promise<Message | null> {
    const row = await this.#get(SQL.messageById, [id]);
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
    const one = `(SELECT ${MESSAGE_COLUMNS} FROM messages
      WHERE sender_id = ? AND recipient_id = ? AND id < ? ORDER BY id DESC LIMIT ?)`;
    const rows = await this.#all(
      `${one} UNION ALL ${one} ORDER BY id DESC LIMIT ?`,
      [a, b, before, limit, b, a, before, limit, limit],
    );
    return rows.map(toMessage);
  }

  async undelivered(
    userId: number,
    options: { afterId?: number; limit: number },
  ): Promise<Message[]> {
    const rows = await this.#all(SQL.undelivered, [
      userId,
      options.afterId ?? 0,
      clampLimit(options.limit),
    ]);
    return rows.map(toMessage);
  }

  async unreadCounts(userId: number): Promise<UnreadCount[]> {
    return (await this.#all(SQL.unreadCounts, [userId])).map(toUnread);
  }

  async countMessages(userId?: number): Promise<number> {
    const row = userId === undefined
      ? await this.#get(SQL.countMessages)
      : await this.#get(SQL.countUserMessages, [userId, userId, userId]);
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
    const row = await this.#get(SQL.cursor, [userId, peerId]);
    return {
      userId,
      peerId,
      deliveredId: row ? Number(row.delivered_id) : 0,
      readId: row ? Number(row.read_id) : 0,
    };
  }

  async lastMessageId(senderId: number, recipientId: number): Promise<number> {
    return Number((await this.#get(SQL.lastMessageId, [senderId, recipientId]))!.id);
  }
}
