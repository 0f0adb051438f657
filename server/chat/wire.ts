/**
 * Conversions from the store's records to the client protocol's wire
 * objects. The one place that decides what another user may see of a user
 * (never the e-mail) and how times are sent (Unix ms).
 */
import type {
  PublicUser,
  SelfUser,
  WireFriend,
  WireFriendRequest,
  WireMessage,
} from "../../proto/protocol.ts";
import type { Friend, FriendRequest, Message, User } from "../store/types.ts";

export function publicUser(u: User): PublicUser {
  return { id: u.id, name: u.name, display_name: u.displayName };
}

export function selfUser(u: User): SelfUser {
  return { ...publicUser(u), email: u.email, bio: u.bio, created_at: u.createdAt };
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
