// deno-lint-ignore-file no-control-regex -- stripping control characters is the point
/**
 * Makes text that came over the network safe to print on a terminal. A
 * message, name or greeting is written by another user, so it must never
 * reach the terminal with an escape sequence in it: one could retitle the
 * window, move the cursor to fake a line, rewrite the clipboard (OSC 52) or
 * worse. Everything that is not printable text is removed.
 */

// ESC-introduced control strings (OSC, DCS, SOS, PM, APC) run up to BEL or
// ST; their 8-bit forms start with one C1 byte and end with ST (0x9c).
const ESC_STRING = /\x1b[\]PX^_][\s\S]*?(?:\x07|\x1b\\)/g;
const C1_STRING = /[\x90\x98\x9d\x9e\x9f][\s\S]*?(?:\x07|\x9c|\x1b\\)/g;
// CSI: ESC [ (or 0x9b), parameter bytes, intermediate bytes, one final byte.
const ESC_CSI = /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]/g;
// Any other escape: ESC, optional intermediates, one final byte (ESC c resets the terminal).
const ESC_OTHER = /\x1b[ -/]*[0-~]?/g;
// What is left: C0 controls, DEL, C1 controls, and the bidi overrides that can
// make a line read differently from what it holds.
const CONTROLS = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;
const NEWLINES = /\r\n|[\r\n\u2028\u2029\x0b\x0c\x85]/g;

function stripSequences(text: string): string {
  return text
    .replace(ESC_STRING, "")
    .replace(C1_STRING, "")
    .replace(ESC_CSI, "")
    .replace(ESC_OTHER, "");
}

/** One line of printable text: sequences dropped, tabs and line breaks become spaces. */
export function sanitizeLine(text: string): string {
  return stripSequences(text)
    .replace(NEWLINES, " ")
    .replace(/\t/g, " ")
    .replace(CONTROLS, "");
}

/** Printable text that keeps its line breaks (as "\n"), for message bodies. */
export function sanitizeText(text: string): string {
  return stripSequences(text)
    .replace(NEWLINES, "\n")
    .replace(/\t/g, "    ")
    .replace(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, "");
}

/** The lines of a message body, each safe to print. */
export function sanitizeLines(text: string): string[] {
  return sanitizeText(text).split("\n");
}
