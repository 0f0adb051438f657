/**
 * The chat screen's input line: typing and editing (the cursor counted in
 * grapheme clusters), new lines inside a message (Alt-Enter), and the
 * history of sent lines (Ctrl-Up/Ctrl-Down or Alt-P/Alt-N), which keeps
 * the unsent draft to come back to.
 */
import { sanitizeText } from "../lib/sanitize.ts";
import { graphemes } from "../lib/width.ts";
import type { ChatState } from "./state.ts";

/** How many sent lines Ctrl-Up can bring back. */
export const SENT_KEPT = 100;

/** Inserts typed or pasted text at the cursor; a paste keeps its line breaks. */
export function insertText(s: ChatState, text: string): void {
  const g = graphemes(s.input);
  const add = graphemes(sanitizeText(text));
  g.splice(s.cursor, 0, ...add);
  s.input = g.join("");
  s.cursor += add.length;
}

/** A line break in the message being typed (Alt-Enter). */
export function insertNewline(s: ChatState): void {
  const g = graphemes(s.input);
  g.splice(s.cursor, 0, "\n");
  s.input = g.join("");
  s.cursor++;
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
      while (i > 0 && /\s/.test(g[i - 1])) i--;
      while (i > 0 && !/\s/.test(g[i - 1])) i--;
      g.splice(i, s.cursor - i);
      s.cursor = i;
      break;
    }
  }
  s.input = g.join("");
}

function setInput(s: ChatState, text: string): void {
  s.input = text;
  s.cursor = graphemes(text).length;
}

/** Takes the input line (for Enter), clears it and remembers it for Ctrl-Up. */
export function takeInput(s: ChatState): string {
  const text = s.input;
  if (text.trim() !== "" && s.sent.at(-1) !== text) {
    s.sent.push(text);
    if (s.sent.length > SENT_KEPT) s.sent.shift();
  }
  s.sent_at = null;
  s.draft = "";
  setInput(s, "");
  return text;
}

/** Ctrl-Up / Alt-P: the sent line before the one shown (the draft is kept). */
export function olderSent(s: ChatState): void {
  if (s.sent.length === 0) return;
  if (s.sent_at === null) {
    s.draft = s.input;
    s.sent_at = s.sent.length;
  }
  s.sent_at = Math.max(0, s.sent_at - 1);
  setInput(s, s.sent[s.sent_at]);
}

/** Ctrl-Down / Alt-N: the next sent line, and after the newest the draft again. */
export function newerSent(s: ChatState): void {
  if (s.sent_at === null) return;
  s.sent_at++;
  if (s.sent_at >= s.sent.length) {
    s.sent_at = null;
    setInput(s, s.draft);
  } else setInput(s, s.sent[s.sent_at]);
}
