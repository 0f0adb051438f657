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
  toUnread,
  toUser,
  uniqueIds,
  USER_COLUMNS,
  userNotFound,
} from "./_common.ts";
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

type Row = Record<string, SQLInputValue>;
type Inserted = { message: Message; duplicate: boolean };
type RequestResult = {
  result: "created" | "exists" | "friends" | "accepted";
  request: FriendRequest | null;
};

const SQLITE_CONSTRAINT_UNIQUE = 2067;
const SQLITE_CONSTRAINT_FOREIGNKEY = 787;

function sqliteCode(e: unknown): number | undefined {
  return (e as { errcode?: number } | null)?.errcode;
}

const SQLITE_BUSY = 5;

/**
 * Runs `fn` again while SQLite answers SQLITE_BUSY. Switching a new file to
 * WAL can be refused at once, without the busy handler, while another
 * process is switching it too; WAL is then set by the time we retry.
 */
function retryBusy(fn: () => void, deadlineMs = 10_000, waitMs = 20): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return fn();
    } catch (e) {
      // node:sqlite does not always set errcode on SQLITE_BUSY; its message is fixed.
      const busy = sqliteCode(e) === SQLITE_BUSY || /database is locked/.test(String(e));
      if (!busy || Date.now() >= deadline) throw e;
      Atomics.wait(pause, 0, 0, waitMs); // open is synchronous: a short blocking pause
    }
  }
}

/** Opens (and creates) the database at `path`, or an in-memory one for ":memory:". */
export function openSqlite(path: string, options: { log: Logger }): SqliteStore {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  // busy_timeout first: switching to WAL needs a lock another process may hold.
  db.exec("PRAGMA busy_timeout = 10000");
  // WAL lets readers run beside the one writer; NORMAL sync is durable across
  // a crash of the process (not of the machine) and much faster than FULL.
  retryBusy(() => db.exec("PRAGMA journal_mode = WAL"));
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA foreign_keys = ON");
  // The searched columns are already lower-cased; a case-sensitive LIKE
  // matches MySQL's utf8mb4_bin and lets SQLite turn a prefix into an index range.
  db.exec("PRAGMA case_sensitive_like = ON");
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

  #all(sql: string, params: SQLInputValue[] = []): Row[] {
    return this.#st(sql).all(...params) as Row[];
  }

  #get(sql: string, params: SQLInputValue[] = []): Row | undefined {
    return this.#st(sql).get(...params) as Row | undefined;
  }

  #run(sql: string, params: SQLInputValue[] = []): number {
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
        this.#run(SQL.recordMigration, [m.version, Date.now()]);
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
    return table ? Number(this.#get(SQL.schemaVersion)!.v) : 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#statements.clear();
    this.#db.close();
  }

  // --- users ---

  async createUser(input: { email: string; name: string; passwordHash: string }): Promise<User> {
    checkUserInput(input);
    const { email, name, passwordHash } = input;
    try {
      const row = this.#get(
        `INSERT INTO users (email, email_norm, name, name_norm, display_name, bio, password_hash,
           created_at) VALUES (?, ?, ?, ?, '', '', ?, ?) RETURNING ${USER_COLUMNS}`,
        [email, normalizeKey(email), name, normalizeKey(name), passwordHash, Date.now()],
      );
      return toUser(row!);
    } catch (e) {
      if (sqliteCode(e) !== SQLITE_CONSTRAINT_UNIQUE) throw e;
      // The message names the column: "UNIQUE constraint failed: users.email_norm".
      throw new ConflictError(String(e).includes("users.email_norm") ? "email" : "name");
    }
  }

  async userById(id: number): Promise<User | null> {
    const row = this.#get(SQL.userById, [id]);
    return row ? toUser(row) : null;
  }

  async usersByIds(ids: number[]): Promise<User[]> {
    const want = uniqueIds(ids);
    // One JSON parameter instead of a placeholder per id keeps the SQL text fixed.
    const rows = this.#all(
      `SELECT ${USER_COLUMNS} FROM users WHERE id IN (SELECT value FROM json_each(?))`,
      [JSON.stringify(want)],
    );
    return orderByIds(rows.map(toUser), want);
  }

  async userForLogin(login: string): Promise<{ user: User; passwordHash: string } | null> {
    const key = normalizeKey(login);
    const row = this.#get(SQL.userForLogin, [key, key, key]);
    return row ? { user: toUser(row), passwordHash: String(row.password_hash) } : null;
  }

  async userByEmail(email: string): Promise<User | null> {
    const row = this.#get(SQL.userByEmail, [normalizeKey(email)]);
    return row ? toUser(row) : null;
  }

  async userByName(name: string): Promise<User | null> {
    const row = this.#get(SQL.userByName, [normalizeKey(name)]);
    return row ? toUser(row) : null;
  }

  async setPasswordHash(userId: number, hash: string): Promise<void> {
    checkText("passwordHash", hash);
    this.#run(SQL.setPasswordHash, [hash, userId]);
  }

  async updateProfile(
    userId: number,
    patch: { displayName?: string; bio?: string },
  ): Promise<User> {
    if (patch.displayName !== undefined) checkText("displayName", patch.displayName);
    if (patch.bio !== undefined) checkText("bio", patch.bio);
    this.#run(SQL.updateProfile, [patch.displayName ?? null, patch.bio ?? null, userId]);
    const row = this.#get(SQL.userById, [userId]);
    if (!row) throw userNotFound();
    return toUser(row);
  }

  async setLastSeen(userId: number, at: number): Promise<void> {
    this.#run(SQL.setLastSeen, [at, userId]);
  }

  async searchUsers(
    query: string,
    options: { limit: number; after?: string },
  ): Promise<Page<User>> {
    const key = normalizeKey(query);
    const limit = clampLimit(options.limit);
    const after = decodeAfter(options.after);
    // One row more than asked tells whether there is a next page.
    const rows = this.#all(SQL.searchUsers, [
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
    return Number(this.#get(SQL.countUsers)!.n);
  }

  // --- friends ---

  #pending(fromId: number, toId: number): FriendRequest | null {
    const row = this.#get(SQL.pendingRequest, [fromId, toId]);
    return row ? toRequest(row) : null;
  }

  /** Makes a and b friends (both directions) and drops requests either way. */
  #befriend(a: number, b: number, at: number): void {
    this.#run(SQL.deleteRequestsBothWays, [a, b, b, a]);
    this.#run(
      `INSERT INTO friendships (user_id, friend_id, created_at) VALUES (?, ?, ?), (?, ?, ?)
       ON CONFLICT DO NOTHING`,
      [a, b, at, b, a, at],
    );
  }

  async createFriendRequest(
    fromId: number,
    toId: number,
    greeting: string,
  ): Promise<RequestResult> {
    if (fromId === toId) throw selfFriendError();
    checkText("greeting", greeting);
    try {
      return this.#tx((): RequestResult => {
        if (this.#get(SQL.areFriends, [fromId, toId])) return { result: "friends", request: null };
        const reverse = this.#pending(toId, fromId);
        if (reverse) {
          this.#befriend(fromId, toId, Date.now());
          return { result: "accepted", request: reverse };
        }
        const existing = this.#pending(fromId, toId);
        if (existing) return { result: "exists", request: existing };
        const row = this.#get(`${SQL.insertRequest} RETURNING ${REQUEST_COLUMNS}`, [
          fromId,
          toId,
          greeting,
          Date.now(),
        ]);
        return { result: "created", request: toRequest(row!) };
      });
    } catch (e) {
      if (sqliteCode(e) === SQLITE_CONSTRAINT_FOREIGNKEY) throw userNotFound();
      throw e;
    }
  }

  async pendingRequests(
    userId: number,
  ): Promise<{ incoming: FriendRequest[]; outgoing: FriendRequest[] }> {
    return {
      incoming: this.#all(SQL.incomingRequests, [userId]).map(toRequest),
      outgoing: this.#all(SQL.outgoingRequests, [userId]).map(toRequest),
    };
  }

  async acceptFriendRequest(userId: number, fromId: number): Promise<boolean> {
    return this.#tx(() => {
      if (!this.#pending(fromId, userId)) return false;
      this.#befriend(userId, fromId, Date.now());
      return true;
    });
  }

  async declineFriendRequest(userId: number, fromId: number): Promise<boolean> {
    return this.#run(SQL.deleteRequest, [fromId, userId]) > 0;
  }

  async cancelFriendRequest(userId: number, toId: number): Promise<boolean> {
    return this.#run(SQL.deleteRequest, [userId, toId]) > 0;
  }

  async areFriends(a: number, b: number): Promise<boolean> {
    return this.#get(SQL.areFriends, [a, b]) !== undefined;
  }

  async friends(userId: number): Promise<Friend[]> {
    const rows = this.#all(SQL.friends, [userId]);
    return rows.map((r) => ({ user: toUser(r), since: Number(r.since) }));
  }

  async friendIds(userId: number): Promise<number[]> {
    return this.#all(SQL.friendIds, [userId]).map((r) => Number(r.friend_id));
  }

  async removeFriend(userId: number, friendId: number): Promise<boolean> {
    return this.#run(SQL.removeFriend, [userId, friendId, friendId, userId]) > 0;
  }

  async countFriends(userId: number): Promise<number> {
    return Number(this.#get(SQL.countFriends, [userId])!.n);
  }

  // --- messages ---

  #insertMessage(m: MessageInput): Inserted {
    const row = this.#get(
      `INSERT INTO messages (sender_id, recipient_id, client_id, text, created_at)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT (sender_id, client_id) DO NOTHING RETURNING id`,
      [m.senderId, m.recipientId, m.clientId, m.text, m.createdAt],
    );
    if (row) return { message: { id: Number(row.id), ...m }, duplicate: false };
    const stored = this.#get(SQL.messageByClientId, [m.senderId, m.clientId]);
    return { message: toMessage(stored!), duplicate: true };
  }

  async insertMessage(input: MessageInput): Promise<Inserted> {
    checkMessageInput(input);
    return this.#insertMessage(input);
  }

  async insertMessages(inputs: MessageInput[]): Promise<Inserted[]> {
    inputs.forEach(checkMessageInput);
    if (inputs.length === 0) return [];
    // One transaction: one commit for the lot, and ids follow the input order.
    return this.#tx(() => inputs.map((m) => this.#insertMessage(m)));
  }

  async messageById(id: number): Promise<Message | null> {
    const row = this.#get(SQL.messageById, [id]);
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
    const one = `SELECT * FROM (SELECT ${MESSAGE_COLUMNS} FROM messages
      WHERE sender_id = ? AND recipient_id = ? AND id < ? ORDER BY id DESC LIMIT ?)`;
    const rows = this.#all(
      `${one} UNION ALL ${one} ORDER BY id DESC LIMIT ?`,
      [a, b, before, limit, b, a, before, limit, limit],
    );
    return rows.map(toMessage);
  }

  async undelivered(
    userId: number,
    options: { afterId?: number; limit: number },
  ): Promise<Message[]> {
    const rows = this.#all(SQL.undelivered, [
      userId,
      options.afterId ?? 0,
      clampLimit(options.limit),
    ]);
    return rows.map(toMessage);
  }

  async unreadCounts(userId: number): Promise<UnreadCount[]> {
    return this.#all(SQL.unreadCounts, [userId]).map(toUnread);
  }

  async countMessages(userId?: number): Promise<number> {
    const row = userId === undefined
      ? this.#get(SQL.countMessages)
      : this.#get(SQL.countUserMessages, [userId, userId, userId]);
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
    // One atomic upsert; max() keeps both cursors from moving back.
    const row = this.#get(
      `INSERT INTO cursors (user_id, peer_id, delivered_id, read_id) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id, peer_id) DO UPDATE SET
         delivered_id = max(delivered_id, excluded.delivered_id),
         read_id = max(read_id, excluded.read_id)
       RETURNING delivered_id, read_id`,
      [userId, peerId, delivered, read],
    )!;
    return { userId, peerId, deliveredId: Number(row.delivered_id), readId: Number(row.read_id) };
  }

  async cursor(userId: number, peerId: number): Promise<Cursor> {
    const row = this.#get(SQL.cursor, [userId, peerId]);
    return {
      userId,
      peerId,
      deliveredId: row ? Number(row.delivered_id) : 0,
      readId: row ? Number(row.read_id) : 0,
    };
  }

  async lastMessageId(senderId: number, recipientId: number): Promise<number> {
    return Number(this.#get(SQL.lastMessageId, [senderId, recipientId])!.id);
  }
}
