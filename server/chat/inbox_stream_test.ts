/**
 * The inbox stream's logic on a fake owner and a store that holds a list
 * of entries: in order, each entry once, a gap read from the store after
 * the timer (and not before), the sender's own ack counted as sent, a head
 * beyond what was sent read at once, and a store that fails retried.
 */
import assert from "node:assert/strict";
import { silentLogger } from "../log.ts";
import type { InboxEntry, Message } from "../store/types.ts";
import { eventually, sleep } from "../../testing/mod.ts";
import { InboxStream, type StreamOwner } from "./inbox_stream.ts";
import { msgNewJson, wireEntry } from "./wire.ts";

const ME = 1;

function message(seq: number, from = 2): Message {
  return {
    id: 100 + seq,
    senderId: from,
    recipientId: from === ME ? 2 : ME,
    clientId: `c${seq}`,
    text: `m${seq}`,
    createdAt: seq,
  };
}

const entry = (seq: number, from = 2): InboxEntry => ({ seq, message: message(seq, from) });
const json = (seq: number, from = 2) =>
  msgNewJson(JSON.stringify(wireEntry({ seq, message: message(seq, from) })));

function setup(
  options: { start?: number; gapMs?: number; entries?: number; inFlight?: string[] } = {},
) {
  const out: { type: string; seqs: number[] }[] = [];
  const receipts: [number, number, number][] = [];
  const store = {
    entries: Array.from({ length: options.entries ?? 0 }, (_, i) => entry(i + 1)),
    reads: [] as number[],
    fail: false,
    inbox(userId: number, o: { after: number; limit: number }): Promise<InboxEntry[]> {
      assert.equal(userId, ME);
      store.reads.push(o.after);
      if (store.fail) return Promise.reject(new Error("store down"));
      return Promise.resolve(store.entries.filter((e) => e.seq > o.after).slice(0, o.limit));
    },
  };
  const owner: StreamOwner = {
    userId: ME,
    closed: false,
    sendJson(text: string) {
      const f = JSON.parse(text);
      if (f.type === "msg.sync") {
        out.push({ type: "msg.sync", seqs: f.messages.map((m: { seq: number }) => m.seq) });
      } else out.push({ type: f.type, seqs: [f.message.seq] });
    },
    drained: () => Promise.resolve(),
  };
  const stream = new InboxStream(owner, {
    store,
    log: silentLogger,
    gapMs: options.gapMs ?? 50,
    onSent: (seq, from, id) => receipts.push([seq, from, id]),
    ownInFlight: (clientId) => options.inFlight?.includes(clientId) ?? false,
  }, options.start ?? 0);
  const pushed = () => out.filter((f) => f.type === "msg.new").flatMap((f) => f.seqs);
  return { stream, store, out, receipts, pushed };
}

/** Pushes entry `seq` as routing would (its JSON, sender and id). */
function push(stream: InboxStream, seq: number, from = 2) {
  stream.push(seq, json(seq, from), from, 100 + seq);
}

Deno.test("InboxStream sends the next entry at once, drops what it sent, and puts a late one in order", () => {
  const t = setup();
  push(t.stream, 1);
  push(t.stream, 1);
  assert.deepEqual(t.pushed(), [1]);
  push(t.stream, 3);
  push(t.stream, 4);
  assert.deepEqual(t.pushed(), [1], "3 and 4 wait for 2");
  assert.equal(t.stream.holding, 2);
  push(t.stream, 4);
  push(t.stream, 2);
  assert.deepEqual(t.pushed(), [1, 2, 3, 4]);
  assert.equal(t.stream.sent, 4);
  assert.equal(t.stream.holding, 0);
  assert.deepEqual(t.store.reads, [], "a gap that closed in time costs no read");
  assert.deepEqual(t.receipts.map(([seq]) => seq), [1, 2, 3, 4]);
  t.stream.close();
});

Deno.test("InboxStream reads a gap from the store once the gap timer fires, then sends what it held", async () => {
  const t = setup({ gapMs: 80, entries: 6 });
  push(t.stream, 1);
  push(t.stream, 4);
  push(t.stream, 6);
  await sleep(30);
  assert.deepEqual(t.store.reads, [], "not before the timer");
  await eventually(() => t.stream.sent === 6, { what: "the gap to be filled" });
  assert.deepEqual(t.pushed(), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(t.store.reads, [1]);
  assert.equal(t.stream.holding, 0);
  // Each entry once, with its receipt.
  assert.deepEqual(t.receipts.map(([seq]) => seq), [1, 2, 3, 4, 5, 6]);
  t.stream.close();
});

Deno.test("InboxStream counts the sender's own ack as sent, so its entry is never sent again", async () => {
  const t = setup({ gapMs: 50, entries: 5 });
  // The user's own message (seq 1) was acked on this socket, then comes back as a push.
  t.stream.markSent(1);
  push(t.stream, 1, ME);
  assert.equal(t.stream.sent, 1);
  // Another own message acked out of turn: 2 and 3 are still on their way.
  t.store.entries[3] = entry(4, ME);
  t.stream.markSent(4);
  push(t.stream, 5);
  assert.equal(t.stream.sent, 1);
  await eventually(() => t.stream.sent === 5, { what: "the stream to pass the ack" });
  assert.deepEqual(t.pushed(), [2, 3, 5], "4 went out as the ack, not again");
  assert.deepEqual(t.receipts.map(([seq]) => seq), [2, 3, 5], "own messages make no receipt");
  t.stream.close();
});

Deno.test("InboxStream.behind() reads what the head says exists once the gap time has passed, unless it came", async () => {
  const t = setup({ start: 2, entries: 6, gapMs: 50 });
  t.stream.behind(2);
  assert.deepEqual(t.store.reads, [], "not behind");
  // 3 and 4 are pushes on their way: they come within the gap time, no read.
  t.stream.behind(4);
  push(t.stream, 3);
  push(t.stream, 4);
  await sleep(100);
  assert.deepEqual(t.store.reads, []);
  // 5 and 6 were lost: read after the gap time.
  t.stream.behind(6);
  await eventually(() => t.stream.sent === 6, { what: "the fill" });
  assert.deepEqual(t.pushed(), [3, 4, 5, 6]);
  assert.deepEqual(t.store.reads, [4]);
  t.stream.close();
});

Deno.test("InboxStream.sync() sends every entry after the cursor in batches, the last done", async () => {
  const t = setup({ start: 30, entries: 250 });
  await t.stream.sync();
  assert.deepEqual(t.out.map((f) => [f.type, f.seqs.length]), [
    ["msg.sync", 100],
    ["msg.sync", 100],
    ["msg.sync", 20],
  ]);
  assert.deepEqual(t.out.flatMap((f) => f.seqs), Array.from({ length: 220 }, (_, i) => i + 31));
  push(t.stream, 200);
  push(t.stream, 251);
  assert.deepEqual(t.pushed(), [251]);
  t.stream.close();
});

Deno.test("InboxStream retries a read the store failed, and stops everything once closed", async () => {
  const t = setup({ gapMs: 20, entries: 3 });
  t.store.fail = true;
  push(t.stream, 3);
  await eventually(() => t.store.reads.length >= 1, { what: "a read" });
  t.store.fail = false;
  await eventually(() => t.stream.sent === 3, { what: "the retry", timeoutMs: 3000 });
  assert.deepEqual(t.pushed(), [1, 2, 3]);
  t.stream.close();
  push(t.stream, 5);
  await sleep(60);
  assert.equal(t.stream.holding, 0);
  assert.equal(t.store.reads.length, 2, "a closed stream reads nothing");
});

Deno.test("InboxStream reading the store leaves out the user's own message whose ack is on its way", async () => {
  const t = setup({ entries: 4, inFlight: ["c3"] });
  t.store.entries[2] = entry(3, ME);
  // The head says 4 while the ack of seq 3 (sent from this socket) waits its turn.
  t.stream.behind(4);
  await eventually(() => t.stream.sent === 4, { what: "the fill" });
  assert.deepEqual(t.pushed(), [1, 2, 4], "seq 3 goes out as its ack, not as msg.new");
  t.stream.markSent(3);
  assert.equal(t.stream.sent, 4);
  t.stream.close();
});
