/**
 * The chat screen's bottom lines: the status line (lasting state only: who
 * you are, the connection, queued messages, friend requests, which other
 * conversations have unread messages, and the key hint), the notice line
 * above it while a transient notice is fresh, and the input area (one line,
 * growing to a few for a multi-line message, scrolled sideways to keep the
 * cursor in view).
 */
import { sanitizeLine } from "../lib/sanitize.ts";
import { graphemes, sliceCols, width } from "../lib/width.ts";
import type { Part } from "./render_parts.ts";
import { activity, type ChatState } from "./state.ts";

/** How long a notice stays on screen. */
export const NOTICE_MS = 8000;
/** The most rows the input area grows to for a multi-line message. */
export const MAX_INPUT_ROWS = 5;
export const KEY_HINT: Part[] = [{ text: "F1/? help ", style: ["dim"] }];

/** Kick reasons after which reconnecting cannot work: the token was revoked. */
export const FINAL_KICKS = new Set(["logged out", "password reset", "password changed"]);

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
        const why = sanitizeLine(c.reason);
        return FINAL_KICKS.has(c.reason)
          ? { text: `○ ${why} — quit and run \`parley login\``, style: ["red"] }
          : { text: `○ ${why} — Ctrl-R reconnects`, style: ["red"] };
      }
      if (c.code.startsWith("token")) {
        return { text: "○ session ended — quit and run `parley login`", style: ["red"] };
      }
      return { text: "○ offline", style: ["red"] };
  }
}

/** The status line's parts (the key hint is added on the right by the caller). */
export function statusParts(s: ChatState, narrow: boolean): Part[] {
  const parts: Part[] = [{ text: ` ${sanitizeLine(s.me.name)} · ` }, connText(s)];
  const sep = { text: " · " };
  if (s.queued > 0) parts.push(sep, { text: `${s.queued} queued`, style: ["yellow"] });
  if (s.pending_requests > 0) {
    const n = s.pending_requests;
    parts.push(sep, { text: `${n} friend request${n === 1 ? "" : "s"}`, style: ["yellow"] });
  }
  const busy = activity(s);
  if (busy.length > 0) {
    const total = busy.reduce((n, p) => n + p.unread, 0);
    parts.push(sep, {
      text: narrow
        ? `${total} unread`
        : `unread: ${busy.map((p) => `${sanitizeLine(p.name)} ${p.unread}`).join(", ")}`,
      style: ["yellow", "bold"],
    });
  }
  return parts;
}

/** The newest notice while it is fresh, else null. */
export function noticeParts(s: ChatState): Part[] | null {
  const notice = s.notices.at(-1);
  if (!notice || s.now - notice.at >= NOTICE_MS) return null;
  return [{ text: " » ", style: ["dim"] }, { text: notice.text }];
}

/** How many rows the input area takes for the current input. */
export function inputRows(s: ChatState, rows: number): number {
  const lines = s.input.split("\n").length;
  return Math.max(1, Math.min(lines, MAX_INPUT_ROWS, rows - 3));
}

const PROMPT = "> ";

/**
 * The input area: `rows` lines of the input around the cursor's line, the
 * cursor's line scrolled sideways so the cursor stays visible; and where
 * the cursor is (row within the area, column).
 */
export function inputView(
  s: ChatState,
  cols: number,
  rows: number,
): { lines: Part[][]; cursorRow: number; cursorCol: number } {
  const all = s.input.split("\n");
  const before = graphemes(s.input).slice(0, s.cursor).join("");
  const line = before.split("\n").length - 1;
  const beforeW = width(before.slice(before.lastIndexOf("\n") + 1));
  const first = Math.max(0, Math.min(line - rows + 1, all.length - rows));
  const room = Math.max(1, cols - width(PROMPT) - 1);
  const lines: Part[][] = [];
  let cursorCol = 0;
  for (let i = first; i < Math.min(all.length, first + rows); i++) {
    const lead: Part = i === 0
      ? { text: PROMPT, style: ["bold"] }
      : { text: i === first ? "… " : "  ", style: ["dim"] };
    const start = i === line ? Math.max(0, beforeW - room) : 0;
    if (i === line) cursorCol = width(PROMPT) + beforeW - start;
    lines.push([lead, { text: sliceCols(all[i], start, room) }]);
  }
  return { lines, cursorRow: line - first, cursorCol };
}
