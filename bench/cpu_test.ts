import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { cpuSeconds, formatUs, sampleWindow, servicePids, usPerMessage } from "./cpu.ts";

const spin = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* burn CPU */ }
};

Deno.test("cpuSeconds() counts what a process burnt, and leaves out one that is gone", async () => {
  const gone = 2 ** 22 + 1; // above Linux's largest pid
  const before = (await cpuSeconds([Deno.pid, gone])).get(Deno.pid)!;
  spin(300);
  const after = await cpuSeconds([Deno.pid, gone]);
  ok(after.get(Deno.pid)! - before >= 0.2, `${before} → ${after.get(Deno.pid)}`);
  strictEqual(after.has(gone), false);
});

Deno.test("sampleWindow() measures only between its two instants", async () => {
  spin(300); // before the window: not counted
  const t = Date.now();
  const window = sampleWindow([{ name: "me", pid: Deno.pid }], t + 50, t + 550);
  await new Promise((r) => setTimeout(r, 100));
  spin(250);
  const w = await window;
  ok(w.wallSeconds >= 0.45 && w.wallSeconds < 1.5, `wall ${w.wallSeconds}`);
  ok(w.seconds.me >= 0.15 && w.seconds.me <= 0.45, `cpu ${w.seconds.me}`);
});

Deno.test("usPerMessage() divides CPU per second by the delivery rate; formatUs() sorts and totals", () => {
  const us = usPerMessage({ wallSeconds: 2, seconds: { chat: 1, MySQL: 0.5, idle: 0 } }, 10_000);
  deepStrictEqual(us, { chat: 50, MySQL: 25, idle: 0 });
  strictEqual(formatUs(us), "chat 50, MySQL 25, total 75 µs");
  deepStrictEqual(usPerMessage({ wallSeconds: 2, seconds: { chat: 1 } }, 0), {});
});

Deno.test({
  name: "servicePids() finds the local Redis the tests use",
  // A Redis elsewhere (PARLEY_TEST_REDIS_URL) is not this machine's process.
  ignore: Deno.env.get("PARLEY_TEST_REDIS_URL") !== undefined,
  async fn() {
    const found = await servicePids();
    ok(found.some((s) => s.name === "Redis" && s.pid > 0), JSON.stringify(found));
  },
});
