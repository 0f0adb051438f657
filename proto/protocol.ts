/**
 * The client protocol: JSON text frames over the chat node's WebSocket.
 * Each frame a client may send has a zod schema (validated at the edge,
 * types derived from it); the frames a server sends are typed here too so
 * that the chat role, the terminal client and the load generator share one
 * definition. docs/protocol.md documents every frame for client authors.
 */
import { z } from "zod";

export const PROTOCOL_VERSION = 2;
/** Subprotocol a client offers; a second one, `parley.auth.<token>`, may carry the token. */
export const SUBPROTOCOL = "parley.v1";
export const AUTH_SUBPROTOCOL_PREFIX = "parley.auth.";

export const MAX_FRAME_BYTES = 64 * 1024;
export const MAX_TEXT_CHARS = 4000;
export const MAX_GREETING_CHARS = 200;
export const MAX_HISTORY_LIMIT = 100;
export const DEFAULT_HISTORY_LIMIT = 50;
export const DEFAULT_SEARCH_LIMIT = 20;
/** Messages per `msg.sync` frame. */
export const SYNC_BATCH = 100;
/** Inbox entries per `msg.fetch` reply: the most, and the default. */
export const MAX_FETCH_LIMIT = 500;
export const DEFAULT_FETCH_LIMIT = 100;
/** A client-chosen device id: 1–64 of these characters (e.g. a UUID). */
export const DEVICE_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
export const MAX_DEVICE_LABEL_CHARS = 64;
/** This many invalid frames within INVALID_FRAMES_WINDOW_MS close the socket with 1008. */
export const MAX_INVALID_FRAMES = 10;
export const INVALID_FRAMES_WINDOW_MS = 60_000;

/** Length in Unicode code points (what a user counts as characters; an emoji is one). */
export function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** NUL (U+0000): the SQLite adapter would read such a text back cut short, so none is stored. */
const noNul = (s: string) => !s.includes("\0");
const NO_NUL = { message: "must not contain NUL (U+0000)" };

/**
 * Text a user typed: well-formed UTF-16 (no lone surrogates, which no
 * database could store), no NUL, at most `max` code points.
 */
const userText = (max: number) =>
  z.string()
    .refine((s) => s.isWellFormed(), { message: "must be valid Unicode (no lone surrogates)" })
    .refine(noNul, NO_NUL)
    .refine((s) => codePoints(s) <= max, { message: `must be at most ${max} characters` });

/** Close codes the server uses besides the standard ones. */
export const CLOSE = {
  /** Standard: the server is shutting down. */
  GOING_AWAY: 1001,
  /** Standard: a client kept sending invalid frames. */
  POLICY: 1008,
  /** Standard: a frame over MAX_FRAME_BYTES. */
  TOO_BIG: 1009,
  /** Standard: an internal error while starting the session; reconnect with backoff. */
  INTERNAL: 1011,
  /** Standard: the node is draining; log in again through the gate. */
  SERVICE_RESTART: 1012,
  /** Standard: too many unauthenticated sockets or the node is full; retry later. */
  TRY_AGAIN_LATER: 1013,
  /** The token was missing, invalid, expired or revoked. */
  AUTH_FAILED: 4001,
  /** No auth frame within the auth timeout. */
  AUTH_TIMEOUT: 4002,
  /** Another login of the same user replaced this session. */
  KICKED: 4003,
  /** No frame from the client for three heartbeat intervals. */
  HEARTBEAT_TIMEOUT: 4004,
  /** The client did not read: more than MAX_BUFFERED_BYTES of frames were waiting for it. */
  TOO_SLOW: 4005,
} as const;

/** Bytes of frames the server lets wait for a client that does not read, before closing 4005. */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

// --- frames a client sends ---

/** Request id: echoed in the reply. A string (1–64 chars) or a non-negative integer. */
const RequestId = z.union([z.string().min(1).max(64), z.number().int().nonnegative()]);
const UserId = z.number().int().positive();
const MessageId = z.number().int().positive();

const Seq = z.number().int().nonnegative();

export const AuthFrame = z.strictObject({
  type: z.literal("auth"),
  id: RequestId.optional(),
  token: z.string().min(1).max(4096),
  /** The client's device id, chosen once and kept (e.g. a UUID); by default one per token. */
  device: z.string().regex(DEVICE_ID, { message: "must be 1-64 of A-Z a-z 0-9 _ . : -" })
    .optional(),
  /** A name for the device the user recognises ("laptop"). */
  label: userText(MAX_DEVICE_LABEL_CHARS).optional(),
  /** A short session that is not announced: no presence, device, sync or live events. */
  quiet: z.boolean().optional(),
});
export const PingFrame = z.strictObject({ type: z.literal("ping"), id: RequestId.optional() });
export const UserSearchFrame = z.strictObject({
  type: z.literal("user.search"),
  id: RequestId,
  /** A name prefix, or an exact e-mail address. */
  query: userText(254).refine((s) => s.trim() !== "", { message: "must not be empty" }),
  limit: z.number().int().min(1).max(50).optional(),
  /** `next` from the previous page. */
  after: z.string().max(256).optional(),
});
export const FriendRequestFrame = z.strictObject({
  type: z.literal("friend.request"),
  id: RequestId,
  user_id: UserId,
  greeting: userText(MAX_GREETING_CHARS).optional(),
});
export const FriendRequestsFrame = z.strictObject({
  type: z.literal("friend.requests"),
  id: RequestId,
});
const friendAction = <T extends string>(type: T) =>
  z.strictObject({ type: z.literal(type), id: RequestId, user_id: UserId });
export const FriendAcceptFrame = friendAction("friend.accept");
export const FriendDeclineFrame = friendAction("friend.decline");
export const FriendCancelFrame = friendAction("friend.cancel");
export const FriendRemoveFrame = friendAction("friend.remove");
export const FriendListFrame = z.strictObject({ type: z.literal("friend.list"), id: RequestId });
export const MsgSendFrame = z.strictObject({
  type: z.literal("msg.send"),
  id: RequestId,
  to: UserId,
  /** 1–4000 code points, not only whitespace. */
  text: userText(MAX_TEXT_CHARS).refine((s) => s.trim() !== "", {
    message: "must not be empty or only whitespace",
  }),
  /** The client's own id for this message (1–64 chars): a retry with the same one is not stored twice. */
  client_id: z.string().min(1).max(64).refine((s) => s.isWellFormed(), {
    message: "must be valid Unicode",
  }).refine(noNul, NO_NUL),
});
export const MsgHistoryFrame = z.strictObject({
  type: z.literal("msg.history"),
  id: RequestId,
  with: UserId,
  before: MessageId.optional(),
  limit: z.number().int().min(1).max(MAX_HISTORY_LIMIT).optional(),
});
export const MsgAckFrame = z.strictObject({
  type: z.literal("msg.ack"),
  id: RequestId.optional(),
  /** This device holds every inbox entry up to this seq. */
  seq: Seq.optional(),
  /** The friend whose messages `delivered` and `read` are about (required with them). */
  peer: UserId.optional(),
  /** Every message from `peer` up to this id has reached the client. */
  delivered: MessageId.optional(),
  /** Every message from `peer` up to this id has been read (implies delivered). */
  read: MessageId.optional(),
});
export const MsgFetchFrame = z.strictObject({
  type: z.literal("msg.fetch"),
  id: RequestId,
  /** Inbox entries with a seq above this one. */
  after: Seq,
  limit: z.number().int().min(1).max(MAX_FETCH_LIMIT).optional(),
});
export const TypingFrame = z.strictObject({
  type: z.literal("typing"),
  /** Optional: only used to tie an error (e.g. not_friends) to this frame. */
  id: RequestId.optional(),
  to: UserId,
  /** false when the user stopped typing. */
  active: z.boolean().optional(),
});

export const ClientFrame = z.discriminatedUnion("type", [
  AuthFrame,
  PingFrame,
  UserSearchFrame,
  FriendRequestFrame,
  FriendRequestsFrame,
  FriendAcceptFrame,
  FriendDeclineFrame,
  FriendCancelFrame,
  FriendRemoveFrame,
  FriendListFrame,
  MsgSendFrame,
  MsgHistoryFrame,
  MsgAckFrame,
  MsgFetchFrame,
  TypingFrame,
]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export type ClientFrameType = ClientFrame["type"];
export const CLIENT_FRAME_TYPES: readonly ClientFrameType[] = ClientFrame.options.map((o) =>
  o.shape.type.value
) as ClientFrameType[];

// --- what a server sends ---

/** Another user as others see them (no e-mail). */
export interface PublicUser {
  id: number;
  name: string;
  display_name: string;
}

/** The logged-in user themself. */
export interface SelfUser extends PublicUser {
  email: string;
  bio: string;
  created_at: number;
  /**
   * Whether user.search by this exact e-mail finds the user (off unless they
   * opt in). Always sent; optional for a user saved by an older client.
   */
  findable_by_email?: boolean;
}

export interface WireMessage {
  id: number;
  from: number;
  to: number;
  text: string;
  client_id: string;
  /** Server time the message was stored, Unix ms. */
  sent_at: number;
  /**
   * The message's place in the inbox of the user it is sent to (msg.sync,
   * msg.new, msg.fetch, the msg.send result); absent in msg.history.
   */
  seq?: number;
}

export interface WireFriend {
  user: PublicUser;
  online: boolean;
  /** Unix ms of the friend's last session end; null if online or never seen. */
  last_seen: number | null;
  /** When the friendship was made, Unix ms. */
  since: number;
  /** Messages from this friend the user has not read. */
  unread: number;
}

export interface WireFriendRequest {
  from: PublicUser;
  to: PublicUser;
  greeting: string;
  created_at: number;
}

export interface UnreadEntry {
  user_id: number;
  count: number;
  last_id: number;
}

/** Reply to a request, carrying its id back. */
export interface ResultFrame<T = unknown> {
  type: "result";
  id: string | number;
  data: T;
}

export interface ErrorFrame {
  type: "error";
  /** The request's id, or null when the frame could not be read. */
  id: string | number | null;
  error: {
    code: string;
    message: string;
    /** With `rate_limited`: ms to wait before sending again. */
    retry_after_ms?: number;
  };
}

/**
 * What each request's `data` holds. `auth` is answered by the `welcome`
 * event (or an error and a close) and `ping` by a `pong` event.
 */
export interface ResultData {
  "user.search": { users: PublicUser[]; next: string | null };
  "friend.request": { status: "sent" | "already_sent" | "accepted"; user: PublicUser };
  "friend.requests": { incoming: WireFriendRequest[]; outgoing: WireFriendRequest[] };
  "friend.accept": { friend: WireFriend };
  "friend.decline": Record<string, never>;
  "friend.cancel": Record<string, never>;
  "friend.remove": Record<string, never>;
  "friend.list": { friends: WireFriend[] };
  "msg.send": { message: WireMessage; duplicate: boolean };
  "msg.history": {
    messages: WireMessage[];
    /** True if older messages exist (pass the smallest id as `before`). */
    more: boolean;
    /** How far the peer has received and read the user's messages. */
    peer_delivered_id: number;
    peer_read_id: number;
  };
  /** `seq` when the ack had one; `delivered_id` and `read_id` when it named a peer. */
  "msg.ack": { seq?: number; delivered_id?: number; read_id?: number };
  "msg.fetch": { messages: WireMessage[]; head: number };
}

export type ServerEvent =
  | {
    type: "welcome";
    session_id: string;
    node: string;
    heartbeat_ms: number;
    user: SelfUser;
    /** Per friend: unread messages (including ones that arrived while offline). */
    unread: UnreadEntry[];
    /** Pending incoming friend requests. */
    pending_requests: number;
    protocol: number;
    /** This session's device; null for a quiet session. */
    device: { id: string; label: string } | null;
    /** The user's inbox head (the last seq assigned) now. */
    head: number;
    /** The device's cursor: the sync starts after it (null for a quiet session). */
    cursor: number | null;
    /** Present (true) for a quiet session. */
    quiet?: boolean;
  }
  | { type: "msg.sync"; messages: WireMessage[]; done: boolean }
  | { type: "msg.new"; message: WireMessage }
  | { type: "msg.status"; peer: number; delivered_id: number; read_id: number }
  | { type: "msg.read"; peer: number; read_id: number }
  | { type: "friend.request"; request: WireFriendRequest }
  | { type: "friend.accepted"; friend: WireFriend }
  | { type: "friend.declined"; user_id: number }
  | { type: "friend.cancelled"; user_id: number }
  | { type: "friend.removed"; user_id: number }
  | { type: "presence"; user_id: number; online: boolean; last_seen: number | null }
  | { type: "typing"; from: number; active: boolean }
  | { type: "pong"; id?: string | number; time: number; head?: number }
  | { type: "kicked"; reason: string }
  | {
    type: "reconnect";
    reason: string;
    /** Another live node to connect to with the same token, or null: ask the gate. */
    chat_url: string | null;
  };

export type ServerFrame = ResultFrame | ErrorFrame | ServerEvent;
