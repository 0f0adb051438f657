/**
 * Terminal cell widths: how many columns a string takes (CJK and most emoji
 * take two, combining marks none), and the cutting, padding and wrapping
 * built on it. Text is handled one grapheme cluster at a time, so a wide
 * character or an emoji sequence is never split across a cut or a line.
 * Input must already be sanitized (no control characters).
 */
import stringWidth from "string-width";

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const cache = new Map<string, number>();

/** The grapheme clusters of `text`, in order. */
export function graphemes(text: string): string[] {
  const out: string[] = [];
  for (const { segment } of segmenter.segment(text)) out.push(segment);
  return out;
}

/** Columns one grapheme cluster takes. */
export function graphemeWidth(g: string): number {
  // ASCII is by far the common case.
  if (g.length === 1 && g.charCodeAt(0) < 0x7f) return g.charCodeAt(0) >= 0x20 ? 1 : 0;
  const known = cache.get(g);
  if (known !== undefined) return known;
  // Typed by hand: without the lockfile (deno task compile) a newer release of
  // string-width's dependency can make its declared type looser.
  const w: number = Number(stringWidth(g)) || 0;
  if (cache.size > 10_000) cache.clear();
  cache.set(g, w);
  return w;
}

/** Columns `text` takes on a terminal. */
export function width(text: string): number {
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  let w = 0;
  for (const g of graphemes(text)) w += graphemeWidth(g);
  return w;
}

/** The longest start of `text` that fits in `cols` columns. */
export function cut(text: string, cols: number): string {
  if (cols <= 0) return "";
  let w = 0;
  let out = "";
  for (const g of graphemes(text)) {
    const gw = graphemeWidth(g);
    if (w + gw > cols) break;
    out += g;
    w += gw;
  }
  return out;
}

/** `text` cut to `cols` columns, ending in "…" when something was cut off. */
export function truncate(text: string, cols: number): string {
  if (width(text) <= cols) return text;
  if (cols <= 0) return "";
  return cut(text, cols - 1) + "…";
}

/** `text` fitted to exactly `cols` columns: cut with "…" or padded with spaces. */
export function fit(text: string, cols: number): string {
  const t = truncate(text, cols);
  return t + " ".repeat(Math.max(0, cols - width(t)));
}

/** `text` padded on the left to `cols` columns (for right-aligned numbers). */
export function padStart(text: string, cols: number): string {
  return " ".repeat(Math.max(0, cols - width(text))) + text;
}

/**
 * Word-wraps one line of text into lines of at most `cols` columns. Breaks
 * at spaces where it can and inside a word only when the word is longer
 * than a line; a grapheme wider than `cols` is shown as "?" rather than
 * overflowing.
 */
export function wrap(text: string, cols: number): string[] {
  if (cols <= 0) return [];
  const lines: string[] = [];
  let line = "";
  let lineW = 0;
  // Words keep their trailing spaces; trailing spaces at a break are dropped.
  const words = text.match(/\S+\s*|\s+/g) ?? [""];
  for (const word of words) {
    const bare = word.trimEnd();
    const bareW = width(bare);
    if (lineW + bareW <= cols) {
      line += word;
      lineW += width(word);
      continue;
    }
    if (bareW <= cols && line !== "") {
      lines.push(line.trimEnd());
      line = word;
      lineW = width(word);
      continue;
    }
    // A word longer than a line: fill the line, then break inside the word.
    for (const g of graphemes(word)) {
      let gw = graphemeWidth(g);
      let shown = g;
      if (gw > cols) [shown, gw] = ["?", 1];
      if (lineW + gw > cols) {
        lines.push(line.trimEnd());
        line = "";
        lineW = 0;
      }
      if (line === "" && shown.trim() === "") continue;
      line += shown;
      lineW += gw;
    }
  }
  lines.push(line.trimEnd());
  // A line can still be wider than cols only through trailing spaces, trimmed above.
  return lines;
}

/**
 * The part of `text` between columns `start` and `start + cols`, for a line
 * scrolled sideways; a wide grapheme cut by either edge becomes spaces.
 */
export function sliceCols(text: string, start: number, cols: number): string {
  let col = 0;
  let out = "";
  let outW = 0;
  for (const g of graphemes(text)) {
    const gw = graphemeWidth(g);
    const end = col + gw;
    if (end <= start) {
      col = end;
      continue;
    }
    if (col < start) {
      const visible = Math.min(end - start, cols);
      out += " ".repeat(visible);
      outW += visible;
    } else if (outW + gw <= cols) {
      out += g;
      outW += gw;
    } else {
      out += " ".repeat(cols - outW);
      outW = cols;
    }
    col = end;
    if (outW >= cols) break;
  }
  return out;
}
