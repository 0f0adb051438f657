/** Store contract, part 3: messages, history, delivery and read cursors. See store_contract.ts. */
import assert from "node:assert/strict";
import { isCode, makeUser, type StoreCases } from "./_contract_kit.ts";
import type { Message, Store } from "./types.ts";

/** Stores `texts` from `from` to `to` in order, one insertMessage each; returns the messages. */
async function send(s: Store, from: number, to: number, ...texts: string[]): Promise<Message[]> {
  const out: Message[] = [];
  for (const text of texts) {
    const clientId = crypto.randomUUID();
    out.push(
      (await s.insertMessage({
        senderId: from,
        recipientId: to,
        clientId,
        text,
        createdAt: Date.now(),
      })).message,
    );
  }
  return out;
}

const ids = (ms: Message[]) => ms.map((m) => m.id);

export const messageCases: StoreCases = {
  "insertMessage() stores a message once per sender and client id": async (s) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    const input = {
      senderId: ann.id,
      recipientId: bob.id,
      clientId: "c-1",
      text: "hi",
      createdAt: 1_700_000_000_001,
    };
    const first = await s.insertMessage(input);
    assert.equal(first.duplicate, false);
    assert.deepEqual(first.message, { id: first.message.id, ...input });
    assert.deepEqual([first.senderSeq, first.recipientSeq], [1, 1]);
    assert.deepEqual(await s.messageById(first.message.id), first.message);
    // A retry, even with other text and time, gets the stored message and its seqs back.
    const retry = await s.insertMessage({ ...input, text: "changed", createdAt: 5 });
    assert.deepEqual(retry, { ...first, duplicate: true });
    // The same client id from another sender is another message.
    const other = await s.insertMessage({ ...input, senderId: bob.id, recipientId: ann.id });
    assert.equal(other.duplicate, false);
    assert.deepEqual([other.senderSeq, other.recipientSeq], [2, 2]);
    assert.notEqual(other.message.id, first.message.id);
    assert.equal(await s.countMessages(), 2);
    assert.equal(await s.messageById(other.message.id + 100), null);
  },

  "insertMessage() racing copies of one message store it once": async (s) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    const input = {
      senderId: ann.id,
      recipientId: bob.id,
      clientId: "race",
      text: "once",
      createdAt: 7,
    };
    const results = await Promise.all(Array.from({ length: 8 }, () => s.insertMessage(input)));
    assert.equal(results.filter((r) => !r.duplicate).length, 1);
    assert.equal(new Set(results.map((r) => r.message.id)).size, 1);
    for (const r of results) assert.deepEqual([r.senderSeq, r.recipientSeq], [1, 1]);
    assert.equal(await s.countMessages(), 1);
    assert.deepEqual(await s.inboxHeads([ann.id, bob.id]), new Map([[ann.id, 1], [bob.id, 1]]));
  },

  "insertMessages() stores a batch with ids in input order": async (s) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    const cy = await makeUser(s, "cy");
    assert.deepEqual(await s.insertMessages([]), []);
    const inputs = Array.from({ length: 50 }, (_, i) => ({
      senderId: i % 2 ? ann.id : cy.id,
      recipientId: bob.id,
      clientId: `b-${i}`,
      text: `message ${i}`,
      createdAt: 1000 + i,
    }));
    const out = await s.insertMessages(inputs);
    assert.equal(out.length, 50);
    out.forEach((r, i) => {
      assert.equal(r.duplicate, false);
      assert.deepEqual(r.message, { id: r.message.id, ...inputs[i] });
      if (i > 0) assert.ok(r.message.id > out[i - 1].message.id, "ids follow input order");
    });
    for (const r of out) assert.deepEqual(await s.messageById(r.message.id), r.message);
  },

  "insertMessages() reports duplicates from earlier and within the batch": async (s) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    const m = (clientId: string, text: string) => ({
      senderId: ann.id,
      recipientId: bob.id,
      clientId,
      text,
      createdAt: 1,
    });
    const [old] = await s.insertMessages([m("x", "old")]);
    const out = await s.insertMessages([
      m("a", "A"),
      m("x", "retry"),
      m("b", "B"),
      m("a", "A again"),
    ]);
    assert.deepEqual(out.map((r) => r.duplicate), [false, true, false, true]);
    assert.deepEqual(out[1], { ...old, duplicate: true });
    assert.deepEqual(out[3], { ...out[0], duplicate: true });
    // Seqs count only what was stored: x at 1, then a and b.
    assert.deepEqual(out.map((r) => r.senderSeq), [2, 1, 3, 2]);
    assert.deepEqual(out.map((r) => r.recipientSeq), [2, 1, 3, 2]);
    assert.equal(await s.inboxHead(ann.id), 3);
    assert.ok(out[0].message.id < out[2].message.id);
    assert.equal(out[2].message.text, "B");
    assert.equal(await s.countMessages(), 3);
  },

  "insertMessages() racing overlapping batches store each message once": async (s) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    const m = (i: number) => ({
      senderId: ann.id,
      recipientId: bob.id,
      clientId: `k${i}`,
      text: `t${i}`,
      createdAt: i,
    });
    const batches = [[0, 1, 2, 3], [2, 3, 4, 5], [5, 6, 0], [7]].map((b) => b.map(m));
    const results = (await Promise.all(batches.map((b) => s.insertMessages(b)))).flat();
    const fresh = results.filter((r) => !r.duplicate).map((r) => r.message.clientId).sort();
    assert.deepEqual(fresh, ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"]);
    const byClient = new Map<string, string>();
    for (const r of results) {
      const stored = JSON.stringify([r.message, r.senderSeq, r.recipientSeq]);
      assert.equal(
        byClient.get(r.message.clientId) ?? stored,
        stored,
        "every copy names the stored one",
      );
      byClient.set(r.message.clientId, stored);
    }
    assert.equal(await s.countMessages(), 8);
    assert.deepEqual(await s.inboxHeads([ann.id, bob.id]), new Map([[ann.id, 8], [bob.id, 8]]));
  },

  "insertMessage() rejects an empty client id, a NUL and text past the store's ceiling": async (
    s,
  ) => {
    const ann = await makeUser(s, "ann");
    const base = { senderId: ann.id, recipientId: ann.id, clientId: "c", text: "t", createdAt: 1 };
    await assert.rejects(s.insertMessage({ ...base, clientId: "" }), isCode("bad_request"));
    await assert.rejects(s.insertMessage({ ...base, text: "a\u0000b" }), isCode("bad_request"));
    await assert.rejects(
      s.insertMessage({ ...base, text: "x".repeat(20_001) }),
      isCode("too_long"),
    );
    await assert.rejects(
      s.insertMessages([base, { ...base, clientId: "c".repeat(129) }]),
      isCode("too_long"),
    );
    assert.equal(await s.countMessages(), 0);
  },

  "CJK, emoji and control text round-trips byte-exact, 4000 emoji included": async (s) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    const texts = [
      "你好，世界 こんにちは 안녕하세요",
      "👨‍👩‍👧‍👦🏳️‍🌈 e\u0301 \u00e9 ﬁ",
      "tabs\tnew\nlines\r\n\u0007bell and \u001b[31mescape\u007f",
      "😀".repeat(4000),
      "  trailing spaces  ",
      "Ａ",
    ];
    const sent = await send(s, ann.id, bob.id, ...texts);
    for (const [i, m] of sent.entries()) {
      const got = await s.messageById(m.id);
      assert.equal(got?.text, texts[i]);
      assert.deepEqual(new TextEncoder().encode(got!.text), new TextEncoder().encode(texts[i]));
    }
    const batch = await s.insertMessages(
      texts.map((text, i) => ({
        senderId: bob.id,
        recipientId: ann.id,
        clientId: `u${i}`,
        text,
        createdAt: 1,
      })),
    );
    for (const [i, r] of batch.entries()) {
      assert.equal((await s.messageById(r.message.id))?.text, texts[i]);
    }
  },

  "history() returns both directions newest first and pages with before": async (s) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    const cy = await makeUser(s, "cy");
    const all: Message[] = [];
    for (let i = 0; i < 6; i++) {
      all.push(...await send(s, ann.id, bob.id, `a${i}`));
      all.push(...await send(s, bob.id, ann.id, `b${i}`));
      await send(s, ann.id, cy.id, `noise${i}`);
      await send(s, cy.id, bob.id, `noise${i}`);
    }
    const newest = [...all].reverse();
    assert.deepEqual(await s.history(ann.id, bob.id, { limit: 100 }), newest);
    assert.deepEqual(await s.history(bob.id, ann.id, { limit: 100 }), newest);
    const page1 = await s.history(ann.id, bob.id, { limit: 5 });
    const page2 = await s.history(ann.id, bob.id, { limit: 5, before: page1[4].id });
    const page3 = await s.history(ann.id, bob.id, { limit: 5, before: page2[4].id });
    assert.deepEqual(ids([...page1, ...page2, ...page3]), ids(newest));
    assert.equal(page3.length, 2);
    assert.deepEqual(await s.history(ann.id, bob.id, { limit: 5, before: all[0].id }), []);
    assert.deepEqual(await s.history(bob.id, cy.id + 100, { limit: 5 }), []);
  },

  "undelivered() skips what each sender's delivered cursor covers and honours afterId": async (
    s,
  ) => {
    const me = await makeUser(s, "me");
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    const fromAnn = await send(s, ann.id, me.id, "a1", "a2", "a3");
    const fromBob = await send(s, bob.id, me.id, "b1", "b2");
    const [mine] = await send(s, me.id, ann.id, "mine");
    const more = await send(s, ann.id, me.id, "a4");
    assert.deepEqual(
      ids(await s.undelivered(me.id, { limit: 100 })),
      ids([...fromAnn, ...fromBob, ...more]),
    );

    await s.advanceCursor(me.id, ann.id, { deliveredId: fromAnn[1].id });
    assert.deepEqual(
      ids(await s.undelivered(me.id, { limit: 100 })),
      ids([fromAnn[2], ...fromBob, ...more]),
    );
    // Bob's cursor is separate from Ann's.
    await s.advanceCursor(me.id, bob.id, { deliveredId: fromBob[0].id });
    assert.deepEqual(
      ids(await s.undelivered(me.id, { limit: 100 })),
      ids([fromAnn[2], fromBob[1], ...more]),
    );
    // afterId and limit page through the rest, oldest first.
    const first = await s.undelivered(me.id, { limit: 2 });
    assert.deepEqual(ids(first), ids([fromAnn[2], fromBob[1]]));
    assert.deepEqual(
      ids(await s.undelivered(me.id, { limit: 2, afterId: first[1].id })),
      ids(more),
    );
    assert.deepEqual(ids(await s.undelivered(ann.id, { limit: 10 })), [mine.id]);
  },

  "unreadCounts() counts per sender past the read cursor": async (s) => {
    const me = await makeUser(s, "me");
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    const fromAnn = await send(s, ann.id, me.id, "a1", "a2", "a3");
    const fromBob = await send(s, bob.id, me.id, "b1");
    await send(s, me.id, ann.id, "not counted");
    const counts = await s.unreadCounts(me.id);
    assert.deepEqual(counts, [
      { peerId: ann.id, count: 3, lastId: fromAnn[2].id },
      { peerId: bob.id, count: 1, lastId: fromBob[0].id },
    ]);
    await s.advanceCursor(me.id, ann.id, { readId: fromAnn[0].id });
    await s.advanceCursor(me.id, bob.id, { deliveredId: fromBob[0].id });
    assert.deepEqual(await s.unreadCounts(me.id), [
      { peerId: ann.id, count: 2, lastId: fromAnn[2].id },
      { peerId: bob.id, count: 1, lastId: fromBob[0].id },
    ]);
    await s.advanceCursor(me.id, ann.id, { readId: fromAnn[2].id });
    await s.advanceCursor(me.id, bob.id, { readId: fromBob[0].id });
    assert.deepEqual(await s.unreadCounts(me.id), []);
  },

  "advanceCursor() never moves back and read implies delivered": async (s) => {
    const me = await makeUser(s, "me");
    const ann = await makeUser(s, "ann");
    const zero = { userId: me.id, peerId: ann.id, deliveredId: 0, readId: 0 };
    assert.deepEqual(await s.cursor(me.id, ann.id), zero);
    assert.deepEqual(await s.advanceCursor(me.id, ann.id, { deliveredId: 10 }), {
      ...zero,
      deliveredId: 10,
    });
    assert.deepEqual(await s.advanceCursor(me.id, ann.id, { deliveredId: 4 }), {
      ...zero,
      deliveredId: 10,
    });
    assert.deepEqual(await s.advanceCursor(me.id, ann.id, { readId: 3 }), {
      ...zero,
      deliveredId: 10,
      readId: 3,
    });
    assert.deepEqual(await s.advanceCursor(me.id, ann.id, { readId: 15 }), {
      ...zero,
      deliveredId: 15,
      readId: 15,
    });
    assert.deepEqual(await s.advanceCursor(me.id, ann.id, { deliveredId: 12, readId: 12 }), {
      ...zero,
      deliveredId: 15,
      readId: 15,
    });
    assert.deepEqual(await s.advanceCursor(me.id, ann.id, {}), {
      ...zero,
      deliveredId: 15,
      readId: 15,
    });
    assert.deepEqual(await s.cursor(me.id, ann.id), { ...zero, deliveredId: 15, readId: 15 });
    // The other direction is another cursor.
    assert.deepEqual(await s.cursor(ann.id, me.id), {
      userId: ann.id,
      peerId: me.id,
      deliveredId: 0,
      readId: 0,
    });
  },

  "advanceCursor() keeps the highest value when updates race": async (s) => {
    const me = await makeUser(s, "me");
    const ann = await makeUser(s, "ann");
    const values = Array.from({ length: 30 }, (_, i) => (i * 7) % 30 + 1);
    await Promise.all(
      values.map((v, i) =>
        s.advanceCursor(me.id, ann.id, i % 3 ? { deliveredId: v } : { readId: v })
      ),
    );
    const c = await s.cursor(me.id, ann.id);
    assert.equal(c.deliveredId, 30);
    assert.equal(c.readId, Math.max(...values.filter((_, i) => i % 3 === 0)));
  },

  "countMessages() counts all messages or those a user sent or received": async (s) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    const cy = await makeUser(s, "cy");
    assert.equal(await s.countMessages(), 0);
    await send(s, ann.id, bob.id, "1", "2");
    await send(s, bob.id, ann.id, "3");
    await send(s, bob.id, cy.id, "4");
    assert.equal(await s.countMessages(), 4);
    assert.equal(await s.countMessages(ann.id), 3);
    assert.equal(await s.countMessages(bob.id), 4);
    assert.equal(await s.countMessages(cy.id), 1);
    assert.equal(await s.countMessages(cy.id + 100), 0);
  },

  "lastMessageId() is the newest id from sender to recipient, 0 if none": async (s) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    assert.equal(await s.lastMessageId(ann.id, bob.id), 0);
    const sent = await send(s, ann.id, bob.id, "1", "2");
    await send(s, bob.id, ann.id, "3");
    assert.equal(await s.lastMessageId(ann.id, bob.id), sent[1].id);
  },
};
