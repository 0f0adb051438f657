import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { readStamp, stampText } from "./clients.ts";

Deno.test("stampText() pads to the size and readStamp() reads seq and time back", () => {
  const t = 1767225600123.457;
  const text = stampText("r1a", 42, t, 100);
  strictEqual(text.length, 100);
  deepStrictEqual(readStamp("r1a", text), { seq: 42, t });
});

Deno.test("readStamp() ignores texts of another run or not stamped at all", () => {
  strictEqual(readStamp("r1b", stampText("r1a", 1, 2, 50)), null);
  strictEqual(readStamp("r1a", "hello"), null);
  strictEqual(readStamp("r1a", "r1a|3"), null);
});
