import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { Conversation, Histogram } from "./stats.ts";

Deno.test("Histogram.quantile() is within 1% of the exact quantile", () => {
  const h = new Histogram();
  const values = Array.from({ length: 10_000 }, (_, i) => 0.05 + i * 0.013);
  for (const v of values) h.record(v);
  for (const q of [0.5, 0.95, 0.99]) {
    const exact = values[Math.ceil(q * values.length) - 1];
    const got = h.quantile(q);
    ok(Math.abs(got - exact) / exact < 0.01, `q${q}: ${got} vs ${exact}`);
  }
  strictEqual(h.quantile(1), values.at(-1));
  strictEqual(h.count, values.length);
});

Deno.test("Histogram.merge() of parts equals one histogram of all values", () => {
  const all = new Histogram(), a = new Histogram(), b = new Histogram();
  for (let i = 1; i <= 1000; i++) {
    all.record(i / 7);
    (i % 3 ? a : b).record(i / 7);
  }
  const merged = Histogram.from([JSON.parse(JSON.stringify(a)), b.toJSON()]);
  strictEqual(merged.count, all.count);
  strictEqual(merged.max, all.max);
  for (const q of [0.1, 0.5, 0.9, 0.999]) strictEqual(merged.quantile(q), all.quantile(q));
});

Deno.test("Conversation counts lost, duplicate and out-of-order deliveries", () => {
  const c = new Conversation();
  for (let i = 0; i < 6; i++) c.ack(c.nextSeq());
  ok(c.deliver(0));
  ok(c.deliver(2));
  ok(c.deliver(1)); // after 2: out of order
  ok(!c.deliver(2)); // again: duplicate
  ok(c.deliver(5));
  deepStrictEqual(c.faults(), { lost: 2, duplicate: 1, outOfOrder: 1, unexpected: 0 });
  strictEqual(c.delivered, 4);
  strictEqual(c.acked(), 6);
});

Deno.test("Conversation does not count an unacked message as lost, and flags one never sent", () => {
  const c = new Conversation();
  c.nextSeq(); // sent, never acked (the sender gave up on it)
  c.ack(c.nextSeq());
  ok(c.deliver(1));
  ok(!c.deliver(7));
  ok(!c.deliver(-1));
  deepStrictEqual(c.faults(), { lost: 0, duplicate: 0, outOfOrder: 0, unexpected: 2 });
});
