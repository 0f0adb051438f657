/**
 * What the SQL store checks and maps, whatever the dialect: how e-mails
 * and names are normalised for case-insensitive uniqueness, the column
 * limits the store enforces itself (the roles enforce the product's tighter
 * limits at the edge), the opaque search cursor, LIKE escaping, and the
 * mapping from snake_case rows to the camelCase types.
 */
import { AppError } from "../../proto/errors.ts";
import type {
  Cursor,
  Device,
  FriendRequest,
  Message,
  MessageInput,
  UnreadCount,
  User,
} from "./types.ts";

/** Hard ceilings of the schema (in UTF-16 code units, so they also fit MySQL's character counts). */
export const STORE_LIMITS = {
  email: 255,
  name: 255,
  displayName: 255,
  bio: 10_000,
  passwordHash: 512,
  greeting: 10_000,
  clientId: 128,
  /** MySQL TEXT holds 65,535 bytes; one UTF-16 unit is at most 3 bytes of UTF-8. */
  text: 20_000,
  deviceId: 64,
  deviceLabel: 64,
  jti: 128,
} as const;

/**
 * The form e-mails and names are compared in: compatibility-normalised (so
 * full-width "ｂｏｂ" and "bob" collide) and lower-cased.
 */
export function normalizeKey(s: string): string {
  return s.normalize("NFKC").toLowerCase();
}

/**
 * Throws `too_long` when a value does not fit its column, and `bad_request`
 * for a NUL character: node:sqlite would read the text back cut at the NUL,
 * so neither adapter stores one.
 */
export function checkText(field: keyof typeof STORE_LIMITS, value: string): void {
  const max = STORE_LIMITS[field];
  if (value.length > max) {
    throw new AppError("too_long", `${field} is longer than ${max} characters`, 400);
  }
  if (value.includes("\0")) {
    throw new AppError("bad_request", `${field} must not contain NUL characters`, 400);
  }
}

export function checkUserInput(input: { email: string; name: string; passwordHash: string }) {
  checkText("email", input.email);
  checkText("name", input.name);
  checkText("passwordHash", input.passwordHash);
  // Normalisation can lengthen a string (e.g. ligatures), and the norm columns are as wide.
  checkText("email", normalizeKey(input.email));
  checkText("name", normalizeKey(input.name));
}

export function checkMessageInput(input: MessageInput): void {
  if (input.clientId.length === 0) {
    throw new AppError("bad_request", "client_id must not be empty", 400);
  }
  checkText("clientId", input.clientId);
  checkText("text", input.text);
}

/** `s` with LIKE's wildcards made literal, for `LIKE ? ESCAPE '!'` (the same in both dialects). */
export function escapeLike(s: string): string {
  return s.replace(/[!%_]/g, (c) => "!" + c);
}

/**
 * The search cursor: the id of the last user on a page (base 36), from
 * which the query finds that user's name; short whatever the name, and
 * stable because users are never renamed or deleted.
 */
export function encodeAfter(lastUserId: number): string {
  return lastUserId.toString(36);
}

/** The user id in a cursor, or 0 for none. */
export function decodeAfter(after: string | undefined): number {
  if (after === undefined || after === "") return 0;
  const id = /^[0-9a-z]{1,10}$/.test(after) ? parseInt(after, 36) : 0;
  if (id <= 0) throw new AppError("bad_cursor", "the paging cursor is not valid", 400);
  return id;
}

/** A page size that the database accepts: an integer from 1 to 1000. */
export function clampLimit(limit: number): number {
  if (!Number.isFinite(limit)) return 1000;
  return Math.min(1000, Math.max(1, Math.trunc(limit)));
}

/** A device id the client chose: what the protocol allows, so it is safe in logs and keys. */
export function checkDevice(deviceId: string, label: string): void {
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(deviceId)) {
    throw new AppError("bad_request", "device id must be 1-64 of A-Z a-z 0-9 _ . : -", 400);
  }
  checkText("deviceLabel", label);
}

export const USER_COLUMNS =
  "id, email, name, display_name, bio, created_at, last_seen_at, findable_by_email";
export const MESSAGE_COLUMNS = "id, sender_id, recipient_id, client_id, text, created_at";
export const REQUEST_COLUMNS = "id, from_id, to_id, greeting, created_at";

type Row = Record<string, unknown>;

// mysql2 may hand back BIGINT and aggregates as strings; node:sqlite as numbers.
const num = (v: unknown): number => Number(v);

export function toUser(r: Row): User {
  return {
    id: num(r.id),
    email: String(r.email),
    name: String(r.name),
    displayName: String(r.display_name),
    bio: String(r.bio),
    createdAt: num(r.created_at),
    lastSeenAt: r.last_seen_at === null || r.last_seen_at === undefined
      ? null
      : num(r.last_seen_at),
    findableByEmail: num(r.findable_by_email) === 1,
  };
}

export function toMessage(r: Row): Message {
  return {
    id: num(r.id),
    senderId: num(r.sender_id),
    recipientId: num(r.recipient_id),
    clientId: String(r.client_id),
    text: String(r.text),
    createdAt: num(r.created_at),
  };
}

export function toDevice(r: Row): Device {
  return {
    userId: num(r.user_id),
    deviceId: String(r.device_id),
    label: String(r.label),
    ackedSeq: num(r.acked_seq),
    createdAt: num(r.created_at),
    lastSeenAt: num(r.last_seen_at),
  };
}

export function toCursor(r: Row): Cursor {
  return {
    userId: num(r.user_id),
    peerId: num(r.peer_id),
    deliveredId: num(r.delivered_id),
    readId: num(r.read_id),
  };
}

export function toRequest(r: Row): FriendRequest {
  return {
    id: num(r.id),
    fromId: num(r.from_id),
    toId: num(r.to_id),
    greeting: String(r.greeting),
    createdAt: num(r.created_at),
  };
}

export function toUnread(r: Row): UnreadCount {
  return { peerId: num(r.peer_id), count: num(r.n), lastId: num(r.last_id) };
}

/** `(sender, client id)`: what makes a message unique. */
export function messageKey(m: { senderId: number; clientId: string }): string {
  return `${m.senderId}:${m.clientId}`;
}

export function userNotFound(): AppError {
  return new AppError("user_not_found", "no such user", 404);
}

export function selfFriendError(): AppError {
  return new AppError("self_request", "you cannot send a friend request to yourself", 400);
}

/** Each id once, in first-seen order; non-integers dropped (they match no row anyway). */
export function uniqueIds(ids: number[]): number[] {
  return [...new Set(ids.filter((id) => Number.isSafeInteger(id)))];
}

/** `users` ordered like `ids`. */
export function orderByIds(users: User[], ids: number[]): User[] {
  const byId = new Map(users.map((u) => [u.id, u]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}
