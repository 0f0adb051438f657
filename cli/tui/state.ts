/**
 * The chat screen's state and the basic changes to it:
 * friends with presence and unread counts, one conversation per friend,
 * receipts, notices, the help overlay and the search view. Changes are
 * plain functions on a plain object, so render.ts can draw any state and
 * tests can build one by hand. Messages are added in messages.ts, server
 * events applied in events.ts, the input line edited in input.ts.
 */
import type { PublicUser, WireFriend } from "../../proto/protocol.ts";
import type { ConnState } from "../lib/chat_client.ts";
import { sanitizeLine } from "../lib/sanitize.ts";

export interface Peer {
  id: number;
  name: string;
  display_name: string;
  online: boolean;
  last_seen: number | null;
  unread: number;
  /** Until when (ms) the peer is shown as typing. */
  typing_until: number;
}

export interface ChatLine {
  /** Server id; null while queued. */
  id: number | null;
  client_id: string;
  from: number;
  to: number;
  text: string;
  sent_at: number;
  status: "queued" | "stored" | "failed";
  error?: string;
}

export interface Conversation {
  messages: ChatLine[];
  /** History was fetched from the server at least once. */
  loaded: boolean;
  /** Older messages exist on the server. */
  more: boolean;
  /** How far the peer has received / read my messages. */
  peer_delivered: number;
  peer_read: number;
  /** How far the peer's messages are read: acked here, or read on another device. */
  acked_read: number;
  /** Screen lines scrolled up from the bottom. */
  scroll: number;
  /** The first unread message when the conversation was opened: the "new messages" line. */
  new_from: number | null;
  /** Unread count at opening, until the history is there to place the line. */
  unread_at_open: number;
}

export interface Notice {
  text: string;
  at: number;
}

export interface Search {
  peer: number;
  query: string;
  /** Ids of the matching messages, oldest first. */
  hits: number[];
}

export interface ChatState {
  me: PublicUser;
  conn: ConnState;
  /** A friend list has arrived (until then the screen shows the connection, not "no friends"). */
  friends_loaded: boolean;
  peers: Peer[];
  selected: number | null;
  conversations: Map<number, Conversation>;
  input: string;
  /** Cursor position in the input, in grapheme clusters. */
  cursor: number;
  /** Lines sent before (newest last) and where Ctrl-Up/Alt-P is in them. */
  sent: string[];
  sent_at: number | null;
  /** The input as it was before browsing the sent lines. */
  draft: string;
  notices: Notice[];
  pending_requests: number;
  queued: number;
  help: boolean;
  search: Search | null;
  /** The clock the screen is drawn at (ms). */
  now: number;
}

export function newState(me: PublicUser, now = Date.now()): ChatState {
  return {
    me,
    conn: { kind: "connecting", attempt: 0 },
    friends_loaded: false,
    peers: [],
    selected: null,
    conversations: new Map(),
    input: "",
    cursor: 0,
    sent: [],
    sent_at: null,
    draft: "",
    notices: [],
    pending_requests: 0,
    queued: 0,
    help: false,
    search: null,
    now,
  };
}

export function conversation(s: ChatState, peer: number): Conversation {
  let c = s.conversations.get(peer);
  if (!c) {
    c = {
      messages: [],
      loaded: false,
      more: false,
      peer_delivered: 0,
      peer_read: 0,
      acked_read: 0,
      scroll: 0,
      new_from: null,
      unread_at_open: 0,
    };
    s.conversations.set(peer, c);
  }
  return c;
}

export function peer(s: ChatState, id: number): Peer | undefined {
  return s.peers.find((p) => p.id === id);
}

export function selectedPeer(s: ChatState): Peer | undefined {
  return s.selected === null ? undefined : peer(s, s.selected);
}

/** A transient notice: shown for a few seconds above the status line, which keeps lasting state. */
export function notify(s: ChatState, text: string): void {
  s.notices.push({ text: sanitizeLine(text), at: s.now });
  if (s.notices.length > 20) s.notices.shift();
}

/** Friends with unread messages, other than the open conversation: the activity list. */
export function activity(s: ChatState): Peer[] {
  return s.peers.filter((p) => p.id !== s.selected && p.unread > 0);
}

export function peerFrom(f: WireFriend): Peer {
  return {
    id: f.user.id,
    name: f.user.name,
    display_name: f.user.display_name,
    online: f.online,
    last_seen: f.last_seen,
    unread: f.unread,
    typing_until: 0,
  };
}

export const byName = (a: Peer, b: Peer) => a.name.localeCompare(b.name);

/** Replaces the friend list (from friend.list), keeping the selection. */
export function setFriends(s: ChatState, friends: WireFriend[]): void {
  s.peers = friends.map(peerFrom).sort(byName);
  s.friends_loaded = true;
  if (s.selected === null || !peer(s, s.selected)) s.selected = s.peers[0]?.id ?? null;
}

export function removePeer(s: ChatState, id: number): void {
  const i = s.peers.findIndex((p) => p.id === id);
  if (i < 0) return;
  s.peers.splice(i, 1);
  if (s.selected === id) s.selected = s.peers[Math.min(i, s.peers.length - 1)]?.id ?? null;
}

/**
 * Moves the selection `delta` friends down (wrapping); returns the new peer
 * id. Leaving a conversation drops its "new messages" line and any search.
 */
export function moveSelection(s: ChatState, delta: number): number | null {
  if (s.peers.length === 0) return null;
  const i = s.peers.findIndex((p) => p.id === s.selected);
  const n = s.peers.length;
  const next = ((i < 0 ? 0 : i + delta) % n + n) % n;
  if (s.selected !== null && s.peers[next].id !== s.selected) {
    conversation(s, s.selected).new_from = null;
    s.search = null;
  }
  s.selected = s.peers[next].id;
  return s.selected;
}
