import assert from "node:assert/strict";
import { watchFrame } from "./watch.ts";
import { clockSeconds } from "../lib/format.ts";

Deno.test("watchFrame() stamps the --watch screen with a 24-hour clock", () => {
  const evening = new Date(2026, 2, 4, 21, 7, 5).getTime();
  const frame = watchFrame("NAME  STATE", evening);
  assert.ok(frame.startsWith("\x1b[H\x1b[2JNAME  STATE\n\n"));
  assert.match(frame, /every 2s · 21:07:05 · Ctrl-C stops$/);
  assert.doesNotMatch(frame, /\b(AM|PM)\b/);
  assert.equal(clockSeconds(new Date(2026, 2, 4, 9, 0, 30).getTime()), "09:00:30");
});
