/**
 * What each server event does to the chat screen's state: new and synced
 * messages (mine sent from my other devices too, filed under the friend
 * they went to), receipts, reads done on my other devices, presence,
 * typing, friend requests and friendships, and a draining node. Every name
 * or text from another user is sanitized.
 */
import type { ServerEvent } from "../../proto/protocol.ts";
import { sanitizeLine } from "../lib/sanitize.ts";
import { addMessage, readElsewhere } from "./messages.ts";
import {
  byName,
  type ChatState,
  conversation,
  notify,
  peer,
  peerFrom,
  removePeer,
} from "./state.ts";

/** Applies one server event; returns false for events the screen ignores. */
export function applyEvent(s: ChatState, e: ServerEvent): boolean {
  const who = (id: number) => sanitizeLine(peer(s, id)?.name ?? `user #${id}`);
  switch (e.type) {
    case "msg.new": {
      const fresh = addMessage(s, e.message);
      const from = e.message.from;
      const p = peer(s, from);
      if (p) p.typing_until = 0;
      if (fresh && from !== s.me.id && s.selected !== from) {
        notify(s, `${who(from)}: ${sanitizeLine(e.message.text)}`);
      }
      return true;
    }
    case "msg.sync":
      for (const m of e.messages) addMessage(s, m);
      return true;
    case "msg.read":
      readElsewhere(s, e.peer, e.read_id);
      return true;
    case "msg.status": {
      const c = conversation(s, e.peer);
      c.peer_delivered = Math.max(c.peer_delivered, e.delivered_id);
      c.peer_read = Math.max(c.peer_read, e.read_id);
      return true;
    }
    case "presence": {
      const p = peer(s, e.user_id);
      if (!p) return false;
      p.online = e.online;
      p.last_seen = e.last_seen;
      if (!e.online) p.typing_until = 0;
      return true;
    }
    case "typing": {
      const p = peer(s, e.from);
      if (!p) return false;
      p.typing_until = e.active ? s.now + 6000 : 0;
      return true;
    }
    default:
      return applyFriendEvent(s, e, who);
  }
}

function applyFriendEvent(s: ChatState, e: ServerEvent, who: (id: number) => string): boolean {
  switch (e.type) {
    case "friend.request":
      s.pending_requests++;
      notify(
        s,
        `${sanitizeLine(e.request.from.name)} wants to be friends` +
          (e.request.greeting ? ` ("${sanitizeLine(e.request.greeting)}")` : "") +
          ` — /accept ${sanitizeLine(e.request.from.name)}`,
      );
      return true;
    case "friend.accepted": {
      if (!peer(s, e.friend.user.id)) {
        s.peers.push(peerFrom(e.friend));
        s.peers.sort(byName);
      }
      s.selected ??= e.friend.user.id;
      notify(s, `you and ${sanitizeLine(e.friend.user.name)} are now friends`);
      return true;
    }
    case "friend.removed": {
      const name = who(e.user_id);
      removePeer(s, e.user_id);
      notify(s, `${name} removed you as a friend`);
      return true;
    }
    case "friend.declined":
      notify(s, `your friend request was declined`);
      return true;
    case "friend.cancelled":
      s.pending_requests = Math.max(0, s.pending_requests - 1);
      return true;
    case "reconnect":
      notify(s, `the chat node is going away; reconnecting`);
      return true;
    default:
      return false;
  }
}
