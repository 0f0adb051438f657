/**
 * Draws the chat screen as a pure function of its state and the terminal
 * size: `render(state, {cols, rows})` returns exactly `rows` lines, each
 * exactly `cols` columns wide (wide characters counted as two and never
 * split), optionally with SGR styles. All text from other users is
 * sanitized before it gets here or on the way through.
 *
 *   header:  Friends            │ bob (Bob) · online
 *   body:    ›● bob           2 │ 12:03 bob: hello
 *             ○ carol           │ 12:04 you: hi ✓✓
 *   notice:  » carol: are you there?          (while fresh)
 *   status:  alice · ● connected · unread: carol 1         F1/? help
 *   input:   > typed text_
 *
 * Below 50 columns the friend list is hidden and the header names the open
 * conversation with its position (‹ bob › 1/3). F1 or ? puts the list of
 * keys over the body.
 */
import { ago } from "../lib/format.ts";
import { sanitizeLine } from "../lib/sanitize.ts";
import { truncate, width } from "../lib/width.ts";
import { helpLines } from "./help.ts";
import { conversationBody, messageBlock } from "./render_conversation.ts";
import {
  fitParts,
  paint,
  type PaintMode,
  type Part,
  type Style,
  withRight,
} from "./render_parts.ts";
import { inputRows, inputView, KEY_HINT, noticeParts, statusParts } from "./render_status.ts";
import { type ChatState, type Peer, selectedPeer } from "./state.ts";

export interface Size {
  cols: number;
  rows: number;
  /** true: colours; "mono": bold, dim and reverse only (NO_COLOR); false (default): plain text. */
  color?: boolean | "mono";
}

/** Below this many columns the friend list is hidden. */
export const NARROW_COLS = 50;

function layout(s: ChatState, size: Size) {
  const narrow = size.cols < NARROW_COLS;
  const leftW = narrow ? 0 : Math.min(28, Math.max(16, Math.floor(size.cols * 0.28)));
  const mainW = narrow ? size.cols : size.cols - leftW - 1;
  const input = inputRows(s, size.rows);
  const notice = size.rows >= 6 ? noticeParts(s) : null;
  const bodyRows = Math.max(0, size.rows - 2 - input - (notice ? 1 : 0));
  return { narrow, leftW, mainW, bodyRows, input, notice };
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

/** The friend list; before the first list arrives, the connection state instead of "no friends". */
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
  for (const p of s.peers.slice(first, first + room)) {
    out.push(friendRow(p, p.id === s.selected, w));
  }
  if (s.peers.length === 0 && room > 0) {
    const text = s.friends_loaded
      ? " (no friends yet)"
      : s.conn.kind === "connecting"
      ? " connecting…"
      : " (not connected)";
    out.push([{ text, style: ["dim"] }]);
  }
  while (out.length < room) out.push([]);
  if (footer && rows > 0) out.push(footer);
  return out;
}

/** Where the terminal cursor goes: in the input area. */
export function cursorAt(s: ChatState, size: Size): { row: number; col: number } {
  const rows = layout(s, size).input;
  const view = inputView(s, size.cols, rows);
  return {
    row: Math.max(0, size.rows - rows + view.cursorRow),
    col: Math.min(size.cols - 1, view.cursorCol),
  };
}

/** How far the open conversation can scroll up at this size (so PgUp stops at the top). */
export function maxScroll(s: ChatState, size: Size): number {
  const c = s.selected === null ? undefined : s.conversations.get(s.selected);
  if (!c) return 0;
  const { mainW, bodyRows } = layout(s, size);
  return Math.max(0, messageBlock(s, c, mainW, Infinity).length - bodyRows);
}

const paintMode = (color: Size["color"]): PaintMode =>
  color === "mono" ? "mono" : color ? "color" : "plain";

export function render(s: ChatState, size: Size): string[] {
  const { cols, rows } = size;
  if (rows <= 0 || cols <= 0) return [];
  const mode = paintMode(size.color);
  const { narrow, leftW, mainW, bodyRows, input, notice } = layout(s, size);
  const line = (parts: Part[], base?: Style[]) => paint(fitParts(parts, cols), mode, base);

  const inputLines = inputView(s, cols, input).lines.map((l) => line(l));
  const statusLine = line(withRight(statusParts(s, narrow), KEY_HINT, cols), ["reverse"]);
  if (rows < 4) {
    // Too short for a conversation: keep the status and the input line.
    return [...Array(Math.max(0, rows - 2)).fill(" ".repeat(cols)), statusLine, inputLines.at(-1)!]
      .slice(-rows);
  }

  const out: string[] = [];
  const body = s.help ? { lines: helpLines(cols), anchored: false } : conversationBody(
    s,
    mainW,
    bodyRows,
  );
  // Messages stick to the bottom, as in every chat.
  const padded = body.anchored && body.lines.length < bodyRows
    ? [...Array(bodyRows - body.lines.length).fill([]), ...body.lines]
    : body.lines;
  if (narrow || s.help) {
    out.push(line(s.help ? [{ text: " Parley help", style: ["bold"] }] : headerParts(s, true)));
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
  if (notice) out.push(line(notice, ["bold"]));
  out.push(statusLine, ...inputLines);
  return out;
}
