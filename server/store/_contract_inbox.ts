/**
 * Store contract, part 4: inbox sequences, devices and batched receipts.
 * The sequence must be dense and unique per user whatever the writers do;
 * see store_contract.ts.
 */
import assert from "node:assert/strict";
import { isCode, makeUser, type StoreCases } from "./_contract_kit.ts";
import type { Inserted, MessageInput, Store } from "./types.ts";

const msg = (senderId: number, recipientId: number, clientId: string): MessageInput => ({
  senderId,
  recipientId,
  clientId,
  text: `text of ${clientId}`,
  createdAt: 1_700_000_000_000,
});

/** Asserts that `userId`'s inbox holds seqs 1..head, each once, and returns its message ids. */
async function denseInbox(s: Store, userId: number): Promise<number[]> {
  const entries = await s.inbox(userId, { after: 0, limit: 1000 });
  const head = await s.inboxHead(userId);
  assert.deepEqual(
    entries.map((e) => e.seq),
    Array.from({ length: head }, (_, i) => i + 1),
    `inbox of user ${userId} is 1..${head}`,
  );
  for (const e of entries) {
    assert.ok(e.message.senderId === userId || e.message.recipientId === userId);
  }
  return entries.map((e) => e.message.id);
}

export const inboxCases: StoreCases = {
  "insertMessage() appends to the sender's and the recipient's inbox": async (s) => {
    const [ann, bob, cy] = [
      await makeUser(s, "ann"),
      await makeUser(s, "bob"),
      await makeUser(s, "cy"),
    ];
    assert.equal(await s.inboxHead(ann.id), 0);
    const r1 = await s.insertMessage(msg(ann.id, bob.id, "1"));
    const r2 = await s.insertMessage(msg(bob.id, ann.id, "2"));
    const r3 = await s.insertMessage(msg(ann.id, cy.id, "3"));
    const self = await s.insertMessage(msg(ann.id, ann.id, "4"));
    assert.deepEqual([r1.senderSeq, r1.recipientSeq], [1, 1]);
    assert.deepEqual([r2.senderSeq, r2.recipientSeq], [2, 2]);
    assert.deepEqual([r3.senderSeq, r3.recipientSeq], [3, 1]);
    // A message to oneself is one entry, at one seq.
    assert.deepEqual([self.senderSeq, self.recipientSeq], [4, 4]);
    const annInbox = await s.inbox(ann.id, { after: 0, limit: 10 });
    assert.deepEqual(annInbox, [
      { seq: 1, message: r1.message },
      { seq: 2, message: r2.message },
      { seq: 3, message: r3.message },
      { seq: 4, message: self.message },
    ]);
    assert.deepEqual(await s.inbox(ann.id, { after: 1, limit: 2 }), annInbox.slice(1, 3));
    assert.deepEqual(await s.inbox(ann.id, { after: 4, limit: 10 }), []);
    assert.deepEqual(await s.inbox(cy.id, { after: 0, limit: 10 }), [{
      seq: 1,
      message: r3.message,
    }]);
    assert.deepEqual(await s.inbox(cy.id + 100, { after: 0, limit: 10 }), []);
    assert.equal(await s.inboxHead(ann.id), 4);
    assert.deepEqual(
      await s.inboxHeads([cy.id, ann.id, bob.id, cy.id + 100, ann.id]),
      new Map([[cy.id, 1], [ann.id, 4], [bob.id, 2], [cy.id + 100, 0]]),
    );
    assert.deepEqual(await s.inboxHeads([]), new Map());
  },

  "insertMessages() numbers a batch densely in input order for every user": async (s) => {
    const users: number[] = [];
    for (const n of ["u1", "u2", "u3", "u4"]) users.push((await makeUser(s, n)).id);
    await s.insertMessage(msg(users[0], users[1], "before"));
    const inputs = Array.from(
      { length: 60 },
      (_, i) => msg(users[i % 4], users[(i * 3 + 1) % 4], `b${i}`),
    );
    const out = await s.insertMessages(inputs);
    const expected = new Map<number, number>([[users[0], 1], [users[1], 1]]);
    const next = (u: number) => {
      expected.set(u, (expected.get(u) ?? 0) + 1);
      return expected.get(u)!;
    };
    out.forEach((r, i) => {
      const m = inputs[i];
      const senderSeq = next(m.senderId);
      const recipientSeq = m.recipientId === m.senderId ? senderSeq : next(m.recipientId);
      assert.deepEqual([r.senderSeq, r.recipientSeq], [senderSeq, recipientSeq], `row ${i}`);
    });
    for (const u of users) {
      const ids = await denseInbox(s, u);
      assert.equal(ids.length, expected.get(u));
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), "ids rise with seqs");
    }
    // More ids than one IN list holds are read in chunks.
    const many = Array.from({ length: 1300 }, (_, i) => users[0] + 1000 + i);
    const heads = await s.inboxHeads([...many, ...users]);
    assert.equal(heads.size, 1304);
    assert.equal(heads.get(users[3]), expected.get(users[3]));
  },

  "seqs stay dense and unique per user under concurrent writers on several connections": async (
    s,
    h,
  ) => {
    const others = [await h.openAnother(), await h.openAnother()];
    try {
      const stores = [s, ...others];
      const users: number[] = [];
      for (let i = 0; i < 6; i++) users.push((await makeUser(s, `w${i}`)).id);
      const writes: Promise<Inserted[]>[] = [];
      for (let round = 0; round < 12; round++) {
        stores.forEach((store, k) => {
          const batch = Array.from({ length: 1 + ((round + k) % 7) }, (_, i) => {
            const a = users[(round + i + k) % 6];
            const b = users[(round * 5 + i * 2 + k + 1) % 6];
            return msg(a, b, `r${round}-k${k}-i${i}`);
          });
          // Every third batch repeats one message of a batch racing it on another store.
          if (round % 3 === 0) {
            batch.push(msg(users[round % 6], users[(round + 1) % 6], `r${round}-shared`));
          }
          writes.push(
            batch.length === 1
              ? store.insertMessage(batch[0]).then((r) => [r])
              : store.insertMessages(batch),
          );
        });
      }
      const results = (await Promise.all(writes)).flat();
      const byId = new Map<number, Inserted>();
      for (const r of results) {
        const seen = byId.get(r.message.id);
        if (seen) assert.deepEqual({ ...r, duplicate: false }, { ...seen, duplicate: false });
        if (!r.duplicate || !seen) byId.set(r.message.id, r);
      }
      assert.equal(
        results.filter((r) => !r.duplicate).length,
        byId.size,
        "each message stored once",
      );
      assert.equal(await s.countMessages(), byId.size);
      for (const u of users) {
        const entries = await s.inbox(u, { after: 0, limit: 1000 });
        await denseInbox(s, u);
        for (const e of entries) {
          const r = byId.get(e.message.id)!;
          assert.equal(u === r.message.senderId ? r.senderSeq : r.recipientSeq, e.seq);
        }
        const mine = [...byId.values()].filter((r) =>
          r.message.senderId === u || r.message.recipientId === u
        );
        assert.equal(entries.length, mine.length, `user ${u} has one entry per message`);
      }
    } finally {
      for (const o of others) await o.close();
    }
  },

  "a batch refused as a whole stores nothing and advances no head": async (s, h) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    await s.insertMessages([msg(ann.id, bob.id, "a"), msg(bob.id, ann.id, "b")]);
    const heads = await s.inboxHeads([ann.id, bob.id]);
    // Refused before any SQL: one row too long.
    const tooLong = { ...msg(ann.id, bob.id, "long"), text: "x".repeat(20_001) };
    await assert.rejects(s.insertMessages([msg(ann.id, bob.id, "c"), tooLong]), isCode("too_long"));
    // Refused by the database half-way: a stray message (from a user with no inbox) takes
    // the seq bob's next message needs in bob's inbox.
    await h.sql(
      `INSERT INTO messages (sender_id, recipient_id, client_id, text, created_at, sender_seq,
        recipient_seq) VALUES (?, ?, 'stray', '', 0, 1, 3)`,
      [bob.id + 1000, bob.id],
    );
    const batch = [msg(ann.id, bob.id, "c"), msg(bob.id, ann.id, "d"), msg(ann.id, ann.id, "e")];
    await assert.rejects(s.insertMessages(batch));
    assert.equal(await s.countMessages(ann.id), 2);
    assert.deepEqual(await s.inboxHeads([ann.id, bob.id]), heads);
    assert.equal((await s.history(ann.id, bob.id, { limit: 10 })).length, 2);
    await h.sql("DELETE FROM messages WHERE client_id = 'stray'");
    const out = await s.insertMessages(batch);
    assert.deepEqual(out.map((r) => [r.duplicate, r.senderSeq, r.recipientSeq]), [
      [false, 3, 3],
      [false, 4, 4],
      [false, 5, 5],
    ]);
    await denseInbox(s, ann.id);
    await denseInbox(s, bob.id);
  },

  "openDevice() starts a new device where the user's devices are, and keeps a known one's cursor":
    async (s, h) => {
      const ann = await makeUser(s, "ann");
      const bob = await makeUser(s, "bob");
      const first = await s.openDevice(ann.id, "phone-1", "phone", 1000);
      assert.deepEqual(first, {
        userId: ann.id,
        deviceId: "phone-1",
        label: "phone",
        ackedSeq: 0,
        createdAt: 1000,
        lastSeenAt: 1000,
      });
      await s.advanceDevices([{ userId: ann.id, deviceId: "phone-1", ackedSeq: 5 }]);
      const laptop = await s.openDevice(ann.id, "laptop:1", "", 2000);
      assert.equal(laptop.ackedSeq, 5, "starts at the most advanced other device");
      // Known again: the label and lastSeenAt change, the cursor and createdAt stay.
      assert.deepEqual(await s.openDevice(ann.id, "phone-1", "my phone", 3000), {
        ...first,
        label: "my phone",
        ackedSeq: 5,
        lastSeenAt: 3000,
      });
      // base_seq (set by migration 2 for what the old system had delivered) wins when higher.
      await h.sql("INSERT INTO inbox_heads (user_id, seq, base_seq) VALUES (?, 9, 7)", [bob.id]);
      assert.equal((await s.openDevice(bob.id, "b1", "", 1)).ackedSeq, 7);
      await s.advanceDevices([{ userId: bob.id, deviceId: "b1", ackedSeq: 8 }]);
      assert.equal((await s.openDevice(bob.id, "b2", "", 1)).ackedSeq, 8);
      assert.deepEqual((await s.devices(ann.id)).map((d) => [d.deviceId, d.ackedSeq]), [
        ["laptop:1", 5],
        ["phone-1", 5],
      ]);
      const racing = await Promise.all([1, 2, 3].map(() => s.openDevice(ann.id, "tab", "t", 9)));
      assert.equal(new Set(racing.map((d) => JSON.stringify(d))).size, 1);
      assert.equal((await s.devices(ann.id)).length, 3);
      await assert.rejects(s.openDevice(ann.id, "", "x", 1), isCode("bad_request"));
      await assert.rejects(s.openDevice(ann.id, "a b", "x", 1), isCode("bad_request"));
      await assert.rejects(s.openDevice(ann.id, "d".repeat(65), "x", 1), isCode("bad_request"));
      await assert.rejects(s.openDevice(ann.id, "ok", "l".repeat(65), 1), isCode("too_long"));
    },

  "advanceDevices() never moves a cursor back and skips unknown devices": async (s) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    await s.openDevice(ann.id, "a1", "", 1);
    await s.openDevice(ann.id, "a2", "", 1);
    await s.openDevice(bob.id, "b1", "", 1);
    await s.advanceDevices([]);
    await s.advanceDevices([
      { userId: ann.id, deviceId: "a1", ackedSeq: 10 },
      { userId: ann.id, deviceId: "a1", ackedSeq: 4 },
      { userId: bob.id, deviceId: "b1", ackedSeq: 3 },
      { userId: bob.id, deviceId: "nope", ackedSeq: 3 },
    ]);
    await s.advanceDevices([
      { userId: ann.id, deviceId: "a1", ackedSeq: 6 },
      { userId: ann.id, deviceId: "a2", ackedSeq: 2 },
    ]);
    const seqs = async (u: number) => (await s.devices(u)).map((d) => [d.deviceId, d.ackedSeq]);
    assert.deepEqual(await seqs(ann.id), [["a1", 10], ["a2", 2]]);
    assert.deepEqual(await seqs(bob.id), [["b1", 3]]);
    // Racing calls keep the highest; a call larger than one statement is chunked.
    const ups = Array.from({ length: 1100 }, (_, i) => ({
      userId: i % 2 ? ann.id : bob.id,
      deviceId: i % 2 ? "a2" : "b1",
      ackedSeq: i,
    }));
    await Promise.all([s.advanceDevices(ups.slice(0, 600)), s.advanceDevices(ups.slice(400))]);
    assert.deepEqual(await seqs(ann.id), [["a1", 10], ["a2", 1099]]);
    assert.deepEqual(await seqs(bob.id), [["b1", 1098]]);
  },

  "pruneDevices() forgets devices last opened before a time, and only those": async (s) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    assert.equal(await s.pruneDevices(10_000), 0);
    await s.openDevice(ann.id, "a1", "", 1000);
    await s.openDevice(ann.id, "a2", "", 5000);
    await s.openDevice(bob.id, "b1", "old", 3000);
    await s.advanceDevices([{ userId: bob.id, deviceId: "b1", ackedSeq: 3 }]);
    await s.openDevice(ann.id, "a1", "", 6000); // seen again
    assert.equal(await s.pruneDevices(4000), 1);
    assert.deepEqual((await s.devices(ann.id)).map((d) => d.deviceId), ["a1", "a2"]);
    assert.deepEqual(await s.devices(bob.id), []);
    assert.equal(await s.pruneDevices(5000), 0, "last seen at the limit is kept");
    assert.equal(await s.pruneDevices(5001), 1);
    assert.deepEqual((await s.devices(ann.id)).map((d) => d.deviceId), ["a1"]);
    // A forgotten device that comes back is new: it starts where a new device starts.
    const back = await s.openDevice(bob.id, "b1", "new", 7000);
    assert.deepEqual([back.ackedSeq, back.createdAt, back.label], [0, 7000, "new"]);
  },

  "advanceCursors() moves many cursors forward in one call, never back": async (s) => {
    const [me, ann, bob] = [
      await makeUser(s, "me"),
      await makeUser(s, "ann"),
      await makeUser(s, "bob"),
    ];
    assert.deepEqual(await s.advanceCursors([]), []);
    await s.advanceCursor(me.id, bob.id, { deliveredId: 50, readId: 20 });
    const out = await s.advanceCursors([
      { userId: me.id, peerId: ann.id, deliveredId: 10 },
      { userId: me.id, peerId: bob.id, deliveredId: 30, readId: 25 },
      { userId: me.id, peerId: ann.id, readId: 12 },
      { userId: ann.id, peerId: me.id, deliveredId: 7 },
    ]);
    assert.deepEqual(out, [
      { userId: me.id, peerId: ann.id, deliveredId: 12, readId: 12 },
      { userId: me.id, peerId: bob.id, deliveredId: 50, readId: 25 },
      { userId: ann.id, peerId: me.id, deliveredId: 7, readId: 0 },
    ]);
    assert.deepEqual(await s.cursor(me.id, bob.id), out[1]);
    // Unknown pairs in the same IN lists as known ones are not reported.
    assert.deepEqual(await s.advanceCursors([{ userId: ann.id, peerId: bob.id }]), [
      { userId: ann.id, peerId: bob.id, deliveredId: 0, readId: 0 },
    ]);
  },
};
