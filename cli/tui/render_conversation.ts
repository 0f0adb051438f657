/**
 * The open conversation's pane: messages as "HH:MM name: text" wrapped
 * with a hanging indent, receipts on my own (✓ delivered, ✓✓ read), a line
 * at each new day and a "new messages" line where the unread ones begin;
 * laid out from the newest back, anchored to the bottom, scrolled by whole
 * lines. Also the search results view and what the pane says when there is
 * no conversation to show (connecting, offline, no friends yet).
 */
import { clock } from "../lib/format.ts";
import { sanitizeLine, sanitizeLines } from "../lib/sanitize.ts";
import { truncate, width, wrap } from "../lib/width.ts";
import { nickStyle, type Part, partsWidth } from "./render_parts.ts";
import {
  type ChatLine,
  type ChatState,
  type Conversation,
  type Peer,
  selectedPeer,
} from "./state.ts";

function mark(s: ChatState, c: Conversation, m: ChatLine): Part | null {
  if (m.from !== s.me.id) return null;
  if (m.status === "queued") return { text: "[queued]", style: ["yellow"] };
  if (m.status === "failed") return { text: `[not sent: ${m.error ?? "error"}]`, style: ["red"] };
  if (m.id !== null && m.id <= c.peer_read) return { text: "✓✓", style: ["cyan", "bold"] };
  if (m.id !== null && m.id <= c.peer_delivered) return { text: "✓", style: ["dim"] };
  return null;
}

/** The screen lines of one message: "HH:MM name: text", wrapped with a hanging indent. */
export function messageLines(
  s: ChatState,
  c: Conversation,
  m: ChatLine,
  w: number,
  p?: Peer,
): Part[][] {
  const mine = m.from === s.me.id;
  const name = sanitizeLine(p?.name ?? "?");
  const who = mine ? "you" : truncate(name, 12);
  const prefix: Part[] = [
    { text: " " + clock(m.sent_at) + " ", style: ["dim"] },
    { text: who, style: mine ? ["cyan"] : nickStyle(name) },
    { text: ": " },
  ];
  const prefixW = partsWidth(prefix);
  const indent = prefixW <= w / 2 ? prefixW : Math.min(7, Math.max(1, w - 1));
  const textW = Math.max(1, w - indent);
  const wrapped = sanitizeLines(m.text).flatMap((l) => wrap(l, textW));
  const lines: Part[][] = wrapped.map((t, i) =>
    i === 0 && prefixW <= w / 2 ? [...prefix, { text: t }] : [{ text: " ".repeat(indent) + t }]
  );
  if (prefixW > w / 2) lines.unshift(prefix);
  const mk = mark(s, c, m);
  if (mk) {
    const last = lines[lines.length - 1];
    if (partsWidth(last) + 1 + width(mk.text) <= w) last.push({ text: " " }, mk);
    else lines.push([{ text: " ".repeat(Math.max(0, w - width(mk.text))) }, mk]);
  }
  return lines;
}

const dayOf = (ms: number) => new Date(ms).toDateString();

/** A centred rule with `label` in it. */
function rule(label: string, w: number, style: Part["style"]): Part[] {
  const side = Math.max(0, Math.floor((w - width(label)) / 2));
  return [{ text: "─".repeat(side) + label + "─".repeat(side), style }];
}

function dayLine(ms: number, w: number): Part[] {
  const d = new Date(ms);
  const label = ` ${d.toLocaleString("en", { weekday: "short" })} ${
    d.toLocaleString("en", { month: "short" })
  } ${d.getDate()} ${d.getFullYear()} `;
  return rule(label, w, ["dim"]);
}

/** The lines of the conversation's newest messages, at least `need` of them when there are. */
export function messageBlock(s: ChatState, c: Conversation, w: number, need: number): Part[][] {
  const p = selectedPeer(s);
  const lines: Part[][] = [];
  const today = dayOf(s.now);
  for (let i = c.messages.length - 1; i >= 0 && lines.length < need; i--) {
    const m = c.messages[i];
    const block = messageLines(s, c, m, w, p);
    if (m.id !== null && m.id === c.new_from) block.unshift(rule(" new messages ", w, ["yellow"]));
    const prev = c.messages[i - 1];
    if (prev ? dayOf(prev.sent_at) !== dayOf(m.sent_at) : dayOf(m.sent_at) !== today) {
      block.unshift(dayLine(m.sent_at, w));
    }
    lines.unshift(...block);
  }
  return lines;
}

/** What the pane says when no conversation can be shown, by connection state first. */
function emptyPane(s: ChatState): Part[][] {
  const dim = (text: string): Part[] => [{ text, style: ["dim"] }];
  if (!s.friends_loaded) {
    const c = s.conn;
    if (c.kind === "stopped") return [[{ text: " Not connected." }]];
    if (c.kind === "waiting") {
      const left = Math.max(0, Math.ceil((c.retryAt - s.now) / 1000));
      return [
        [{ text: " Cannot reach the chat server.", style: ["yellow"] }],
        dim(` ${sanitizeLine(c.reason)}`),
        dim(` Trying again in ${left}s — Ctrl-R tries now, Ctrl-C quits.`),
      ];
    }
    return [[{ text: " Connecting to the chat server…", style: ["yellow"] }]];
  }
  return [
    [{ text: " No conversation open." }],
    dim(" Add a friend:     /add NAME [greeting]"),
    dim(" Accept a request: /accept NAME"),
    dim(" All keys:         F1 or ?"),
  ];
}

/** The conversation pane; `anchored` when its lines belong at the bottom (messages). */
export function conversationBody(
  s: ChatState,
  w: number,
  rows: number,
): { lines: Part[][]; anchored: boolean } {
  const p = selectedPeer(s);
  if (!p) return { lines: emptyPane(s).slice(0, rows), anchored: false };
  if (s.search?.peer === p.id) return { lines: searchBody(s, w, rows), anchored: false };
  const c = s.conversations.get(p.id);
  if (!c || c.messages.length === 0) {
    const text = c?.loaded
      ? ` No messages with ${sanitizeLine(p.name)} yet — say hi!`
      : " loading…";
    return { lines: [[{ text, style: ["dim"] }]], anchored: false };
  }
  const lines = messageBlock(s, c, w, rows + Math.max(0, c.scroll));
  const scroll = Math.min(Math.max(0, c.scroll), Math.max(0, lines.length - rows));
  const view = lines.slice(Math.max(0, lines.length - rows - scroll), lines.length - scroll);
  if (scroll > 0 && view.length > 0) {
    view[view.length - 1] = [{ text: "  ↓ newer messages below (PgDn)", style: ["yellow"] }];
  }
  return { lines: view, anchored: true };
}

/** The search results: every loaded message that matches, newest at the bottom. */
function searchBody(s: ChatState, w: number, rows: number): Part[][] {
  const found = s.search!;
  const c = s.conversations.get(found.peer);
  const hits = new Set(found.hits);
  const n = found.hits.length;
  const head: Part[] = [{
    text: ` Search "${sanitizeLine(found.query)}": ${n} match${n === 1 ? "" : "es"}` +
      ` in the loaded messages — Esc closes`,
    style: ["bold", "reverse"],
  }];
  const lines: Part[][] = [];
  for (const m of c?.messages ?? []) {
    if (m.id !== null && hits.has(m.id)) lines.push(...messageLines(s, c!, m, w, selectedPeer(s)));
  }
  const room = Math.max(0, rows - 1);
  return [head, ...lines.slice(Math.max(0, lines.length - room))].slice(0, rows);
}
