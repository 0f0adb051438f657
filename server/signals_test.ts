import assert from "node:assert/strict";
import { DUPLICATE_MS, type SignalSource, stopOnSignals } from "./signals.ts";
import { silentLogger } from "./log.ts";

/** Signals a test sends by hand, a server whose drain and close it finishes by hand, a fake clock. */
function rig() {
  const handlers: Record<string, (() => void)[]> = {};
  const signals: SignalSource = { on: (sig, h) => (handlers[sig] ??= []).push(h) };
  const events: string[] = [];
  const drain = Promise.withResolvers<void>();
  const close = Promise.withResolvers<void>();
  let t = 1_000;
  const exits: number[] = [];
  const done = stopOnSignals({
    drain: () => {
      events.push("drain");
      return drain.promise;
    },
    close: () => {
      events.push("close");
      return close.promise;
    },
  }, { log: silentLogger, signals, exit: (c) => exits.push(c), now: () => t });
  return {
    send(sig: "SIGTERM" | "SIGINT", afterMs = 0) {
      t += afterMs;
      for (const h of handlers[sig] ?? []) h();
    },
    events,
    exits,
    drain,
    close,
    done,
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("SIGTERM drains, then closes; more SIGTERMs during the drain change nothing", async () => {
  const r = rig();
  r.send("SIGTERM");
  r.send("SIGTERM", 5);
  r.send("SIGTERM", 1000);
  await tick();
  assert.deepEqual(r.events, ["drain"], "still draining");
  r.drain.resolve();
  await tick();
  assert.deepEqual(r.events, ["drain", "close"]);
  r.send("SIGTERM");
  r.close.resolve();
  assert.equal(await r.done, 0);
  assert.deepEqual(r.exits, []);
});

Deno.test("SIGINT during a drain cuts it short and closes now", async () => {
  const r = rig();
  r.send("SIGTERM");
  await tick();
  r.send("SIGINT", 500);
  await tick();
  assert.deepEqual(r.events, ["drain", "close"]);
  r.close.resolve();
  assert.equal(await r.done, 0);
  assert.deepEqual(r.exits, []);
});

Deno.test("SIGINT closes without a drain; a second SIGINT exits at once with 130", async () => {
  const r = rig();
  r.send("SIGINT");
  await tick();
  assert.deepEqual(r.events, ["close"]);
  r.send("SIGINT", DUPLICATE_MS + 1);
  assert.deepEqual(r.exits, [130]);
});

Deno.test("the same Ctrl-C delivered twice (terminal and deno task) counts once", async () => {
  const r = rig();
  r.send("SIGINT");
  r.send("SIGINT", 2);
  await tick();
  assert.deepEqual(r.events, ["close"]);
  assert.deepEqual(r.exits, [], "the duplicate does not exit");
  r.send("SIGTERM", 10);
  assert.deepEqual(r.exits, [], "SIGTERM never exits at once");
  r.close.resolve();
  assert.equal(await r.done, 0);
});
