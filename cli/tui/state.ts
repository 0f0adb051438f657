/**
 * The chat screen's state and every change to it: friends with presence and
 * unread counts, one conversation per friend (messages deduplicated by id,
 * queued ones by client_id), receipts, notices, the input line. Changes are
 * plain functions on a plain object, so render.ts can draw any state and
 * tests can build one by hand.
 */
import type { PublicUser, ServerEvent, WireFriend, WireMessage } from "../../proto/protocol.ts";
import type { ConnState, OutboxItem } from "../lib/chat_client.ts";
import { sanitizeLine } from "../lib/sanitize.ts";
import { graphemes } from "../lib/width.ts";

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
  /** Receipts I have asked to send for the peer's messages. */
  acked_delivered: number;
  acked_read: number;
  /** Screen lines scrolled up from the bottom. */
  scroll: number;
}

export interface Notice {
  text: string;
  at: number;
}

export interface ChatState {
  me: PublicUser;
  conn: ConnState;
  peers: Peer[];
  selected: number | null;
  conversations: Map<number, Conversation>;
  input: string;
  /** Cursor position in the input, in grapheme clusters. */
  cursor: number;
  notices: Notice[];
  pending_requests: number;
  queued: number;
  /** The clock the screen is drawn at (ms). */
  now: number;
}

export function newState(me: PublicUser, now = Date.now()): ChatState {
  return {
    me,
    conn: { kind: "connecting", attempt: 0 },
    peers: [],
    selected: null,
    conversations: new Map(),
    input: "",
    cursor: 0,
    notices: [],
    pending_requests: 0,
    queued: 0,
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
      acked_delivered: 0,
      acked_read: 0,
      scroll: 0,
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

export function notify(s: ChatState, text: string): void {
  s.notices.push({ text: sanitizeLine(text), at: s.now });
  if (s.notices.length > 20) s.notices.shift();
}

function peerFrom(f: WireFriend): Peer {
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

const byName = (a: Peer, b: Peer) => a.name.localeCompare(b.name);

/** Replaces the friend list (from friend.list), keeping the selection. */
export function setFriends(s: ChatState, friends: WireFriend[]): void {
  s.peers = friends.map(peerFrom).sort(byName);
  if (s.selected === null || !peer(s, s.selected)) s.selected = s.peers[0]?.id ?? null;
}

/** Adds a message (live, synced, history or my own); false if it was already there. */
export function addMessage(s: ChatState, m: WireMessage): boolean {
  const mine = m.from === s.me.id;
  const other = mine ? m.to : m.from;
  const c = conversation(s, other);
  if (c.messages.some((x) => x.id === m.id)) return false;
  const line: ChatLine = { ...m, status: "stored" };
  const queued = mine ? c.messages.findIndex((x) => x.client_id === m.client_id) : -1;
  if (queued >= 0) c.messages.splice(queued, 1);
  // Stored messages in id order; queued ones stay at the end.
  let at = c.messages.length;
  while (at > 0 && (c.messages[at - 1].id === null || c.messages[at - 1].id! > m.id)) at--;
  c.messages.splice(at, 0, line);
  if (!mine && s.selected !== other) {
    const p = peer(s, other);
    if (p && m.id > c.acked_read) p.unread++;
  }
  return true;
}

/** A message I typed, shown at once and marked queued until the server stores it. */
export function addQueued(s: ChatState, item: OutboxItem): void {
  conversation(s, item.to).messages.push({
    id: null,
    client_id: item.client_id,
    from: s.me.id,
    to: item.to,
    text: item.text,
    sent_at: item.queued_at,
    status: "queued",
  });
}

export function markFailed(s: ChatState, item: OutboxItem, reason: string): void {
  const line = conversation(s, item.to).messages.find((x) => x.client_id === item.client_id);
  if (line) {
    line.status = "failed";
    line.error = reason;
  }
}

/** A page of history; older pages are merged in front. */
export function addHistory(
  s: ChatState,
  peerId: number,
  page: { messages: WireMessage[]; more: boolean; peer_delivered_id: number; peer_read_id: number },
  older: boolean,
): void {
  const c = conversation(s, peerId);
  for (const m of page.messages) addMessage(s, m);
  if (!older || !c.loaded) c.more = page.more;
  else c.more = page.more;
  c.loaded = true;
  c.peer_delivered = Math.max(c.peer_delivered, page.peer_delivered_id);
  c.peer_read = Math.max(c.peer_read, page.peer_read_id);
}

/**
 * Receipts to send now: delivered for everything received, read for the
 * open conversation. Records them as asked for and clears its unread count.
 */
export function dueAcks(s: ChatState): { peer: number; delivered?: number; read?: number }[] {
  const out: { peer: number; delivered?: number; read?: number }[] = [];
  for (const [peerId, c] of s.conversations) {
    let newest = 0;
    for (const m of c.messages) {
      if (m.from === peerId && m.id !== null) newest = Math.max(newest, m.id);
    }
    const ack: { peer: number; delivered?: number; read?: number } = { peer: peerId };
    if (newest > c.acked_delivered) ack.delivered = c.acked_delivered = newest;
    if (s.selected === peerId && newest > c.acked_read) {
      ack.read = c.acked_read = newest;
      const p = peer(s, peerId);
      if (p) p.unread = 0;
    }
    if (ack.delivered !== undefined || ack.read !== undefined) out.push(ack);
  }
  return out;
}

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

export function removePeer(s: ChatState, id: number): void {
  const i = s.peers.findIndex((p) => p.id === id);
  if (i < 0) return;
  s.peers.splice(i, 1);
  if (s.selected === id) s.selected = s.peers[Math.min(i, s.peers.length - 1)]?.id ?? null;
}

/** Moves the selection `delta` friends down (wrapping); returns the new peer id. */
export function moveSelection(s: ChatState, delta: number): number | null {
  if (s.peers.length === 0) return null;
  const i = s.peers.findIndex((p) => p.id === s.selected);
  const n = s.peers.length;
  const next = ((i < 0 ? 0 : i + delta) % n + n) % n;
  s.selected = s.peers[next].id;
  return s.selected;
}

// --- the input line (cursor counted in grapheme clusters) ---

export function insertText(s: ChatState, text: string): void {
  const g = graphemes(s.input);
  const add = graphemes(sanitizeLine(text));
  g.splice(s.cursor, 0, ...add);
  s.input = g.join("");
  s.cursor += add.length;
}

export function editInput(
  s: ChatState,
  op: "backspace" | "delete" | "left" | "right" | "home" | "end" | "kill" | "word",
): void {
  const g = graphemes(s.input);
  switch (op) {
    case "backspace":
      if (s.cursor > 0) g.splice(--s.cursor, 1);
      break;
    case "delete":
      g.splice(s.cursor, 1);
      break;
    case "left":
      s.cursor = Math.max(0, s.cursor - 1);
      break;
    case "right":
      s.cursor = Math.min(g.length, s.cursor + 1);
      break;
    case "home":
      s.cursor = 0;
      break;
    case "end":
      s.cursor = g.length;
      break;
    case "kill":
      g.splice(0, s.cursor);
      s.cursor = 0;
      break;
    case "word": {
      let i = s.cursor;
      while (i > 0 && g[i - 1] === " ") i--;
      while (i > 0 && g[i - 1] !== " ") i--;
      g.splice(i, s.cursor - i);
      s.cursor = i;
      break;
    }
  }
  s.input = g.join("");
}

/** Takes the input line (for Enter) and clears it. */
export function takeInput(s: ChatState): string {
  const text = s.input;
  s.input = "";
  s.cursor = 0;
  return text;
}
