/**
 * FrameQueue: frames one at a time in order, replies in request order, a cap
 * on waiting frames, and reading paused while too much text waits.
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../../testing/mod.ts";
import { FrameQueue, MAX_PENDING_FRAMES, MAX_PENDING_TEXT } from "./frame_queue.ts";

const tick = (ms = 0) => new Promise<void>((r) => setTimeout(r, ms));

Deno.test("frames run one at a time, and a reply queued by a frame waits for the earlier replies", async () => {
  const { log } = memoryLogger();
  const q = new FrameQueue(log, { userId: 1 });
  const order: string[] = [];
  assert.equal(q.idle, true);
  // Frame 1 is a pipelined msg.send: its step ends once it queued its (slow) reply.
  q.enqueue(() => {
    order.push("step 1");
    q.afterEarlier(async () => {
      await tick(30);
      order.push("reply 1");
    });
    return Promise.resolve();
  });
  assert.equal(q.idle, false);
  q.enqueue(async () => {
    order.push("step 2");
    await tick(5);
    q.afterEarlier(() => void order.push("reply 2"));
  });
  q.enqueue(async () => {
    // Any other frame waits for the replies before it, then answers.
    await q.replies;
    order.push("step 3 after replies");
  });
  await tick(80);
  assert.deepEqual(order, ["step 1", "step 2", "reply 1", "reply 2", "step 3 after replies"]);
  await q.replies;
  assert.equal(q.idle, true, "an idle queue holds no promise");
});

Deno.test("a step that throws is logged and the next frames still run", async () => {
  const { log, lines } = memoryLogger();
  const q = new FrameQueue(log, { userId: 7 });
  const ran: number[] = [];
  q.enqueue(() => Promise.reject(new Error("boom")));
  q.enqueue(() => Promise.resolve(void ran.push(2)));
  q.afterEarlier(() => {
    throw new Error("reply boom");
  });
  q.afterEarlier(() => void ran.push(3));
  await tick(10);
  assert.deepEqual(ran.sort(), [2, 3]);
  const failed = lines.filter((l) => l.msg === "frame handling failed");
  assert.equal(failed.length, 2);
  assert.equal(failed[0].user, 7);
});

Deno.test("enqueue() refuses beyond MAX_PENDING_FRAMES waiting frames", async () => {
  const { log } = memoryLogger();
  const q = new FrameQueue(log, { userId: 1 });
  const gate = Promise.withResolvers<void>();
  for (let i = 0; i < MAX_PENDING_FRAMES; i++) assert.equal(q.enqueue(() => gate.promise), true);
  assert.equal(q.enqueue(() => Promise.resolve()), false);
  gate.resolve();
  await tick(10);
  assert.equal(q.enqueue(() => Promise.resolve()), true);
});

Deno.test("past MAX_PENDING_TEXT of waiting text the owner stops reading, and goes on once handled", async () => {
  const { log } = memoryLogger();
  const calls: string[] = [];
  const q = new FrameQueue(log, {
    userId: 1,
    pauseReading: () => calls.push("pause"),
    resumeReading: () => calls.push("resume"),
  });
  const gate = Promise.withResolvers<void>();
  q.enqueue(() => gate.promise, 10);
  const half = Math.floor(MAX_PENDING_TEXT / 2);
  q.enqueue(() => Promise.resolve(), half);
  assert.deepEqual(calls, [], "under the limit: reading goes on");
  q.enqueue(() => Promise.resolve(), half);
  assert.deepEqual(calls, ["pause"], "over it: reading stops");
  gate.resolve();
  await tick();
  assert.equal(calls.at(-1), "resume");
  assert.equal(q.idle, true);
});
