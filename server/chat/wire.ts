/**
 * Conversions from the store's records to the client protocol's wire
 * objects. The one place that decides what another user may see of a user
 * (never the e-mail) and how times are sent (Unix ms).
 */
import type {
  PublicUser,
  SelfUser,
  ServerEvent,
  WireFriend,
  WireFriendRequest,
  WireMessage,
} from "../../proto/protocol.ts";
import type { Friend, FriendRequest, InboxEntry, Message, User } from "../store/types.ts";

export function publicUser(u: User): PublicUser {
  return { id: u.id, name: u.name, display_name: u.displayName };
}

export function selfUser(u: User): SelfUser {
  return {
    ...publicUser(u),
    email: u.email,
    bio: u.bio,
    created_at: u.createdAt,
    findable_by_email: u.findableByEmail,
  };
}

export function wireMessage(m: Message): WireMessage {
  return {
    id: m.id,
    from: m.senderId,
    to: m.recipientId,
    text: m.text,
    client_id: m.clientId,
    sent_at: m.createdAt,
  };
}

/** An inbox entry: its message, with the entry's seq. */
export function wireEntry(e: InboxEntry): WireMessage {
  const w = wireMessage(e.message);
  w.seq = e.seq;
  return w;
}

/**
 * A message encoded with wireMessage() (no seq), with `seq` added: the
 * copies of one message for the sender's and the recipient's inboxes
 * differ only there, so the message is encoded once for both.
 */
export function withSeq(wireJson: string, seq: number): string {
  return `${wireJson.slice(0, -1)},"seq":${seq}}`;
}

export function wireFriend(f: Friend, online: boolean, unread: number): WireFriend {
  return {
    user: publicUser(f.user),
    online,
    last_seen: online ? null : f.user.lastSeenAt,
    since: f.since,
    unread,
  };
}

/** `users` must hold both ends of the request; a missing one reads as a deleted user. */
export function wireRequest(r: FriendRequest, users: Map<number, User>): WireFriendRequest {
  const show = (id: number): PublicUser => {
    const u = users.get(id);
    return u ? publicUser(u) : { id, name: "", display_name: "" };
  };
  return { from: show(r.fromId), to: show(r.toId), greeting: r.greeting, created_at: r.createdAt };
}

/**
 * The `msg.new` event for a message already encoded with wireMessage():
 * built around that JSON so a message is encoded once for its ack, its
 * local push and its Deliver to another node.
 */
export function msgNewJson(wireJson: string): string {
  return MSG_NEW_PREFIX + wireJson.slice(1) + "}";
}

const MSG_NEW_PREFIX = '{"type":"msg.new","message":{';
/** What readEvent() says of any msg.new (only its type is read). */
const MSG_NEW = { type: "msg.new" } as ServerEvent;
const MSG_NEW_REF = /^\{"type":"msg\.new","message":\{"id":(\d+),"from":(\d+),/;

/** The id and sender of the message a msg.new built by msgNewJson() carries, read without parsing it. */
export function readMessageRef(json: string): { id: number; from: number } | null {
  const m = MSG_NEW_REF.exec(json);
  return m ? { id: Number(m[1]), from: Number(m[2]) } : null;
}

/**
 * The type of a pre-encoded frame, for the checks a session makes before
 * it pushes one; a msg.new built by msgNewJson() is read without parsing
 * it. Null if it is not JSON.
 */
export function readEvent(json: string): ServerEvent | null {
  if (json.startsWith(MSG_NEW_PREFIX)) return MSG_NEW;
  try {
    const v = JSON.parse(json);
    return typeof v?.type === "string" ? v : null;
  } catch {
    return null;
  }
}
