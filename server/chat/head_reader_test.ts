/** HeadReader: reads that come together are one query; a store that hangs does not hold a pong. */
import assert from "node:assert/strict";
import { HeadReader } from "./head_reader.ts";

Deno.test("HeadReader coalesces the reads of one moment into one inboxHeads() call", async () => {
  const calls: number[][] = [];
  const reader = new HeadReader({
    inboxHeads: (ids: number[]) => {
      calls.push(ids);
      return Promise.resolve(new Map(ids.map((id) => [id, id * 10])));
    },
  });
  const heads = await Promise.all([reader.read(1), reader.read(2), reader.read(1), reader.read(3)]);
  assert.deepEqual(heads, [10, 20, 10, 30]);
  assert.deepEqual(calls, [[1, 2, 3]]);
  assert.equal(await reader.read(4), 40);
  assert.equal(calls.length, 2);
});

Deno.test("HeadReader rejects a read the store does not answer in time, and one it refuses", async () => {
  let release!: () => void;
  const hanging = new HeadReader({
    inboxHeads: () => new Promise((resolve) => release = () => resolve(new Map([[1, 5]]))),
  }, 50);
  const t0 = Date.now();
  await assert.rejects(hanging.read(1), /in time/);
  assert.ok(Date.now() - t0 < 1000);
  release();
  const refusing = new HeadReader({ inboxHeads: () => Promise.reject(new Error("down")) });
  await assert.rejects(refusing.read(1), /down/);
});
