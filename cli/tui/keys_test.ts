import assert from "node:assert/strict";
import { parseKeys } from "./keys.ts";

Deno.test("parseKeys() reads text, Enter and Backspace", () => {
  assert.deepEqual(parseKeys("hi 日本\r\x7f").keys, [
    { name: "text", text: "hi 日本" },
    { name: "enter" },
    { name: "backspace" },
  ]);
});

Deno.test("parseKeys() reads arrows, paging, Home/End and Shift-Tab in both CSI and SS3 form", () => {
  assert.deepEqual(
    parseKeys("\x1b[A\x1bOB\x1b[5~\x1b[6~\x1b[H\x1b[4~\x1b[Z\x1b[3~\t").keys.map((k) => k.name),
    ["up", "down", "pageup", "pagedown", "home", "end", "backtab", "delete", "tab"],
  );
});

Deno.test("parseKeys() names Ctrl combinations by their letter", () => {
  assert.deepEqual(parseKeys("\x03\x04\x0e\x10").keys, [
    { name: "ctrl", key: "c" },
    { name: "ctrl", key: "d" },
    { name: "ctrl", key: "n" },
    { name: "ctrl", key: "p" },
  ]);
});

Deno.test("parseKeys() keeps an unfinished escape sequence for the next chunk", () => {
  const first = parseKeys("a\x1b[");
  assert.deepEqual(first.keys, [{ name: "text", text: "a" }]);
  assert.equal(first.rest, "\x1b[");
  assert.deepEqual(parseKeys(first.rest + "B").keys, [{ name: "down" }]);
});

Deno.test("parseKeys() turns a bracketed paste into one text key, its line breaks as \\n", () => {
  assert.deepEqual(parseKeys("\x1b[200~line one\r\nline two\tend\x1b[201~\r").keys, [
    { name: "text", text: "line one\nline two end" },
    { name: "enter" },
  ]);
});

Deno.test("parseKeys() reads Ctrl-Up/Down, Alt keys, Alt-Enter and F1 in both forms", () => {
  assert.deepEqual(parseKeys("\x1b[1;5A\x1b[1;5B\x1bp\x1bN\x1b\r\x1bOP\x1b[11~\x1b[1;2A").keys, [
    { name: "ctrl-up" },
    { name: "ctrl-down" },
    { name: "alt", key: "p" },
    { name: "alt", key: "n" },
    { name: "alt", key: "enter" },
    { name: "f1" },
    { name: "f1" },
    { name: "up" },
  ]);
});
