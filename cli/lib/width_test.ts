import assert from "node:assert/strict";
import { cut, fit, graphemes, sliceCols, truncate, width, wrap } from "./width.ts";

Deno.test("width() counts CJK and emoji as two columns and combining marks as none", () => {
  assert.equal(width("abc"), 3);
  assert.equal(width("日本語"), 6);
  assert.equal(width("👍"), 2);
  assert.equal(width("👨‍👩‍👧"), 2);
  assert.equal(width("e\u0301"), 1);
  assert.equal(width("한국"), 4);
});

Deno.test("graphemes() keeps emoji sequences and flags whole", () => {
  assert.deepEqual(graphemes("a👨‍👩‍👧🇯🇵"), ["a", "👨‍👩‍👧", "🇯🇵"]);
});

Deno.test("cut() never splits a wide character at the edge", () => {
  assert.equal(cut("日本語", 5), "日本");
  assert.equal(cut("ab日", 3), "ab");
  assert.equal(cut("abc", 0), "");
});

Deno.test("truncate() ends in an ellipsis and stays within the width", () => {
  assert.equal(truncate("hello world", 8), "hello w…");
  assert.equal(truncate("日本語テキスト", 7), "日本語…");
  assert.equal(width(truncate("日本語テキスト", 6)), 5);
  assert.equal(truncate("short", 10), "short");
});

Deno.test("fit() pads or cuts to exactly the width", () => {
  assert.equal(fit("ab", 4), "ab  ");
  assert.equal(width(fit("日本語テキスト", 6)), 6);
});

Deno.test("wrap() breaks at spaces and keeps every line within the width", () => {
  assert.deepEqual(wrap("the quick brown fox jumps", 10), ["the quick", "brown fox", "jumps"]);
  assert.deepEqual(wrap("", 10), [""]);
  for (const cols of [1, 2, 3, 5, 7, 11]) {
    for (const line of wrap("日本語のテキストと emoji 👍👍👍 and averyveryverylongword", cols)) {
      assert.ok(width(line) <= cols, `${JSON.stringify(line)} wider than ${cols}`);
    }
  }
});

Deno.test("wrap() breaks a long CJK run between characters, not inside one", () => {
  assert.deepEqual(wrap("日本語テキスト", 5), ["日本", "語テ", "キス", "ト"]);
});

Deno.test("wrap() shows a wide character as ? when the line is one column wide", () => {
  assert.deepEqual(wrap("日a", 1), ["?", "a"]);
});

Deno.test("sliceCols() shows a window of a line and blanks a wide character cut by its edge", () => {
  assert.equal(sliceCols("abcdef", 2, 3), "cde");
  assert.equal(sliceCols("日本語", 1, 4), " 本 ");
  assert.equal(width(sliceCols("日本語", 1, 4)), 4);
});
