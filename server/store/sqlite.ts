/**
 * The `sqlite` store adapter: one file through Deno's built-in node:sqlite,
 * for the single-machine default. node:sqlite is synchronous, so every
 * method runs to completion without yielding; that makes each transaction
 * below (BEGIN IMMEDIATE ... COMMIT inside one synchronous block) atomic
 * against the rest of this process for free, and busy_timeout covers other
 * processes on the same file.
 */
// The methods are async only so that errors reach callers as rejections.
// deno-lint-ignore-file require-await
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
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

type Row = Record<string, SQLInputValue>;

const SQLITE_CONSTRAINT_UNIQUE = 2067;
const SQLITE_CONSTRAINT_FOREIGNKEY = 787;

function sqliteCode(e: unknown): number | undefined {
  return (e as { errcode?: number } | null)?.errcode;
}

/** Opens (and creates) the database at `path`, or an in-memory one for ":memory:". */
export function openSqlite(path: string, options: { log: Logger }): SqliteStore {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  // WAL lets readers run beside the one writer; NORMAL sync is durable across
  // a crash of the process (not of the machine) and much faster than FULL.
  // busy_timeout first: switching to WAL needs a lock another process may hold.
  db.exec("PRAGMA busy_timeout = 10000");
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA foreign_keys = ON");
  return new SqliteStore(db, options.log);
}

export class SqliteStore implements Store {
  readonly kind = "sqlite";
  #db: DatabaseSync;
  #log: Logger;
  #statements = new Map<string, StatementSync>();
  #closed = false;

  constructor(db: DatabaseSync, log: Logger) {
    this.#db = db;
    this.#log = log;
  }

  /** A cached prepared statement: preparing is most of the cost of a small query. */
  #st(sql: string): StatementSync {
    let st = this.#statements.get(sql);
    if (!st) {
      st = this.#db.prepare(sql);
      this.#statements.set(sql, st);
    }
    return st;
  }

  #all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.#st(sql).all(...params) as Row[];
  }

  #get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#st(sql).get(...params) as Row | undefined;
  }

  #run(sql: string, ...params: SQLInputValue[]): number {
    return Number(this.#st(sql).run(...params).changes);
  }

  /** Runs `fn` in a write transaction; `fn` must be synchronous (see the module comment). */
  #tx<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const out = fn();
      this.#db.exec("COMMIT");
      return out;
    } catch (e) {
      this.#db.exec("ROLLBACK");
      throw e;
    }
  }

  async migrate(): Promise<void> {
    this.#tx(() => {
      this.#db.exec(CREATE_SCHEMA_MIGRATIONS.sqlite);
      const done = new Set(
        this.#all("SELECT version FROM schema_migrations").map((r) => Number(r.version)),
      );
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        for (const sql of m.sqlite) this.#db.exec(sql);
        this.#run(
          "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
          m.version,
          Date.now(),
        );
        this.#log.info("migration applied", { version: m.version, name: m.name });
      }
      const newest = Math.max(0, ...done);
      const known = MIGRATIONS[MIGRATIONS.length - 1].version;
      if (newest > known) {
        this.#log.warn("the database schema is newer than this program", { newest, known });
      }
    });
  }

  async schemaVersion(): Promise<number> {
    const table = this.#get(
      "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    );
    if (!table) return 0;
    return Number(this.#get("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")!.v);
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#statements.clear();
      this.#db.close();
    }
  }

  // --- users ---

  async createUser(input: { email: string; name: string; passwordHash: string }): Promise<User> {
    checkUserInput(input);
    try {
      const row = this.#get(
        `INSERT INTO users (email, email_norm, name, name_norm, display_name, bio, password_hash,
           created_at) VALUES (?, ?, ?, ?, '', '', ?, ?) RETURNING ${USER_COLUMNS}`,
        input.email,
        normalizeKey(input.email),
        input.name,
        normalizeKey(input.name),
        input.passwordHash,
        Date.now(),
      );
      return toUser(row!);
    } catch (e) {
      if (sqliteCode(e) === SQLITE_CONSTRAINT_UNIQUE) {
        // The message names the column: "UNIQUE constraint failed: users.email_norm".
        throw new ConflictError(
          String((e as Error).message).includes("users.email_norm") ? "email" : "name",
        );
      }
      throw e;
    }
  }

  async userById(id: number): Promise<User | null> {
    const row = this.#get(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`, id);
    return row ? toUser(row) : null;
  }

  async usersByIds(ids: number[]): Promise<User[]> {
    const want = uniqueIds(ids);
    // One JSON parameter instead of a placeholder per id keeps the SQL text fixed.
    const rows = this.#all(
      `SELECT ${USER_COLUMNS} FROM users WHERE id IN (SELECT value FROM json_each(?))`,
      JSON.stringify(want),
    );
    return orderByIds(rows.map(toUser), want);
  }

  async userForLogin(login: string): Promise<{ user: User; passwordHash: string } | null> {
    const key = normalizeKey(login);
    // Should a name ever equal someone's e-mail, the e-mail wins.
    const row = this.#get(
      `SELECT ${USER_COLUMNS}, password_hash FROM users WHERE email_norm = ? OR name_norm = ?
       ORDER BY email_norm = ? DESC LIMIT 1`,
      key,
      key,
      key,
    );
    return row ? { user: toUser(row), passwordHash: String(row.password_hash) } : null;
  }

  async userByEmail(email: string): Promise<User | null> {
    const row = this.#get(
      `SELECT ${USER_COLUMNS} FROM users WHERE email_norm = ?`,
      normalizeKey(email),
    );
    return row ? toUser(row) : null;
  }

  async userByName(name: string): Promise<User | null> {
    const row = this.#get(
      `SELECT ${USER_COLUMNS} FROM users WHERE name_norm = ?`,
      normalizeKey(name),
    );
    return row ? toUser(row) : null;
  }

  async setPasswordHash(userId: number, hash: string): Promise<void> {
    checkText("passwordHash", hash);
    this.#run("UPDATE users SET password_hash = ? WHERE id = ?", hash, userId);
  }

  async updateProfile(
    userId: number,
    patch: { displayName?: string; bio?: string },
  ): Promise<User> {
    if (patch.displayName !== undefined) checkText("displayName", patch.displayName);
    if (patch.bio !== undefined) checkText("bio", patch.bio);
    const row = this.#get(
      `UPDATE users SET display_name = COALESCE(?, display_name), bio = COALESCE(?, bio)
       WHERE id = ? RETURNING ${USER_COLUMNS}`,
      patch.displayName ?? null,
      patch.bio ?? null,
      userId,
    );
    if (!row) throw userNotFound();
    return toUser(row);
  }

  async setLastSeen(userId: number, at: number): Promise<void> {
    this.#run("UPDATE users SET last_seen_at = ? WHERE id = ?", at, userId);
  }

  async searchUsers(
    query: string,
    options: { limit: number; after?: string },
  ): Promise<Page<User>> {
    const key = normalizeKey(query);
    const after = decodeAfter(options.after);
    const limit = clampLimit(options.limit);
    // One row more than asked tells whether there is a next page.
    const rows = this.#all(
      `SELECT ${USER_COLUMNS}, name_norm FROM users
       WHERE (name_norm LIKE ? ESCAPE '!' OR email_norm = ?) AND name_norm > ?
       ORDER BY name_norm LIMIT ?`,
      escapeLike(key) + "%",
      key,
      after ?? "",
      limit + 1,
    );
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    return {
      items: page.map(toUser),
      next: more ? encodeAfter(String(page[page.length - 1].name_norm)) : null,
    };
  }

  async countUsers(): Promise<number> {
    return Number(this.#get("SELECT COUNT(*) AS n FROM users")!.n);
  }

  // --- friends ---

  #pending(fromId: number, toId: number): FriendRequest | null {
    const row = this.#get(
      `SELECT ${REQUEST_COLUMNS} FROM friend_requests WHERE from_id = ? AND to_id = ?`,
      fromId,
      toId,
    );
    return row ? toRequest(row) : null;
  }

  /** Makes a and b friends (both directions) and drops requests either way. */
  #befriend(a: number, b: number, at: number): void {
    this.#run(
      `DELETE FROM friend_requests WHERE (from_id = ? AND to_id = ?) OR (from_id = ? AND to_id = ?)`,
      a,
      b,
      b,
      a,
    );
    this.#run(
      `INSERT INTO friendships (user_id, friend_id, created_at) VALUES (?, ?, ?), (?, ?, ?)
       ON CONFLICT DO NOTHING`,
      a,
      b,
      at,
      b,
      a,
      at,
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
    try {
      return this.#tx(() => {
        if (this.#areFriends(fromId, toId)) return { result: "friends" as const, request: null };
        const reverse = this.#pending(toId, fromId);
        if (reverse) {
          this.#befriend(fromId, toId, Date.now());
          return { result: "accepted" as const, request: reverse };
        }
        const existing = this.#pending(fromId, toId);
        if (existing) return { result: "exists" as const, request: existing };
        const row = this.#get(
          `INSERT INTO friend_requests (from_id, to_id, greeting, created_at) VALUES (?, ?, ?, ?)
           RETURNING ${REQUEST_COLUMNS}`,
          fromId,
          toId,
          greeting,
          Date.now(),
        );
        return { result: "created" as const, request: toRequest(row!) };
      });
    } catch (e) {
      if (sqliteCode(e) === SQLITE_CONSTRAINT_FOREIGNKEY) throw userNotFound();
      throw e;
    }
  }

  async pendingRequests(
    userId: number,
  ): Promise<{ incoming: FriendRequest[]; outgoing: FriendRequest[] }> {
    const incoming = this.#all(
      `SELECT ${REQUEST_COLUMNS} FROM friend_requests WHERE to_id = ? ORDER BY created_at, id`,
      userId,
    ).map(toRequest);
    const outgoing = this.#all(
      `SELECT ${REQUEST_COLUMNS} FROM friend_requests WHERE from_id = ? ORDER BY created_at, id`,
      userId,
    ).map(toRequest);
    return { incoming, outgoing };
  }

  async acceptFriendRequest(userId: number, fromId: number): Promise<boolean> {
    return this.#tx(() => {
      if (!this.#pending(fromId, userId)) return false;
      this.#befriend(userId, fromId, Date.now());
      return true;
    });
  }

  async declineFriendRequest(userId: number, fromId: number): Promise<boolean> {
    const n = this.#run(
      "DELETE FROM friend_requests WHERE from_id = ? AND to_id = ?",
      fromId,
      userId,
    );
    return n > 0;
  }

  async cancelFriendRequest(userId: number, toId: number): Promise<boolean> {
    const n = this.#run(
      "DELETE FROM friend_requests WHERE from_id = ? AND to_id = ?",
      userId,
      toId,
    );
    return n > 0;
  }

  #areFriends(a: number, b: number): boolean {
    return !!this.#get("SELECT 1 AS x FROM friendships WHERE user_id = ? AND friend_id = ?", a, b);
  }

  async areFriends(a: number, b: number): Promise<boolean> {
    return this.#areFriends(a, b);
  }

  async friends(userId: number): Promise<Friend[]> {
    const rows = this.#all(
      `SELECT u.id, u.email, u.name, u.display_name, u.bio, u.created_at, u.last_seen_at,
         f.created_at AS since
       FROM friendships f JOIN users u ON u.id = f.friend_id
       WHERE f.user_id = ? ORDER BY u.name_norm`,
      userId,
    );
    return rows.map((r) => ({ user: toUser(r), since: Number(r.since) }));
  }

  async friendIds(userId: number): Promise<number[]> {
    const rows = this.#all(
      "SELECT friend_id FROM friendships WHERE user_id = ? ORDER BY friend_id",
      userId,
    );
    return rows.map((r) => Number(r.friend_id));
  }

  async removeFriend(userId: number, friendId: number): Promise<boolean> {
    const n = this.#run(
      `DELETE FROM friendships WHERE (user_id = ? AND friend_id = ?) OR (user_id = ? AND friend_id = ?)`,
      userId,
      friendId,
      friendId,
      userId,
    );
    return n > 0;
  }

  async countFriends(userId: number): Promise<number> {
    const row = this.#get("SELECT COUNT(*) AS n FROM friendships WHERE user_id = ?", userId);
    return Number(row!.n);
  }

  // --- messages ---

  #insertMessage(input: MessageInput): { message: Message; duplicate: boolean } {
    const row = this.#get(
      `INSERT INTO messages (sender_id, recipient_id, client_id, text, created_at)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT (sender_id, client_id) DO NOTHING RETURNING id`,
      input.senderId,
      input.recipientId,
      input.clientId,
      input.text,
      input.createdAt,
    );
    if (row) return { message: { id: Number(row.id), ...input }, duplicate: false };
    const stored = this.#get(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE sender_id = ? AND client_id = ?`,
      input.senderId,
      input.clientId,
    );
    return { message: toMessage(stored!), duplicate: true };
  }

  async insertMessage(input: MessageInput): Promise<{ message: Message; duplicate: boolean }> {
    checkMessageInput(input);
    return this.#insertMessage(input);
  }

  async insertMessages(
    inputs: MessageInput[],
  ): Promise<{ message: Message; duplicate: boolean }[]> {
    inputs.forEach(checkMessageInput);
    if (inputs.length === 0) return [];
    // One transaction: one fsync for the lot, and ids follow the input order.
    return this.#tx(() => inputs.map((m) => this.#insertMessage(m)));
  }

  async messageById(id: number): Promise<Message | null> {
    const row = this.#get(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ?`, id);
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
    const rows = this.#all(
      `SELECT * FROM (
         SELECT ${MESSAGE_COLUMNS} FROM messages
         WHERE sender_id = ? AND recipient_id = ? AND id < ? ORDER BY id DESC LIMIT ?)
       UNION ALL
       SELECT * FROM (
         SELECT ${MESSAGE_COLUMNS} FROM messages
         WHERE sender_id = ? AND recipient_id = ? AND id < ? ORDER BY id DESC LIMIT ?)
       ORDER BY id DESC LIMIT ?`,
      a,
      b,
      before,
      limit,
      b,
      a,
      before,
      limit,
      limit,
    );
    return rows.map(toMessage);
  }

  async undelivered(
    userId: number,
    options: { afterId?: number; limit: number },
  ): Promise<Message[]> {
    const rows = this.#all(
      `SELECT m.id, m.sender_id, m.recipient_id, m.client_id, m.text, m.created_at
       FROM messages m
       LEFT JOIN cursors c ON c.user_id = m.recipient_id AND c.peer_id = m.sender_id
       WHERE m.recipient_id = ? AND m.id > ? AND m.id > COALESCE(c.delivered_id, 0)
       ORDER BY m.id LIMIT ?`,
      userId,
      options.afterId ?? 0,
      clampLimit(options.limit),
    );
    return rows.map(toMessage);
  }

  async unreadCounts(userId: number): Promise<UnreadCount[]> {
    const rows = this.#all(
      `SELECT m.sender_id AS peer_id, COUNT(*) AS n, MAX(m.id) AS last_id
       FROM messages m
       LEFT JOIN cursors c ON c.user_id = m.recipient_id AND c.peer_id = m.sender_id
       WHERE m.recipient_id = ? AND m.id > COALESCE(c.read_id, 0)
       GROUP BY m.sender_id ORDER BY m.sender_id`,
      userId,
    );
    return rows.map((r) => ({
      peerId: Number(r.peer_id),
      count: Number(r.n),
      lastId: Number(r.last_id),
    }));
  }

  async countMessages(userId?: number): Promise<number> {
    const row = userId === undefined ? this.#get("SELECT COUNT(*) AS n FROM messages") : this.#get(
      `SELECT (SELECT COUNT(*) FROM messages WHERE sender_id = ?)
              + (SELECT COUNT(*) FROM messages WHERE recipient_id = ? AND sender_id <> ?) AS n`,
      userId,
      userId,
      userId,
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
    const row = this.#get(
      `INSERT INTO cursors (user_id, peer_id, delivered_id, read_id) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id, peer_id) DO UPDATE SET
         delivered_id = max(delivered_id, excluded.delivered_id),
         read_id = max(read_id, excluded.read_id)
       RETURNING delivered_id, read_id`,
      userId,
      peerId,
      delivered,
      read,
    );
    return {
      userId,
      peerId,
      deliveredId: Number(row!.delivered_id),
      readId: Number(row!.read_id),
    };
  }

  async cursor(userId: number, peerId: number): Promise<Cursor> {
    const row = this.#get(
      "SELECT delivered_id, read_id FROM cursors WHERE user_id = ? AND peer_id = ?",
      userId,
      peerId,
    );
    return {
      userId,
      peerId,
      deliveredId: row ? Number(row.delivered_id) : 0,
      readId: row ? Number(row.read_id) : 0,
    };
  }

  async lastMessageId(senderId: number, recipientId: number): Promise<number> {
    const row = this.#get(
      "SELECT COALESCE(MAX(id), 0) AS id FROM messages WHERE sender_id = ? AND recipient_id = ?",
      senderId,
      recipientId,
    );
    return Number(row!.id);
  }
}
