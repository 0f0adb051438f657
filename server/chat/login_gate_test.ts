/** LoginGate: at most `limit` logins at once, the rest in arrival order, a failure frees its slot. */
import assert from "node:assert/strict";
import { LoginGate } from "./login_gate.ts";

Deno.test("the login gate runs at most its limit at once and the rest in arrival order", async () => {
  const gate = new LoginGate(2);
  const started: number[] = [];
  const release: (() => void)[] = [];
  let running = 0;
  let most = 0;
  const runs = Array.from({ length: 5 }, (_, i) =>
    gate.run(async () => {
      started.push(i);
      most = Math.max(most, ++running);
      await new Promise<void>((r) => release[i] = r);
      running--;
      return i;
    }));
  await Promise.resolve();
  assert.deepEqual(started, [0, 1]);
  assert.equal(gate.waiting, 3);
  release[1]();
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(started, [0, 1, 2], "a freed slot goes to the first in line");
  for (const i of [0, 2, 3, 4]) {
    await new Promise((r) => setTimeout(r, 0));
    release[i]();
  }
  assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3, 4]);
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.equal(most, 2);
  assert.equal(gate.waiting, 0);
});

Deno.test("a login that fails frees its slot for the next", async () => {
  const gate = new LoginGate(1);
  const failed = gate.run(() => Promise.reject(new Error("store down")));
  const next = gate.run(() => Promise.resolve("ran"));
  await assert.rejects(failed, /store down/);
  assert.equal(await next, "ran");
  // The slot is free again: a third runs at once.
  assert.equal(await gate.run(() => Promise.resolve(3)), 3);
  assert.equal(gate.waiting, 0);
});
