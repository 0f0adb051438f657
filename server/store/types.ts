/**
 * The durable store: users, friend requests, friendships, messages, each
 * user's inbox sequence, devices, read cursors and token revocations. One
 * implementation (sql_store.ts) runs on two SQL dialects (`sqlite` through
 * node:sqlite, `mysql` through a mysql2 pool), and one contract suite
 * (store_contract.ts) runs against both. Times are Unix milliseconds; ids
 * are positive integers.
 *
 * A store that cannot reach its database rejects with AppError
 * `store_unavailable` (503, with retryAfterS), never with a driver error.
 *
 * Inboxes: every user has one dense sequence (seq 1, 2, 3...) of the
 * messages to and from them, its head in `inbox_heads`. A 1:1 message holds
 * its two places itself, `messages.sender_seq` and `recipient_seq` (unique
 * per user), written in the row that stores it: an inbox entry costs no row
 * of its own, which halves the database's work per message against a
 * separate entry table (see migrations.ts). Group conversations will add a
 * member-inbox table for their fan-out (one row per member), numbered under
 * the same per-user head, and inbox() will then read that table as a third
 * source beside the two columns.
 */

export interface User {
  id: number;
  email: string;
  name: string;
  displayName: string;
  bio: string;
  createdAt: number;
  /** Last time a chat session of this user ended, or null if never. */
  lastSeenAt: number | null;
  /** Whether a search for the user's exact e-mail finds them (opt-in, false by default). */
  findableByEmail: boolean;
}

export interface FriendRequest {
  id: number;
  fromId: number;
  toId: number;
  greeting: string;
  createdAt: number;
}

export interface Friend {
  user: User;
  /** When the friendship was made. */
  since: number;
}

export interface Message {
  id: number;
  senderId: number;
  recipientId: number;
  /** The sender's id for this message; retries with the same one are not stored twice. */
  clientId: string;
  text: string;
  createdAt: number;
}

/** A message to store; `clientId` makes a retry idempotent per sender. */
export interface MessageInput {
  senderId: number;
  recipientId: number;
  clientId: string;
  text: string;
  createdAt: number;
}

/**
 * What storing a message did: the message (the earlier copy for a
 * duplicate) and its place in the sender's and the recipient's inbox (the
 * same seq twice for a message to oneself, which has one inbox entry).
 */
export interface Inserted {
  message: Message;
  duplicate: boolean;
  senderSeq: number;
  recipientSeq: number;
}

/** One entry of a user's inbox: a message to or from the user, at `seq` in that user's sequence. */
export interface InboxEntry {
  seq: number;
  message: Message;
}

/** A device of a user and how far it holds the user's inbox. */
export interface Device {
  userId: number;
  deviceId: string;
  label: string;
  /** The device holds every inbox entry with seq <= ackedSeq. */
  ackedSeq: number;
  createdAt: number;
  lastSeenAt: number;
}

/** The outcome of createFriendRequest(). */
export interface RequestResult {
  result: "created" | "exists" | "friends" | "accepted";
  request: FriendRequest | null;
}

/** A forward move of one receipt cursor (see advanceCursors()). */
export interface CursorUpdate {
  userId: number;
  peerId: number;
  deliveredId?: number;
  readId?: number;
}

/** A forward move of one device cursor (see advanceDevices()). */
export interface DeviceUpdate {
  userId: number;
  deviceId: string;
  ackedSeq: number;
}

/** What decides whether tokens are still valid (see authStates()). */
export interface AuthStates {
  /** users.auth_epoch of each user asked about that exists. */
  epochs: Map<number, number>;
  /** The jtis asked about that are revoked. */
  revoked: Set<string>;
}

/** How far `userId` has received and read the messages `peerId` sent them. */
export interface Cursor {
  userId: number;
  peerId: number;
  deliveredId: number;
  readId: number;
}

export interface UnreadCount {
  peerId: number;
  count: number;
  lastId: number;
}

/** Thrown by createUser when the e-mail or the name is taken. */
export class ConflictError extends Error {
  override name = "ConflictError";
  constructor(readonly field: "email" | "name") {
    super(`${field} already taken`);
  }
}

export interface Page<T> {
  items: T[];
  /** Pass as `after` to get the next page; null on the last page. */
  next: string | null;
}

export interface Store {
  /** "sqlite" or "mysql". */
  readonly kind: string;
  /** Applies pending migrations; safe to run from several processes at once. */
  migrate(): Promise<void>;
  /** The highest migration applied to the database, 0 before the first migrate(). */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;

  // --- users ---
  /** Creates a user; ConflictError if the e-mail or the name is taken (case-insensitive). */
  createUser(input: { email: string; name: string; passwordHash: string }): Promise<User>;
  userById(id: number): Promise<User | null>;
  /** The users that exist, in the order of `ids` (each once). */
  usersByIds(ids: number[]): Promise<User[]>;
  /**
   * By e-mail or name, case-insensitive; with the password hash and the
   * auth epoch read in the same statement, for login (a token carries the
   * epoch it was signed at).
   */
  userForLogin(
    login: string,
  ): Promise<{ user: User; passwordHash: string; authEpoch: number } | null>;
  userByEmail(email: string): Promise<User | null>;
  userByName(name: string): Promise<User | null>;
  /**
   * Sets the password hash; with `endSessions` it also bumps the user's
   * auth epoch in the same statement, which makes every token signed
   * before invalid. With `ifEpoch`, only while the epoch is still that one
   * (a login's rehash must not undo a password change that landed since
   * its read); otherwise nothing changes. Returns the auth epoch after;
   * user_not_found if none.
   */
  setPasswordHash(
    userId: number,
    hash: string,
    options?: { endSessions?: boolean; ifEpoch?: number },
  ): Promise<number>;
  updateProfile(
    userId: number,
    patch: { displayName?: string; bio?: string; findableByEmail?: boolean },
  ): Promise<User>;
  setLastSeen(userId: number, at: number): Promise<void>;
  /**
   * Users whose name starts with `query`, or whose e-mail equals it if they
   * opted in (findableByEmail), both compared after normalizeKey() (NFKC,
   * lower case); ordered by name, paged with the opaque `after`, never
   * listing `excludeUserId` (the searcher), so `next` is null on the last page.
   */
  searchUsers(
    query: string,
    options: { limit: number; after?: string; excludeUserId?: number },
  ): Promise<Page<User>>;
  countUsers(): Promise<number>;

  // --- friends ---
  /**
   * Records a pending request from -> to. Returns "created", or "exists" if
   * one is already pending that way, or "friends" if they already are.
   * When `to` has a pending request to `from`, the two become friends at
   * once and "accepted" is returned.
   */
  createFriendRequest(fromId: number, toId: number, greeting: string): Promise<RequestResult>;
  /** Pending requests sent to the user (incoming) and by the user (outgoing), oldest first. */
  pendingRequests(
    userId: number,
  ): Promise<{ incoming: FriendRequest[]; outgoing: FriendRequest[] }>;
  /**
   * Accepts the pending request from `fromId` to `userId`: both become
   * friends and the request is removed. False if there was no such request.
   */
  acceptFriendRequest(userId: number, fromId: number): Promise<boolean>;
  /** Removes the pending request from `fromId` to `userId`; false if there was none. */
  declineFriendRequest(userId: number, fromId: number): Promise<boolean>;
  /** Withdraws the user's own pending request to `toId`; false if there was none. */
  cancelFriendRequest(userId: number, toId: number): Promise<boolean>;
  areFriends(a: number, b: number): Promise<boolean>;
  friends(userId: number): Promise<Friend[]>;
  friendIds(userId: number): Promise<number[]>;
  /** Ends the friendship both ways; false if they were not friends. Messages are kept. */
  removeFriend(userId: number, friendId: number): Promise<boolean>;
  countFriends(userId: number): Promise<number>;

  // --- messages and inboxes ---
  /**
   * Stores a message, idempotent on (senderId, clientId), and appends it to
   * the sender's and the recipient's inbox in the same transaction. A retry
   * returns the stored message and its seqs with `duplicate: true` and
   * stores nothing.
   */
  insertMessage(input: MessageInput): Promise<Inserted>;
  /**
   * Several messages in one transaction (group commit), in order: seqs and
   * ids follow the input order; each result as insertMessage's, a repeat
   * inside the batch included. A batch refused as a whole stores nothing.
   * Where transactions run side by side (MySQL), `onLocked` is called once
   * the batch holds its users' inbox heads: a batch started after that
   * takes its seqs and ids after this one's for every user the two share
   * (it waits for this one's commit). Should this batch's transaction have
   * to run again after that call (a deadlock), it fails with
   * store_unavailable instead of landing behind the later batch.
   */
  insertMessages(inputs: MessageInput[], onLocked?: () => void): Promise<Inserted[]>;
  messageById(id: number): Promise<Message | null>;
  /**
   * Messages between a and b (both directions), newest first, with id below
   * `before` (all if unset), at most `limit`.
   */
  history(a: number, b: number, options: { before?: number; limit: number }): Promise<Message[]>;
  /** The user's inbox head: the last seq assigned, 0 if none. */
  inboxHead(userId: number): Promise<number>;
  /** The inbox heads of `userIds`: every id present, 0 if none. */
  inboxHeads(userIds: number[]): Promise<Map<number, number>>;
  /** Inbox entries with seq > after, ascending, at most `limit`. */
  inbox(userId: number, options: { after: number; limit: number }): Promise<InboxEntry[]>;
  /**
   * @deprecated Sync is by inbox seq now (inbox()); kept until the chat role
   * stops calling it. Messages sent to `userId` that are past the user's
   * delivered cursor for their sender, oldest first, with id above
   * `afterId`, at most `limit`.
   */
  undelivered(userId: number, options: { afterId?: number; limit: number }): Promise<Message[]>;
  /** Per sender: messages to `userId` past the read cursor. */
  unreadCounts(userId: number): Promise<UnreadCount[]>;
  /** All messages, or those the user sent or received. */
  countMessages(userId?: number): Promise<number>;

  // --- devices ---
  /**
   * Opens a device of the user: a new one starts at max(the user's
   * base_seq, the highest ackedSeq of the user's other devices), so it gets
   * what no device of the user received yet; a known one keeps its cursor
   * and gets the new label and lastSeenAt = now.
   */
  openDevice(userId: number, deviceId: string, label: string, now: number): Promise<Device>;
  /** Moves device cursors forward (never back), in one round trip; unknown devices are skipped. */
  advanceDevices(updates: DeviceUpdate[]): Promise<void>;
  /** The user's devices, by device id. */
  devices(userId: number): Promise<Device[]>;
  /**
   * Forgets devices last opened before `before` (the chat role passes now
   * minus 90 days); returns how many. A forgotten device that comes back is
   * a new one (openDevice()).
   */
  pruneDevices(before: number): Promise<number>;

  // --- receipts ---
  /**
   * Moves the user's delivered and/or read cursor for `peerId` forward (never
   * back; read implies delivered). Returns the cursor after the change.
   */
  advanceCursor(
    userId: number,
    peerId: number,
    update: { deliveredId?: number; readId?: number },
  ): Promise<Cursor>;
  /**
   * advanceCursor() for many (user, peer) pairs in one round trip; returns
   * each pair's cursor after the change, once, in first-seen order.
   */
  advanceCursors(updates: CursorUpdate[]): Promise<Cursor[]>;
  cursor(userId: number, peerId: number): Promise<Cursor>;
  /** Highest message id sent from `senderId` to `recipientId`, 0 if none. */
  lastMessageId(senderId: number, recipientId: number): Promise<number>;

  // --- tokens ---
  /** The auth epochs of `userIds` and which of `jtis` are revoked, read in batches. */
  authStates(userIds: number[], jtis: string[]): Promise<AuthStates>;
  /** Records a revoked token (kept until it would have expired anyway); idempotent. */
  revokeToken(jti: string, userId: number, expiresAt: number): Promise<void>;
  /** Forgets revocations of tokens expired at `now`; returns how many. */
  pruneRevokedTokens(now: number): Promise<number>;
}
