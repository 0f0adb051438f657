/**
 * The chaos tests' client keeps the docs' client rules (inbox_view.ts):
 * these cases pin them down without a server, so a chaos test that passes
 * or fails says something about the server, not about the client.
 */
import assert from "node:assert/strict";
import { type InboxMessage, InboxView } from "./inbox_view.ts";

const SELF = 7;
const PEER = 8;

function msg(id: number, seq?: number, from = PEER): InboxMessage {
  const to = from === SELF ? PEER : SELF;
  return { id, from, to, text: `m${id}`, client_id: `c${id}`, sent_at: id, seq };
}

Deno.test("InboxView holds the highest contiguous seq, and moves it over a filled gap", () => {
  const v = new InboxView();
  assert.equal(v.take(msg(10, 1), "new"), true);
  assert.equal(v.take(msg(12, 3), "new"), true, "shown on arrival, before the gap is filled");
  assert.deepEqual([v.held, v.known, v.gap], [1, 3, true]);
  assert.equal(v.take(msg(11, 2), "fetch"), true);
  assert.deepEqual([v.held, v.known, v.gap, v.ahead.size], [3, 3, false, 0]);
  assert.deepEqual([...v.shown.keys()], [10, 12, 11]);
});

Deno.test("InboxView drops an entry it holds, by seq, and counts it per way it came", () => {
  const v = new InboxView();
  v.take(msg(10, 1), "new");
  v.take(msg(12, 3), "new");
  assert.equal(v.take(msg(10, 1), "sync"), false, "at or below held");
  assert.equal(v.take(msg(12, 3), "fetch"), false, "above held, already here");
  assert.deepEqual(v.dropped, { new: 0, sync: 1, fetch: 1, sent: 0 });
  assert.equal(v.shown.size, 2);
});

Deno.test("InboxView learns of a gap from a head alone (the last message lost)", () => {
  const v = new InboxView();
  v.take(msg(10, 1), "new");
  v.head(2);
  assert.deepEqual([v.held, v.gap], [1, true]);
  v.head(1);
  assert.equal(v.known, 2, "a lower head never lowers what is known");
});

Deno.test("InboxView starts a fresh device at the cursor the server gave it", () => {
  const v = new InboxView();
  v.startAt(5);
  assert.equal(v.take(msg(20, 5), "sync"), false);
  assert.equal(v.take(msg(21, 6), "sync"), true);
  assert.deepEqual([v.held, v.gap], [6, false]);
});

Deno.test("InboxView reports a seq naming two messages, and a message at two seqs", () => {
  const v = new InboxView();
  v.take(msg(10, 1), "new");
  v.take(msg(11, 1), "fetch");
  v.take(msg(10, 2), "fetch");
  assert.deepEqual(v.anomalies, [
    "seq 1 named message 10 and message 11",
    "message 10 arrived at seq 1 and at seq 2",
  ]);
  assert.equal(v.shown.size, 1, "message 11 (a dropped seq) and 10 again are not shown");
});

Deno.test("InboxView without seqs (protocol 1) dedupes by id and knows the highest id per peer", () => {
  const v = new InboxView();
  assert.equal(v.take(msg(10), "sync"), true);
  assert.equal(v.take(msg(10), "new"), false);
  v.take(msg(14), "new");
  v.take(msg(15, undefined, SELF), "sent");
  assert.deepEqual([...v.highestFrom(SELF)], [[PEER, 14]]);
  assert.deepEqual([v.held, v.gap], [0, false]);
});
