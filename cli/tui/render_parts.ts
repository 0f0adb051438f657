/**
 * The pieces the chat screen's renderer builds lines from: a run of text
 * with styles (`Part`), cutting or padding runs to an exact width, and
 * turning them into SGR sequences. Three modes: colour, mono (NO_COLOR:
 * bold, dim and reverse video stay, as the NO_COLOR convention allows),
 * and plain text (tests).
 */
import { truncate, width } from "../lib/width.ts";

export type Style =
  | "bold"
  | "dim"
  | "reverse"
  | "green"
  | "yellow"
  | "red"
  | "cyan"
  | "blue"
  | "magenta";

const SGR: Record<Style, string> = {
  bold: "1",
  dim: "2",
  reverse: "7",
  green: "32",
  yellow: "33",
  red: "31",
  cyan: "36",
  blue: "34",
  magenta: "35",
};
/** What NO_COLOR keeps: attributes, not colours. */
const MONO = new Set<Style>(["bold", "dim", "reverse"]);

export type PaintMode = "color" | "mono" | "plain";

export interface Part {
  text: string;
  style?: Style[];
}

export const partsWidth = (parts: Part[]) => parts.reduce((n, p) => n + width(p.text), 0);

/** Parts cut or padded to exactly `w` columns. */
export function fitParts(parts: Part[], w: number): Part[] {
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

/** `left` and, if there is room after it, `right` flush with the right edge: exactly `w` columns. */
export function withRight(left: Part[], right: Part[], w: number): Part[] {
  const room = w - partsWidth(left) - partsWidth(right);
  if (room < 1) return fitParts(left, w);
  return [...left, { text: " ".repeat(room) }, ...right];
}

export function paint(parts: Part[], mode: PaintMode, base: Style[] = []): string {
  if (mode === "plain") return parts.map((p) => p.text).join("");
  let out = "";
  for (const p of parts) {
    const styles = [...base, ...(p.style ?? [])].filter((s) => mode === "color" || MONO.has(s));
    const codes = styles.map((s) => SGR[s]);
    out += `\x1b[0${codes.length ? ";" + codes.join(";") : ""}m${p.text}`;
  }
  return out + "\x1b[0m";
}

const NICK_COLORS: Style[] = ["magenta", "blue", "yellow", "green", "red"];

/** A name's colour, the same every time (cyan is kept for "you"); bold in mono. */
export function nickStyle(name: string): Style[] {
  let h = 0;
  for (const ch of name.toLowerCase()) h = (h * 31 + ch.codePointAt(0)!) >>> 0;
  return ["bold", NICK_COLORS[h % NICK_COLORS.length]];
}
