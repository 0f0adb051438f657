// deno-lint-ignore-file no-control-regex -- stripping control characters is the point
import assert from "node:assert/strict";
import { sanitizeLine, sanitizeLines, sanitizeText } from "./sanitize.ts";

Deno.test("sanitizeLine() drops CSI sequences such as colours and cursor moves", () => {
  assert.equal(sanitizeLine("\x1b[31mred\x1b[0m \x1b[2J\x1b[10;20Hx"), "red x");
});

Deno.test("sanitizeLine() drops OSC strings ended by BEL or ST, e.g. a title or clipboard write", () => {
  assert.equal(sanitizeLine("a\x1b]0;evil title\x07b"), "ab");
  assert.equal(sanitizeLine("a\x1b]52;c;ZXZpbA==\x1b\\b"), "ab");
  assert.equal(sanitizeLine("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b"), "alinkb");
});

Deno.test("sanitizeLine() drops 8-bit C1 sequences and lone controls", () => {
  assert.equal(sanitizeLine("a\x9b31mb\x9d0;t\x9cc"), "abc");
  assert.equal(sanitizeLine("a\x00b\x07c\x08d\x7fe\x81f"), "abcdef");
  // NEL (0x85) is a line break: it becomes a space like "\n".
  assert.equal(sanitizeLine("a\x85b"), "a b");
});

Deno.test("sanitizeLine() drops DCS, APC and two-byte escapes like ESC c (reset)", () => {
  assert.equal(sanitizeLine("a\x1bP1$r\x1b\\b\x1b_apc\x1b\\c\x1bcd\x1b(Be"), "abcde");
});

Deno.test("sanitizeLine() turns line breaks and tabs into spaces and drops bidi overrides", () => {
  assert.equal(sanitizeLine("one\r\ntwo\nthree\tfour"), "one two three four");
  assert.equal(sanitizeLine("abc\u202edcba\u202c"), "abcdcba");
});

Deno.test("sanitizeLine() leaves CJK, emoji and accents alone", () => {
  const s = "日本語 👨‍👩‍👧 café 🇯🇵 한국어";
  assert.equal(sanitizeLine(s), s);
});

Deno.test("sanitizeText() keeps line breaks but nothing else", () => {
  assert.equal(sanitizeText("a\r\nb\x1b[1mc\nd"), "a\nbc\nd");
  assert.deepEqual(sanitizeLines("x\ny\x1b]0;t\x07"), ["x", "y"]);
});

Deno.test("an unterminated escape loses its ESC, so the rest prints as plain text", () => {
  const out = sanitizeLine("a\x1b]0;never ended");
  assert.doesNotMatch(out, /\x1b/);
  assert.ok(out.startsWith("a"));
});
