/**
 * The one Store implementation, written once over an Executor and its
 * Dialect (_exec.ts): mysql.ts and sqlite.ts only supply those. Friend
 * changes lock the two users' rows first, so two requests between the same
 * pair are serialised; message inserts are in _sql_insert.ts, inboxes,
 * devices, receipts and tokens in _sql_inbox.ts, the migration runner in
 * _sql_migrate.ts.
 */
import type { Logger } from "../log.ts";
import {
  checkText,
  checkUserInput,
  clampLimit,
  decodeAfter,
  encodeAfter,
  escapeLike,
  MESSAGE_COLUMNS,
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
import type { Executor, TxExec } from "./_exec.ts";
import { SQL } from "./_sql.ts";
import { InboxStore } from "./_sql_inbox.ts";
import { insertMessages } from "./_sql_insert.ts";
import { applyMigrations, schemaVersion } from "./_sql_migrate.ts";
import {
  ConflictError,
  type Friend,
  type FriendRequest,
  type Inserted,
  type Message,
  type MessageInput,
  type Page,
  type RequestResult,
  type Store,
  type UnreadCount,
  type User,
} from "./types.ts";

export class SqlStore extends InboxStore implements Store {
  readonly kind: string;
  #log: Logger;

  constructor(ex: Executor, log: Logger) {
    super(ex);
    this.kind = ex.dialect.name;
    this.#log = log;
  }

  /**
   * Applies the migrations not yet recorded, in order, under the
   * database's migration lock; `upTo` stops at a version (for tests of a
   * migration). See _sql_migrate.ts.
   */
  migrate(options: { upTo?: number } = {}): Promise<void> {
    return applyMigrations(this.ex, this.#log, options.upTo);
  }

  schemaVersion(): Promise<number> {
    return schemaVersion(this.ex);
  }

  close(): Promise<void> {
    return this.ex.close();
  }

  // --- users ---

  async createUser(input: { email: string; name: string; passwordHash: string }): Promise<User> {
    checkUserInput(input);
    const { email, name, passwordHash } = input;
    const createdAt = Date.now();
    try {
      const res = await this.ex.run(SQL.createUser, [
        email,
        normalizeKey(email),
        name,
        normalizeKey(name),
        passwordHash,
        createdAt,
      ]);
      return {
        id: res.insertId,
        email,
        name,
        displayName: "",
        bio: "",
        createdAt,
        lastSeenAt: null,
        findableByEmail: false,
      };
    } catch (e) {
      const key = this.ex.dialect.duplicateKey(e);
      if (key === null) throw e;
      // MySQL names the index (uq_users_email), SQLite the column (users.email_norm).
      throw new ConflictError(key.includes("email") ? "email" : "name");
    }
  }

  async userById(id: number): Promise<User | null> {
    const row = await this.ex.get(SQL.userById, [id]);
    return row ? toUser(row) : null;
  }

  async usersByIds(ids: number[]): Promise<User[]> {
    const want = uniqueIds(ids);
    if (want.length === 0) return [];
    const list = this.ex.dialect.inList(want);
    const rows = await this.ex.all(
      `SELECT ${USER_COLUMNS} FROM users WHERE id ${list.sql}`,
      list.params,
    );
    return orderByIds(rows.map(toUser), want);
  }

  async userForLogin(
    login: string,
  ): Promise<{ user: User; passwordHash: string; authEpoch: number } | null> {
    const key = normalizeKey(login);
    const row = await this.ex.get(SQL.userForLogin, [key, key, key]);
    if (!row) return null;
    return {
      user: toUser(row),
      passwordHash: String(row.password_hash),
      authEpoch: Number(row.auth_epoch),
    };
  }

  async userByEmail(email: string): Promise<User | null> {
    const row = await this.ex.get(SQL.userByEmail, [normalizeKey(email)]);
    return row ? toUser(row) : null;
  }

  async userByName(name: string): Promise<User | null> {
    const row = await this.ex.get(SQL.userByName, [normalizeKey(name)]);
    return row ? toUser(row) : null;
  }

  async setPasswordHash(
    userId: number,
    hash: string,
    options: { endSessions?: boolean; ifEpoch?: number } = {},
  ): Promise<number> {
    checkText("passwordHash", hash);
    const bump = options.endSessions ? 1 : 0;
    const update = options.ifEpoch === undefined
      ? { sql: SQL.setPasswordHash, params: [hash, bump, userId] }
      : { sql: SQL.setPasswordHashIfEpoch, params: [hash, bump, userId, options.ifEpoch] };
    return await this.ex.tx(async (t) => {
      const [changed, epoch] = await t.commitWith([update, {
        sql: SQL.authEpoch,
        params: [userId],
      }]);
      const row = Array.isArray(epoch) ? epoch[0] : undefined;
      if (Array.isArray(changed) || !row) throw userNotFound();
      // A row that exists but did not match ifEpoch is left as it was.
      if (changed.changes === 0 && options.ifEpoch === undefined) throw userNotFound();
      return Number(row.auth_epoch);
    });
  }

  async updateProfile(
    userId: number,
    patch: { displayName?: string; bio?: string; findableByEmail?: boolean },
  ): Promise<User> {
    if (patch.displayName !== undefined) checkText("displayName", patch.displayName);
    if (patch.bio !== undefined) checkText("bio", patch.bio);
    const findable = patch.findableByEmail === undefined ? null : patch.findableByEmail ? 1 : 0;
    await this.ex.run(SQL.updateProfile, [
      patch.displayName ?? null,
      patch.bio ?? null,
      findable,
      userId,
    ]);
    const user = await this.userById(userId);
    if (!user) throw userNotFound();
    return user;
  }

  async setLastSeen(userId: number, at: number): Promise<void> {
    await this.ex.run(SQL.setLastSeen, [at, userId]);
  }

  async searchUsers(
    query: string,
    options: { limit: number; after?: string; excludeUserId?: number },
  ): Promise<Page<User>> {
    const key = normalizeKey(query);
    const limit = clampLimit(options.limit);
    const after = decodeAfter(options.after);
    // One row more than asked tells whether there is a next page.
    const rows = await this.ex.all(SQL.searchUsers, [
      escapeLike(key) + "%",
      key,
      options.excludeUserId ?? 0,
      after,
      after,
      limit + 1,
    ]);
    const page = rows.slice(0, limit);
    const next = rows.length > limit ? encodeAfter(Number(page[page.length - 1].id)) : null;
    return { items: page.map(toUser), next };
  }

  async countUsers(): Promise<number> {
    return Number((await this.ex.get(SQL.countUsers))!.n);
  }

  // --- friends ---

  /** Locks both users' rows for the transaction; false if either does not exist. */
  async #lockPair(t: TxExec, a: number, b: number): Promise<boolean> {
    return (await t.all(SQL.pair + this.ex.dialect.forUpdate, [a, b])).length === 2;
  }

  async #pending(t: TxExec, fromId: number, toId: number): Promise<FriendRequest | null> {
    const row = await t.get(SQL.pendingRequest, [fromId, toId]);
    return row ? toRequest(row) : null;
  }

  /** Makes a and b friends (both directions) and drops requests either way. */
  async #befriend(t: TxExec, a: number, b: number, at: number): Promise<void> {
    await t.script([
      { sql: SQL.deleteRequestsBothWays, params: [a, b, b, a] },
      {
        sql: `INSERT INTO friendships (user_id, friend_id, created_at) VALUES (?, ?, ?), (?, ?, ?)
          ${this.ex.dialect.onConflict("user_id, friend_id", "created_at = created_at")}`,
        params: [a, b, at, b, a, at],
      },
    ]);
  }

  async createFriendRequest(
    fromId: number,
    toId: number,
    greeting: string,
  ): Promise<RequestResult> {
    if (fromId === toId) throw selfFriendError();
    checkText("greeting", greeting);
    // With both users locked first, a plain read below sees every committed change.
    return await this.ex.tx(async (t): Promise<RequestResult> => {
      if (!(await this.#lockPair(t, fromId, toId))) throw userNotFound();
      if (await t.get(SQL.areFriends, [fromId, toId])) return { result: "friends", request: null };
      const reverse = await this.#pending(t, toId, fromId);
      if (reverse) {
        await this.#befriend(t, fromId, toId, Date.now());
        return { result: "accepted", request: reverse };
      }
      const existing = await this.#pending(t, fromId, toId);
      if (existing) return { result: "exists", request: existing };
      const createdAt = Date.now();
      const res = await t.run(SQL.insertRequest, [fromId, toId, greeting, createdAt]);
      const request = { id: res.insertId, fromId, toId, greeting, createdAt };
      return { result: "created", request };
    });
  }

  async pendingRequests(
    userId: number,
  ): Promise<{ incoming: FriendRequest[]; outgoing: FriendRequest[] }> {
    const [incoming, outgoing] = await this.ex.script([
      { sql: SQL.incomingRequests, params: [userId] },
      { sql: SQL.outgoingRequests, params: [userId] },
    ]);
    return {
      incoming: (incoming as Record<string, unknown>[]).map(toRequest),
      outgoing: (outgoing as Record<string, unknown>[]).map(toRequest),
    };
  }

  async acceptFriendRequest(userId: number, fromId: number): Promise<boolean> {
    return await this.ex.tx(async (t) => {
      if (!(await this.#lockPair(t, userId, fromId))) return false;
      if (!(await this.#pending(t, fromId, userId))) return false;
      await this.#befriend(t, userId, fromId, Date.now());
      return true;
    });
  }

  async declineFriendRequest(userId: number, fromId: number): Promise<boolean> {
    return (await this.ex.run(SQL.deleteRequest, [fromId, userId])).changes > 0;
  }

  async cancelFriendRequest(userId: number, toId: number): Promise<boolean> {
    return (await this.ex.run(SQL.deleteRequest, [userId, toId])).changes > 0;
  }

  async areFriends(a: number, b: number): Promise<boolean> {
    return (await this.ex.get(SQL.areFriends, [a, b])) !== null;
  }

  async friends(userId: number): Promise<Friend[]> {
    const rows = await this.ex.all(SQL.friends, [userId]);
    return rows.map((r) => ({ user: toUser(r), since: Number(r.since) }));
  }

  async friendIds(userId: number): Promise<number[]> {
    return (await this.ex.all(SQL.friendIds, [userId])).map((r) => Number(r.friend_id));
  }

  async removeFriend(userId: number, friendId: number): Promise<boolean> {
    const res = await this.ex.run(SQL.removeFriend, [userId, friendId, friendId, userId]);
    return res.changes > 0;
  }

  async countFriends(userId: number): Promise<number> {
    return Number((await this.ex.get(SQL.countFriends, [userId]))!.n);
  }

  // --- messages ---

  async insertMessage(input: MessageInput): Promise<Inserted> {
    return (await insertMessages(this.ex, [input]))[0];
  }

  insertMessages(inputs: MessageInput[], onLocked?: () => void): Promise<Inserted[]> {
    return insertMessages(this.ex, inputs, onLocked);
  }

  async messageById(id: number): Promise<Message | null> {
    const row = await this.ex.get(SQL.messageById, [id]);
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
    const one = this.ex.dialect.unionArm(`SELECT ${MESSAGE_COLUMNS} FROM messages
      WHERE sender_id = ? AND recipient_id = ? AND id < ? ORDER BY id DESC LIMIT ?`);
    const rows = await this.ex.all(
      `${one} UNION ALL ${one} ORDER BY id DESC LIMIT ?`,
      [a, b, before, limit, b, a, before, limit, limit],
    );
    return rows.map(toMessage);
  }

  /** @deprecated See Store.undelivered(): the chat role's sync moves to inbox(). */
  async undelivered(
    userId: number,
    options: { afterId?: number; limit: number },
  ): Promise<Message[]> {
    const afterId = options.afterId ?? 0;
    // Two statements: neither dialect bounds an index range by a subquery in one.
    const after = afterId > 0
      ? Number((await this.ex.get(SQL.undeliveredAfter, [afterId, userId, userId, afterId]))!.seq)
      : 0;
    const rows = await this.ex.all(SQL.undelivered, [userId, after, clampLimit(options.limit)]);
    return rows.map(toMessage);
  }

  async unreadCounts(userId: number): Promise<UnreadCount[]> {
    return (await this.ex.all(SQL.unreadCounts, [userId])).map(toUnread);
  }

  async countMessages(userId?: number): Promise<number> {
    const row = userId === undefined
      ? await this.ex.get(SQL.countMessages)
      : await this.ex.get(SQL.countUserMessages, [userId, userId, userId]);
    return Number(row!.n);
  }

  async lastMessageId(senderId: number, recipientId: number): Promise<number> {
    return Number((await this.ex.get(SQL.lastMessageId, [senderId, recipientId]))!.id);
  }
}
