/**
 * The terminal client's inbox rules (docs/protocol.md §9) without a server:
 * a fake socket records the acks and answers msg.fetch from a list of
 * entries standing for the user's inbox.
 */
import assert from "node:assert/strict";
import type { WireMessage } from "../../proto/protocol.ts";
import { type InboxLink, InboxSync } from "./inbox_sync.ts";

const ME = 7;
const BOB = 8;

/** Entry `seq` of my inbox: message id 100 + seq, from bob (or to him when `mine`). */
function entry(seq: number, mine = false): WireMessage {
  return {
    id: 100 + seq,
    from: mine ? ME : BOB,
    to: mine ? BOB : ME,
    text: `m${seq}`,
    client_id: `c${seq}`,
    sent_at: seq,
    seq,
  };
}

/** A socket stand-in: records acks and fetches; fetch answers from the inbox up to `head`. */
function fakeLink(head: number, options: { failFetch?: boolean } = {}) {
  const acks: number[] = [];
  const fetches: number[] = [];
  const link: InboxLink = {
    ack(seq) {
      acks.push(seq);
      return true;
    },
    fetch(after) {
      fetches.push(after);
      if (options.failFetch) return Promise.reject(new Error("socket closed"));
      const messages = [];
      for (let s = after + 1; s <= head; s++) messages.push(entry(s));
      return Promise.resolve({ messages, head });
    },
  };
  return { link, acks, fetches };
}

function inbox(fetched: WireMessage[] = [], errors: unknown[] = []) {
  return new InboxSync({
    onFetched: (m) => fetched.push(m),
    onFetchError: (e) => errors.push(e),
    gapWaitMs: 10,
    ackDelayMs: 10,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await sleep(10);
  assert.ok(ok(), what);
}

Deno.test("InboxSync starts at the device's cursor, drops what comes twice, acks what it holds", () => {
  const box = inbox();
  const { link, acks } = fakeLink(5);
  box.welcome(link, { head: 5, cursor: 3 });
  assert.equal(box.take(entry(3)), false, "at or below the cursor: held already");
  assert.equal(box.take(entry(4)), true);
  assert.equal(box.take(entry(5, true)), true, "mine, sent from another device");
  assert.equal(box.take(entry(5, true)), false, "the same seq again");
  assert.equal(box.take({ ...entry(9), seq: undefined }), true, "no seq: by id");
  assert.equal(box.take({ ...entry(9), seq: undefined }), false, "the same id again");
  box.flushAck();
  assert.deepEqual(acks, [5], "the end of a sync acks at once");
  box.flushAck();
  assert.deepEqual(acks, [5], "nothing moved, nothing sent");
  box.detach();
});

Deno.test("InboxSync never acks beyond a gap, and fills it with msg.fetch after a short wait", async () => {
  const fetched: WireMessage[] = [];
  const box = inbox(fetched);
  const { link, acks, fetches } = fakeLink(4);
  box.welcome(link, { head: 0, cursor: 0 });
  box.take(entry(1));
  box.take(entry(2));
  box.take(entry(4));
  assert.equal(box.seq.held, 2);
  await until(() => acks.includes(2), "H acked");
  await until(() => box.seq.held === 4, "the gap filled");
  assert.deepEqual(fetches, [2], "fetched after H");
  assert.deepEqual(fetched.map((m) => m.seq), [3], "only the missing entry is handed on");
  await until(() => acks.at(-1) === 4, "the filled H acked");
  assert.ok(acks.every((a) => a === 2 || a === 4), `never beyond the gap: ${acks}`);
  box.detach();
});

Deno.test("InboxSync notices a lost last message from a head alone (welcome or pong)", async () => {
  const fetched: WireMessage[] = [];
  const box = inbox(fetched);
  const { link, fetches } = fakeLink(6);
  box.welcome(link, { head: 5, cursor: 5 });
  await sleep(40);
  assert.deepEqual(fetches, [], "nothing missing");
  box.head(6);
  await until(() => box.seq.held === 6, "the pong's head fetched");
  assert.deepEqual(fetches, [5]);
  assert.deepEqual(fetched.map((m) => m.id), [106]);
  box.detach();
});

Deno.test("InboxSync keeps H across a reconnect and acks it again when the cursor is behind", async () => {
  const box = inbox();
  const first = fakeLink(3);
  box.welcome(first.link, { head: 3, cursor: 0 });
  for (const s of [1, 2, 3]) box.take(entry(s));
  box.detach(); // the socket died before the ack went out
  assert.deepEqual(first.acks, []);
  const second = fakeLink(3);
  box.welcome(second.link, { head: 3, cursor: 0 });
  assert.equal(box.seq.held, 3, "H is not reset to the cursor");
  assert.equal(box.take(entry(2)), false, "synced again: dropped");
  await until(() => second.acks.includes(3), "H acked on the new socket");
  box.detach();
});

Deno.test("InboxSync: a failed fetch is reported, not looped on, and tried again at the next head", async () => {
  const errors: unknown[] = [];
  const box = inbox([], errors);
  const broken = fakeLink(4, { failFetch: true });
  box.welcome(broken.link, { head: 4, cursor: 2 });
  await until(() => errors.length === 1, "the failure reported");
  await sleep(50);
  assert.equal(broken.fetches.length, 1, "no retry loop");
  box.detach();
  const good = fakeLink(4);
  box.welcome(good.link, { head: 4, cursor: 2 });
  await until(() => box.seq.held === 4, "filled on the next socket");
  box.detach();
});

Deno.test("InboxSync without a cursor (protocol 1, or a quiet session) dedupes by id and never acks", async () => {
  const box = inbox();
  const { link, acks, fetches } = fakeLink(9);
  box.welcome(link, {});
  assert.equal(box.take(entry(1)), true);
  assert.equal(box.take(entry(1)), false);
  box.head(9);
  box.flushAck();
  await sleep(40);
  assert.deepEqual([acks, fetches], [[], []]);
  box.detach();
});
