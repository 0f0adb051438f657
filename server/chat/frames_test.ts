/** parseFrame()'s msg.send shortcut accepts exactly what the schema accepts. */
import assert from "node:assert/strict";
import { ClientFrame } from "../../proto/protocol.ts";
import { FrameError, parseFrame } from "./frames.ts";

const ok = { type: "msg.send", id: 7, to: 2, text: "hello", client_id: "c1" };

const CASES: Record<string, unknown>[] = [
  ok,
  { ...ok, id: "req-1" },
  { ...ok, id: 0 },
  { ...ok, id: "" },
  { ...ok, id: "x".repeat(64) },
  { ...ok, id: "x".repeat(65) },
  { ...ok, id: -1 },
  { ...ok, id: 1.5 },
  { ...ok, id: 2 ** 53 },
  { ...ok, id: null },
  { type: "msg.send", to: 2, text: "hello", client_id: "c1" },
  { ...ok, to: 0 },
  { ...ok, to: -3 },
  { ...ok, to: 2.5 },
  { ...ok, to: "2" },
  { ...ok, text: "" },
  { ...ok, text: " \n\t " },
  { ...ok, text: "a\0b" },
  { ...ok, text: "\ud800 lone" },
  { ...ok, text: "é".repeat(4000) },
  { ...ok, text: "é".repeat(4001) },
  { ...ok, text: "😀".repeat(4000) },
  { ...ok, text: "😀".repeat(4001) },
  { ...ok, text: 5 },
  { ...ok, client_id: "" },
  { ...ok, client_id: "c".repeat(64) },
  { ...ok, client_id: "c".repeat(65) },
  { ...ok, client_id: "a\0" },
  { ...ok, client_id: "\udc00" },
  { ...ok, client_id: 12 },
  { ...ok, extra: true },
  JSON.parse('{"type":"msg.send","id":1,"to":2,"text":"t","client_id":"c","__proto__":{}}'),
];

Deno.test("parseFrame() takes a msg.send exactly when the schema does, and returns the same frame", () => {
  for (const c of CASES) {
    const schema = ClientFrame.safeParse(c);
    const label = JSON.stringify(c).slice(0, 80);
    let parsed: unknown;
    try {
      parsed = parseFrame(JSON.stringify(c));
    } catch (e) {
      assert.ok(e instanceof FrameError, label);
      assert.equal(schema.success, false, `${label}: refused, but the schema takes it`);
      assert.equal(e.code, "invalid_request", label);
      continue;
    }
    assert.equal(schema.success, true, `${label}: taken, but the schema refuses it`);
    assert.deepEqual(parsed, schema.data, label);
  }
});
