/**
 * The durable store: users, friend requests, friendships, messages and read
 * cursors. Two adapters implement it (`sqlite` through node:sqlite, `mysql`
 * through a mysql2 pool) and one contract suite (store_contract.ts) runs
 * against both. Times are Unix milliseconds; ids are positive integers.
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
  /** By e-mail or name, case-insensitive; with the password hash, for login. */
  userForLogin(login: string): Promise<{ user: User; passwordHash: string } | null>;
  userByEmail(email: string): Promise<User | null>;
  userByName(name: string): Promise<User | null>;
  setPasswordHash(userId: number, hash: string): Promise<void>;
  updateProfile(userId: number, patch: { displayName?: string; bio?: string }): Promise<User>;
  setLastSeen(userId: number, at: number): Promise<void>;
  /**
   * Users whose name starts with `query` (case-insensitive), or whose e-mail
   * equals it; ordered by name, paged with the opaque `after`.
   */
  searchUsers(query: string, options: { limit: number; after?: string }): Promise<Page<User>>;
  countUsers(): Promise<number>;

  // --- friends ---
  /**
   * Records a pending request from -> to. Returns "created", or "exists" if
   * one is already pending that way, or "friends" if they already are.
   * When `to` has a pending request to `from`, the two become friends at
   * once and "accepted" is returned.
   */
  createFriendRequest(
    fromId: number,
    toId: number,
    greeting: string,
  ): Promise<
    { result: "created" | "exists" | "friends" | "accepted"; request: FriendRequest | null }
  >;
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

  // --- messages ---
  /**
   * Stores a message, idempotent on (senderId, clientId): a retry returns the
   * stored message with `duplicate: true` and stores nothing.
   */
  insertMessage(
    input: {
      senderId: number;
      recipientId: number;
      clientId: string;
      text: string;
      createdAt: number;
    },
  ): Promise<{ message: Message; duplicate: boolean }>;
  /** Several messages in one round trip, in order; each result as insertMessage's. */
  insertMessages(
    inputs: {
      senderId: number;
      recipientId: number;
      clientId: string;
      text: string;
      createdAt: number;
    }[],
  ): Promise<{ message: Message; duplicate: boolean }[]>;
  messageById(id: number): Promise<Message | null>;
  /**
   * Messages between a and b (both directions), newest first, with id below
   * `before` (all if unset), at most `limit`.
   */
  history(a: number, b: number, options: { before?: number; limit: number }): Promise<Message[]>;
  /**
   * Messages sent to `userId` that are past the user's delivered cursor for
   * their sender, oldest first, with id above `afterId`, at most `limit`.
   */
  undelivered(userId: number, options: { afterId?: number; limit: number }): Promise<Message[]>;
  /** Per sender: messages to `userId` past the read cursor. */
  unreadCounts(userId: number): Promise<UnreadCount[]>;
  /** All messages, or those the user sent or received. */
  countMessages(userId?: number): Promise<number>;

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
  cursor(userId: number, peerId: number): Promise<Cursor>;
  /** Highest message id sent from `senderId` to `recipientId`, 0 if none. */
  lastMessageId(senderId: number, recipientId: number): Promise<number>;
}
