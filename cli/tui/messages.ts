/**
 * The messages of the chat screen's conversations: adding live, synced,
 * historical and queued ones (deduplicated by id, queued ones by
 * client_id), receipts to send, the "new messages" line of a conversation
 * opened with unread messages, and searching a conversation.
 */
import type { WireMessage } from "../../proto/protocol.ts";
import type { OutboxItem } from "../lib/chat_client.ts";
import { type ChatLine, type ChatState, conversation, peer } from "./state.ts";

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
  // The first page says whether anything is older; an older page says whether more is.
  if (older || !c.loaded) c.more = page.more;
  c.loaded = true;
  c.peer_delivered = Math.max(c.peer_delivered, page.peer_delivered_id);
  c.peer_read = Math.max(c.peer_read, page.peer_read_id);
  placeNewLine(s, peerId);
}

/**
 * Opening a conversation: remembers how many of its messages are unread,
 * for the "new messages" line (placed once the history is there).
 */
export function openConversation(s: ChatState, peerId: number): void {
  const p = peer(s, peerId);
  const c = conversation(s, peerId);
  c.new_from = null;
  c.unread_at_open = p?.unread ?? 0;
  c.scroll = 0;
  placeNewLine(s, peerId);
}

/** Puts the "new messages" line before the first of the unread messages, if they are loaded. */
function placeNewLine(s: ChatState, peerId: number): void {
  const c = conversation(s, peerId);
  if (c.unread_at_open <= 0 || !c.loaded) return;
  const theirs = c.messages.filter((m) => m.from === peerId && m.id !== null);
  c.new_from = theirs[Math.max(0, theirs.length - c.unread_at_open)]?.id ?? null;
  c.unread_at_open = 0;
}

/** The newest message from `peerId` in its conversation (0 if none is loaded). */
export function newestFrom(s: ChatState, peerId: number): number {
  let newest = 0;
  for (const m of conversation(s, peerId).messages) {
    if (m.from === peerId && m.id !== null) newest = Math.max(newest, m.id);
  }
  return newest;
}

/**
 * Read receipts to send now: the open conversation, up to its newest
 * message. Records it as asked for and clears its unread count. (Delivered
 * receipts need none: the inbox's seq acks make them, chat_client.ts.)
 */
export function dueAcks(s: ChatState): { peer: number; read: number }[] {
  if (s.selected === null) return [];
  const c = conversation(s, s.selected);
  const newest = newestFrom(s, s.selected);
  if (newest <= c.acked_read) return [];
  c.acked_read = newest;
  const p = peer(s, s.selected);
  if (p) p.unread = 0;
  return [{ peer: s.selected, read: newest }];
}

/**
 * Messages from `peerId` up to `readId` were read on another device of
 * mine (msg.read): nothing to ack for them here, and the unread count
 * drops to what is newer (zero when nothing newer is loaded).
 */
export function readElsewhere(s: ChatState, peerId: number, readId: number): void {
  const c = conversation(s, peerId);
  c.acked_read = Math.max(c.acked_read, readId);
  const p = peer(s, peerId);
  if (!p) return;
  const newer = c.messages.filter((m) => m.from === peerId && m.id !== null && m.id > readId);
  p.unread = Math.min(p.unread, newer.length);
}

/** Searches the loaded messages of the open conversation (case-insensitive); null query clears. */
export function search(s: ChatState, query: string | null): void {
  if (s.selected === null || !query?.trim()) {
    s.search = null;
    return;
  }
  const q = query.trim().toLowerCase();
  const c = conversation(s, s.selected);
  const hits = c.messages.filter((m) => m.id !== null && m.text.toLowerCase().includes(q))
    .map((m) => m.id!);
  s.search = { peer: s.selected, query: query.trim(), hits };
}
