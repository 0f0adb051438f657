/**
 * Draws the chat screen as a pure function of its state and the terminal
 * size: `render(state, {cols, rows})` returns exactly `rows` lines, each
 * exactly `cols` columns wide (wide characters counted as two and never
 * split), optionally with SGR colours. All text from other users is
 * sanitized before it gets here or on the way through.
 *
 *   header:  Friends            │ bob (Bob) · online
 *   body:    ›● bob           2 │ 12:03 bob: hello
 *             ○ carol           │ 12:04 you: hi ✓✓
 *   status:  alice · connected · 1 friend request · carol: are you there?
 *   input:   > typed text_
 *
 * Below 50 columns the friend list is hidden and the header names the open
 * conversation with its position (‹ bob › 1/3).
 */
import { ago, clock } from "../lib/format.ts";
import { sanitizeLine, sanitizeLines } from "../lib/sanitize.ts";
import { sliceCols, truncate, width, wrap } from "../lib/width.ts";
import {
  type ChatLine,
  type ChatState,
  type Conversation,
  type Peer,
  selectedPeer,
} from "./state.ts";

export interface Size {
  cols: number;
  rows: number;
  /** Emit SGR colours (default false: plain text). */
  color?: boolean;
}

/** Below this many columns the friend list is hidden. */
export const NARROW_COLS = 50;
const NOTICE_MS = 30_000;

type Style = "bold" | "dim" | "reverse" | "green" | "yellow" | "red" | "cyan" | "blue";
const SGR: Record<Style, string> = {
  bold: "1",
  dim: "2",
  reverse: "7",
  green: "32",
  yellow: "33",
  red: "31",
  cyan: "36",
  blue: "34",
};

interface Part {
  text: string;
  style?: Style[];
}

/** Parts cut or padded to exactly `w` columns. */
function fitParts(parts: Part[], w: number): Part[] {
  const out: Part[] = [];
  let used = 0;
  for (const p of parts) {
    const pw = width(p.text);
    if (used + pw <= w) {
      out.push(p);
      used += pw;
      continue;
    }
    const t = truncate(p.text, w - used);
    out.push({ text: t, style: p.style });
    used += width(t);
    break;
  }
  if (used < w) out.push({ text: " ".repeat(w - used) });
  return out;
}

function paint(parts: Part[], color: boolean, base: Style[] = []): string {
  if (!color) return parts.map((p) => p.text).join("");
  let out = "";
  for (const p of parts) {
    const codes = [...base, ...(p.style ?? [])].map((s) => SGR[s]);
    out += `\x1b[0${codes.length ? ";" + codes.join(";") : ""}m${p.text}`;
  }
  return out + "\x1b[0m";
}

function layout(size: Size) {
  const narrow = size.cols < NARROW_COLS;
  const leftW = narrow ? 0 : Math.min(28, Math.max(16, Math.floor(size.cols * 0.28)));
  const mainW = narrow ? size.cols : size.cols - leftW - 1;
  const bodyRows = Math.max(0, size.rows - 3);
  return { narrow, leftW, mainW, bodyRows };
}

function peerStatus(p: Peer, now: number): Part {
  if (p.typing_until > now) return { text: "typing…", style: ["green"] };
  if (p.online) return { text: "online", style: ["green"] };
  return { text: p.last_seen ? `last seen ${ago(p.last_seen, now)}` : "offline", style: ["dim"] };
}

function label(p: Pick<Peer, "name" | "display_name">): string {
  const name = sanitizeLine(p.name);
  const display = sanitizeLine(p.display_name ?? "").trim();
  return display && display !== name ? `${name} (${display})` : name;
}

function headerParts(s: ChatState, narrow: boolean): Part[] {
  const p = selectedPeer(s);
  if (!p) return [{ text: " Parley", style: ["bold"] }];
  const parts: Part[] = [];
  if (narrow && s.peers.length > 1) {
    const i = s.peers.indexOf(p);
    parts.push({ text: " ‹ ", style: ["dim"] }, { text: label(p), style: ["bold"] }, {
      text: ` › ${i + 1}/${s.peers.length}`,
      style: ["dim"],
    });
  } else parts.push({ text: " " + label(p), style: ["bold"] });
  parts.push({ text: " · ", style: ["dim"] }, peerStatus(p, s.now));
  return parts;
}

function friendRow(p: Peer, selected: boolean, w: number): Part[] {
  const unread = p.unread > 0 ? ` ${p.unread > 99 ? "99+" : p.unread}` : "";
  const head: Part[] = [
    { text: selected ? "›" : " ", style: selected ? ["bold"] : [] },
    p.online ? { text: "●", style: ["green"] } : { text: "○", style: ["dim"] },
    { text: " " },
  ];
  const nameW = Math.max(1, w - 3 - width(unread) - 1);
  const name = truncate(sanitizeLine(p.name), nameW);
  return [
    ...head,
    { text: name, style: selected ? ["bold", "reverse"] : [] },
    { text: " ".repeat(Math.max(0, w - 3 - width(name) - width(unread))) },
    { text: unread, style: ["yellow", "bold"] },
  ];
}

function friendList(s: ChatState, w: number, rows: number): Part[][] {
  const out: Part[][] = [];
  const footer = s.pending_requests > 0
    ? [{
      text: ` ${s.pending_requests} friend request${s.pending_requests === 1 ? "" : "s"}`,
      style: ["yellow"] as Style[],
    }]
    : null;
  const room = Math.max(0, rows - (footer ? 1 : 0));
  const sel = Math.max(0, s.peers.findIndex((p) => p.id === s.selected));
  const first = Math.max(0, Math.min(sel - room + 1, s.peers.length - room));
  for (const p of s.peers.slice(Math.max(0, first), Math.max(0, first) + room)) {
    out.push(friendRow(p, p.id === s.selected, w));
  }
  if (s.peers.length === 0 && room > 0) out.push([{ text: " (no friends yet)", style: ["dim"] }]);
  while (out.length < room) out.push([]);
  if (footer && rows > 0) out.push(footer);
  return out;
}

function mark(s: ChatState, c: Conversation, m: ChatLine): Part | null {
  if (m.from !== s.me.id) return null;
  if (m.status === "queued") return { text: "[queued]", style: ["yellow"] };
  if (m.status === "failed") return { text: `[not sent: ${m.error ?? "error"}]`, style: ["red"] };
  if (m.id !== null && m.id <= c.peer_read) return { text: "✓✓", style: ["cyan", "bold"] };
  if (m.id !== null && m.id <= c.peer_delivered) return { text: "✓", style: ["dim"] };
  return null;
}

/** The screen lines of one message: "HH:MM name: text", wrapped with a hanging indent. */
function messageLines(s: ChatState, c: Conversation, m: ChatLine, w: number, p?: Peer): Part[][] {
  const mine = m.from === s.me.id;
  const who = mine ? "you" : truncate(sanitizeLine(p?.name ?? "?"), 12);
  const prefix: Part[] = [
    { text: " " + clock(m.sent_at) + " ", style: ["dim"] },
    { text: who, style: mine ? ["cyan"] : ["bold"] },
    { text: ": " },
  ];
  const prefixW = prefix.reduce((n, x) => n + width(x.text), 0);
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
    const used = last.reduce((n, x) => n + width(x.text), 0);
    if (used + 1 + width(mk.text) <= w) last.push({ text: " " }, mk);
    else lines.push([{ text: " ".repeat(Math.max(0, w - width(mk.text))) }, mk]);
  }
  return lines;
}

const dayOf = (ms: number) => new Date(ms).toDateString();

function dayLine(ms: number, w: number): Part[] {
  const d = new Date(ms);
  const text = ` ${d.toLocaleString("en", { weekday: "short" })} ${
    d.toLocaleString("en", { month: "short" })
  } ${d.getDate()} ${d.getFullYear()} `;
  const side = Math.max(0, Math.floor((w - width(text)) / 2));
  return [{ text: "─".repeat(side) + text + "─".repeat(side), style: ["dim"] }];
}

function conversationBody(s: ChatState, w: number, rows: number): Part[][] {
  const p = selectedPeer(s);
  if (!p) {
    const hints: Part[][] = [
      [{ text: " No conversation open." }],
      [{ text: " Add a friend:     /add NAME [greeting]", style: ["dim"] }],
      [{ text: " Accept a request: /accept NAME", style: ["dim"] }],
      [{ text: " Quit:             Ctrl-C", style: ["dim"] }],
    ];
    return hints.slice(0, rows);
  }
  const c = s.conversations.get(p.id);
  if (!c || c.messages.length === 0) {
    const text = c?.loaded
      ? ` No messages with ${sanitizeLine(p.name)} yet — say hi!`
      : " loading…";
    return [[{ text, style: ["dim"] }]];
  }
  // Lay out from the newest message back, only as far as the screen needs.
  const need = rows + Math.max(0, c.scroll);
  const lines: Part[][] = [];
  const today = dayOf(s.now);
  for (let i = c.messages.length - 1; i >= 0 && lines.length < need; i--) {
    const m = c.messages[i];
    const block = messageLines(s, c, m, w, p);
    const prev = c.messages[i - 1];
    if (prev ? dayOf(prev.sent_at) !== dayOf(m.sent_at) : dayOf(m.sent_at) !== today) {
      block.unshift(dayLine(m.sent_at, w));
    }
    lines.unshift(...block);
  }
  const scroll = Math.min(Math.max(0, c.scroll), Math.max(0, lines.length - rows));
  const view = lines.slice(Math.max(0, lines.length - rows - scroll), lines.length - scroll);
  if (scroll > 0 && view.length > 0) {
    view[view.length - 1] = [{ text: "  ↓ newer messages below (PgDn)", style: ["yellow"] }];
  }
  return view;
}

function connText(s: ChatState): Part {
  const c = s.conn;
  switch (c.kind) {
    case "connected":
      return { text: "● connected", style: ["green"] };
    case "connecting":
      return { text: c.attempt ? "reconnecting…" : "connecting…", style: ["yellow"] };
    case "waiting": {
      const left = Math.max(0, Math.ceil((c.retryAt - s.now) / 1000));
      return { text: `○ reconnecting in ${left}s`, style: ["yellow"] };
    }
    case "stopped":
      if (c.code === "kicked") {
        return { text: `○ ${sanitizeLine(c.reason)} — Ctrl-R reconnects`, style: ["red"] };
      }
      if (c.code.startsWith("token")) {
        return { text: "○ session ended — quit and run `parley login`", style: ["red"] };
      }
      return { text: "○ offline", style: ["red"] };
  }
}

function statusParts(s: ChatState, narrow: boolean): Part[] {
  const parts: Part[] = [{ text: ` ${sanitizeLine(s.me.name)} · ` }, connText(s)];
  const sep = { text: " · " };
  if (s.queued > 0) parts.push(sep, { text: `${s.queued} queued`, style: ["yellow"] });
  if (narrow) {
    const elsewhere = s.peers.filter((p) => p.id !== s.selected).reduce((n, p) => n + p.unread, 0);
    if (elsewhere > 0) parts.push(sep, { text: `${elsewhere} unread`, style: ["yellow"] });
  }
  if (s.pending_requests > 0) {
    const n = s.pending_requests;
    parts.push(sep, { text: `${n} friend request${n === 1 ? "" : "s"}`, style: ["yellow"] });
  }
  const notice = s.notices.at(-1);
  if (notice && s.now - notice.at < NOTICE_MS) parts.push(sep, { text: notice.text });
  return parts;
}

const PROMPT = "> ";

/** The input line's visible window and the cursor column in it. */
function inputView(s: ChatState, cols: number): { text: string; cursorCol: number } {
  const room = Math.max(1, cols - width(PROMPT) - 1);
  const before = width(
    [...new Intl.Segmenter().segment(s.input)].slice(0, s.cursor).map((x) => x.segment).join(""),
  );
  const start = Math.max(0, before - room);
  return { text: sliceCols(s.input, start, room), cursorCol: width(PROMPT) + before - start };
}

/** Where the terminal cursor goes: in the input line. */
export function cursorAt(s: ChatState, size: Size): { row: number; col: number } {
  return {
    row: Math.max(0, size.rows - 1),
    col: Math.min(size.cols - 1, inputView(s, size.cols).cursorCol),
  };
}

export function render(s: ChatState, size: Size): string[] {
  const { cols, rows } = size;
  const color = size.color ?? false;
  if (rows <= 0 || cols <= 0) return [];
  const { narrow, leftW, mainW, bodyRows } = layout(size);
  const line = (parts: Part[], base?: Style[]) => paint(fitParts(parts, cols), color, base);

  const input = inputView(s, cols);
  const inputLine = line([{ text: PROMPT, style: ["bold"] }, { text: input.text }]);
  const statusLine = line(statusParts(s, narrow), ["reverse"]);
  if (rows < 4) {
    // Too short for a conversation: keep the status and the input line.
    return [...Array(Math.max(0, rows - 2)).fill(" ".repeat(cols)), statusLine, inputLine]
      .slice(-rows);
  }

  const out: string[] = [];
  const body = conversationBody(s, mainW, bodyRows);
  // Messages stick to the bottom, as in every chat.
  const padded = body.length >= bodyRows || !selectedPeer(s) || body.length <= 1
    ? body
    : [...Array(bodyRows - body.length).fill([]), ...body];
  if (narrow) {
    out.push(line(headerParts(s, true)));
    for (let r = 0; r < bodyRows; r++) out.push(line(padded[r] ?? []));
  } else {
    const left = friendList(s, leftW, bodyRows);
    const sep: Part = { text: "│", style: ["dim"] };
    out.push(line([
      ...fitParts([{ text: " Friends", style: ["bold"] }], leftW),
      sep,
      ...fitParts(headerParts(s, false), mainW),
    ]));
    for (let r = 0; r < bodyRows; r++) {
      out.push(line([...fitParts(left[r] ?? [], leftW), sep, ...fitParts(padded[r] ?? [], mainW)]));
    }
  }
  out.push(statusLine, inputLine);
  return out;
}
