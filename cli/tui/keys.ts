/**
 * Turns the bytes a terminal sends in raw mode into key presses: printable
 * text, Enter, arrows (and Ctrl-Up/Ctrl-Down), Page Up/Down, Home/End, Tab
 * and Shift-Tab, F1, Ctrl and Alt combinations (Alt-Enter too), and
 * bracketed paste (pasted text arrives as one piece with its line breaks
 * as "\n", so a paste never sends a half-typed message).
 */

export type Key =
  | { name: "text"; text: string }
  | {
    name:
      | "enter"
      | "backspace"
      | "delete"
      | "up"
      | "down"
      | "left"
      | "right"
      | "home"
      | "end"
      | "pageup"
      | "pagedown"
      | "tab"
      | "backtab"
      | "ctrl-up"
      | "ctrl-down"
      | "f1"
      | "escape";
  }
  | { name: "ctrl"; key: string }
  /** Alt (or Esc) then a key: "p", "n", "enter"... */
  | { name: "alt"; key: string };

const CSI_KEYS: Record<string, Key["name"]> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
  Z: "backtab",
  P: "f1",
};
/** CSI arrows with a Ctrl modifier (";5"). */
const CTRL_KEYS: Record<string, Key["name"]> = { A: "ctrl-up", B: "ctrl-down" };
const TILDE_KEYS: Record<string, Key["name"]> = {
  "1": "home",
  "7": "home",
  "4": "end",
  "8": "end",
  "3": "delete",
  "5": "pageup",
  "6": "pagedown",
  "11": "f1",
};

const PASTE_START = "\x1b[200~";
const PASTE_END = "\x1b[201~";

/**
 * Parses `input`; returns the keys and any unfinished escape sequence at the
 * end, to be prefixed to the next chunk.
 */
export function parseKeys(input: string): { keys: Key[]; rest: string } {
  const keys: Key[] = [];
  let text = "";
  const flush = () => {
    if (text) keys.push({ name: "text", text });
    text = "";
  };
  const push = (k: Key) => {
    flush();
    keys.push(k);
  };
  let i = 0;
  while (i < input.length) {
    const ch = input[i];
    if (input.startsWith(PASTE_START, i)) {
      const end = input.indexOf(PASTE_END, i + PASTE_START.length);
      if (end < 0) return { keys: (flush(), keys), rest: input.slice(i) };
      text += input.slice(i + PASTE_START.length, end).replace(/\r\n|\r/g, "\n").replace(
        /\t/g,
        " ",
      );
      i = end + PASTE_END.length;
      continue;
    }
    if (ch === "\x1b") {
      const next = input[i + 1];
      if (next === undefined) {
        push({ name: "escape" });
        i++;
        continue;
      }
      if (next === "[" || next === "O") {
        // CSI / SS3: parameters, then one final byte.
        let j = i + 2;
        while (j < input.length && /[0-9;?]/.test(input[j])) j++;
        if (j >= input.length) return { keys: (flush(), keys), rest: input.slice(i) };
        const final = input[j];
        const params = input.slice(i + 2, j);
        const ctrl = params.split(";")[1] === "5" ? CTRL_KEYS[final] : undefined;
        const name = ctrl ?? (final === "~" ? TILDE_KEYS[params.split(";")[0]] : CSI_KEYS[final]);
        if (name) push({ name } as Key);
        i = j + 1;
        continue;
      }
      // Alt+key (sent as Esc then the key); Alt-Enter is Esc then CR.
      push({ name: "alt", key: next === "\r" || next === "\n" ? "enter" : next.toLowerCase() });
      i += 2;
      continue;
    }
    if (ch === "\r" || ch === "\n") {
      push({ name: "enter" });
      // A terminal may send CR LF for one Enter.
      i += ch === "\r" && input[i + 1] === "\n" ? 2 : 1;
      continue;
    }
    if (ch === "\x7f" || ch === "\b") {
      push({ name: "backspace" });
      i++;
      continue;
    }
    if (ch === "\t") {
      push({ name: "tab" });
      i++;
      continue;
    }
    const code = ch.charCodeAt(0);
    if (code < 0x20) {
      push({ name: "ctrl", key: String.fromCharCode(code + 0x60) });
      i++;
      continue;
    }
    if (code >= 0x7f && code < 0xa0) {
      i++;
      continue;
    }
    text += ch;
    i++;
  }
  flush();
  return { keys, rest: "" };
}
