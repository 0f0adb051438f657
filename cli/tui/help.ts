/**
 * Every key and command of the chat screen, in one list: the help overlay
 * (F1 or ?) draws it, /help opens it, and the README shows the same table.
 */
import type { Part } from "./render_parts.ts";

export const KEYS: [string, string][] = [
  ["Up/Down, Tab/Shift-Tab", "switch conversation (also Ctrl-N/Ctrl-P)"],
  ["Enter", "send the message"],
  ["Alt-Enter", "new line in the message"],
  ["Ctrl-Up/Ctrl-Down", "earlier/later sent lines (also Alt-P/Alt-N)"],
  ["Left/Right, Home/End", "move in the input (also Ctrl-A/Ctrl-E)"],
  ["Backspace, Delete", "edit; Ctrl-U clears to the start, Ctrl-W a word"],
  ["PgUp/PgDn", "scroll the conversation; PgUp at the top loads older"],
  ["F1 or ?", "this help (? when the input is empty)"],
  ["Esc", "close the help or the search results"],
  ["Ctrl-L", "redraw the screen"],
  ["Ctrl-R", "reconnect now"],
  ["Ctrl-C, Ctrl-D", "quit (Ctrl-D on an empty input)"],
];

export const COMMANDS: [string, string][] = [
  ["/add NAME [greeting]", "ask NAME to be your friend"],
  ["/accept NAME, /decline NAME", "answer a friend request"],
  ["/requests", "list pending friend requests"],
  ["/search TEXT", "find TEXT in the open conversation"],
  ["/help", "this help"],
  ["/quit", "quit"],
];

/** The help overlay's lines, for a pane `w` columns wide. */
export function helpLines(w: number): Part[][] {
  const keyW = Math.max(...[...KEYS, ...COMMANDS].map(([k]) => k.length));
  const row = ([k, what]: [string, string]): Part[] => [
    { text: "  " + k.padEnd(keyW + 2), style: ["bold"] },
    { text: what },
  ];
  const title = " Keys — any key closes this help";
  return [
    [{ text: title.slice(0, Math.max(0, w)), style: ["bold", "reverse"] }],
    ...KEYS.map(row),
    [{ text: " Commands (type them in the input line)", style: ["bold"] }],
    ...COMMANDS.map(row),
  ];
}
