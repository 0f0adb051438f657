/** MessageWriter on both real stores: batching, order, idempotency inside a batch, errors per sender. */
import assert from "node:assert/strict";
import { silentLogger } from "../log.ts";
import { openStore } from "../store/mod.ts";
import type { Store } from "../store/types.ts";
import { freshMysql, tempDir } from "../../testing/mod.ts";
import { MAX_BATCH_TEXT, type MessageInput, MessageWriter } from "./writer.ts";

interface Fixture {
  store: Store;
  users: number[];
  /** Sizes of the insertMessages calls the writer made. */
  batches: number[];
}

async function withStore(kind: "sqlite" | "mysql", fn: (f: Fixture) => Promise<void>) {
  const dir = kind === "sqlite" ? await tempDir() : null;
  const db = kind === "mysql" ? await freshMysql() : null;
  const store = await openStore(dir ? `sqlite:${dir.path}/w.db` : db!.url, { log: silentLogger });
  try {
    await store.migrate();
    const users: number[] = [];
    for (const name of ["ann", "bob", "cid", "dee"]) {
      users.push(
        (await store.createUser({ email: `${name}@example.com`, name, passwordHash: "x" })).id,
      );
    }
    const batches: number[] = [];
    const insertMessages = store.insertMessages.bind(store);
    store.insertMessages = (inputs, onLocked) => {
      batches.push(inputs.length);
      return insertMessages(inputs, onLocked);
    };
    await fn({ store, users, batches });
  } finally {
    await store.close();
    await db?.drop();
    await dir?.remove();
  }
}

const msg = (senderId: number, recipientId: number, clientId: string): MessageInput => ({
  senderId,
  recipientId,
  clientId,
  text: `text of ${clientId}`,
  createdAt: Date.now(),
});

for (const kind of ["sqlite", "mysql"] as const) {
  Deno.test(`${kind}: concurrent writes share batches and ids follow write order per conversation`, async () => {
    await withStore(kind, async ({ store, users: [a, b, c, d], batches }) => {
      const writer = new MessageWriter(store, { lanes: 2 });
      const inputs: MessageInput[] = [];
      for (let i = 0; i < 60; i++) {
        inputs.push(msg(a, b, `ab${i}`), msg(b, a, `ba${i}`), msg(c, d, `cd${i}`));
      }
      const results = await Promise.all(inputs.map((m) => writer.write(m)));
      await writer.settle();
      assert.ok(batches.length < inputs.length / 4, `batches: ${batches.join(",")}`);
      assert.ok(results.every((r) => !r.duplicate));
      assert.deepEqual(results.map((r) => r.message.clientId), inputs.map((m) => m.clientId));
      // Within each conversation (both directions), ids rise in the order of the writes.
      for (const pair of [[a, b], [c, d]]) {
        const ids = results.filter((r) => pair.includes(r.message.senderId)).map((r) =>
          r.message.id
        );
        assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
        assert.equal(new Set(ids).size, ids.length);
      }
      assert.equal(await store.countMessages(), inputs.length);
      const stored = await store.history(a, b, { limit: 200 });
      assert.deepEqual(
        stored.reverse().map((m) => m.clientId),
        inputs.filter((m) => m.senderId !== c).map((m) => m.clientId),
      );
    });
  });

  Deno.test(`${kind}: a client_id repeated inside one batch is stored once and the copy is a duplicate`, async () => {
    await withStore(kind, async ({ store, users: [a, b], batches }) => {
      const writer = new MessageWriter(store);
      const before = await writer.write(msg(a, b, "old"));
      const [first, again, other, retry] = await Promise.all([
        writer.write(msg(a, b, "same")),
        writer.write(msg(a, b, "same")),
        writer.write(msg(b, a, "same")),
        writer.write(msg(a, b, "old")),
      ]);
      assert.deepEqual(batches, [1, 4]);
      assert.equal(first.duplicate, false);
      assert.equal(again.duplicate, true);
      assert.deepEqual(again.message, first.message);
      // The key is (sender, client_id): another sender's "same" is its own message.
      assert.equal(other.duplicate, false);
      assert.notEqual(other.message.id, first.message.id);
      assert.equal(retry.duplicate, true);
      assert.equal(retry.message.id, before.message.id);
      assert.equal(await store.countMessages(), 3);
      await writer.settle();
    });
  });

  Deno.test(`${kind}: a row the store refuses fails only its own write, the rest of its batch is stored`, async () => {
    await withStore(kind, async ({ store, users: [a, b] }) => {
      const writer = new MessageWriter(store);
      const writes = [
        writer.write(msg(a, b, "one")),
        writer.write({ ...msg(a, b, "bad"), text: "nul \0 inside" }),
        writer.write(msg(b, a, "two")),
        writer.write({ ...msg(a, b, "three"), clientId: "" }),
        writer.write(msg(a, b, "four")),
      ];
      const settled = await Promise.allSettled(writes);
      assert.deepEqual(settled.map((s) => s.status), [
        "fulfilled",
        "rejected",
        "fulfilled",
        "rejected",
        "fulfilled",
      ]);
      const codes = settled.map((s) => s.status === "rejected" ? s.reason.code : null);
      assert.deepEqual(codes, [null, "bad_request", null, "bad_request", null]);
      const ids = settled.flatMap((s) => s.status === "fulfilled" ? [s.value.message.id] : []);
      assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
      assert.equal(await store.countMessages(), 3);
      await writer.settle();
    });
  });
}

Deno.test("a batch reaching maxBatch is written at once, and a failing store rejects every write in its batch", async () => {
  await withStore("sqlite", async ({ store, users: [a, b], batches }) => {
    const writer = new MessageWriter(store, { maxBatch: 3, lanes: 1, delayMs: 10_000 });
    const results = await Promise.all([0, 1, 2].map((i) => writer.write(msg(a, b, `m${i}`))));
    assert.equal(results.length, 3);
    assert.deepEqual(batches, [3]);
    store.insertMessages = () => Promise.reject(new Error("database went away"));
    const failed = await Promise.allSettled([
      writer.write(msg(a, b, "x")),
      writer.write(msg(a, b, "y")),
      writer.write(msg(a, b, "z")),
    ]);
    assert.deepEqual(failed.map((f) => f.status === "rejected" && f.reason.message), [
      "database went away",
      "database went away",
      "database went away",
    ]);
    await writer.settle();
  });
});

Deno.test("over maxBacklog, relieved() holds senders until the backlog is down to half, failed batches included", async () => {
  await withStore("sqlite", async ({ store, users: [a, b], batches }) => {
    const writer = new MessageWriter(store, { maxBatch: 2, lanes: 1, maxBacklog: 4 });
    // The store answers only when the test lets it: the backlog is what was written.
    const gates: PromiseWithResolvers<void>[] = [];
    const insertMessages = store.insertMessages.bind(store);
    let fail = false;
    store.insertMessages = async (inputs) => {
      const gate = Promise.withResolvers<void>();
      gates.push(gate);
      await gate.promise;
      if (fail) throw new Error("database went away");
      return insertMessages(inputs);
    };
    const open = (n: number) => gates[n].resolve();
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 4; i++) writes.push(writer.write(msg(a, b, `w${i}`)));
    assert.equal(writer.backlog, 4);
    assert.equal(writer.relieved(), null, "at the bound, nobody waits");
    writes.push(writer.write(msg(a, b, "w4")));
    const relieved = writer.relieved();
    assert.ok(relieved, "over the bound, senders wait");
    assert.equal(writer.relieved(), relieved, "every sender waits for the same relief");
    let done = false;
    relieved.then(() => done = true);
    while (gates.length < 1) await new Promise((r) => setTimeout(r, 1));
    open(0); // 2 stored: 3 left, over half of 4
    while (gates.length < 2) await new Promise((r) => setTimeout(r, 1));
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(writer.backlog, 3);
    assert.equal(done, false);
    fail = true;
    open(1); // 2 failed: they leave the backlog too (their senders got the error)
    await relieved;
    assert.equal(writer.backlog, 1);
    assert.equal(writer.relieved(), null);
    while (gates.length < 3) await new Promise((r) => setTimeout(r, 1));
    fail = false;
    open(2);
    const settled = await Promise.allSettled(writes);
    assert.deepEqual(settled.map((s) => s.status), [
      "fulfilled",
      "fulfilled",
      "rejected",
      "rejected",
      "fulfilled",
    ]);
    assert.equal(writer.backlog, 0);
    assert.equal(gates.length, 3);
    assert.deepEqual(batches, [2, 1], "the batch that failed never reached the store");
    await writer.settle();
  });
});

for (const kind of ["sqlite", "mysql"] as const) {
  Deno.test(`${kind}: a batch holds at most MAX_BATCH_TEXT of text: long messages make smaller batches`, async () => {
    await withStore(kind, async ({ store, users: [a, b], batches }) => {
      const writer = new MessageWriter(store, { lanes: 1, delayMs: 5 });
      const long = "x".repeat(4000);
      const perBatch = Math.floor(MAX_BATCH_TEXT / long.length);
      const inputs = Array.from({ length: perBatch + 10 }, (_, i) => ({
        ...msg(a, b, `l${i}`),
        text: long,
      }));
      const results = await Promise.all(inputs.map((m) => writer.write(m)));
      assert.equal(results.length, inputs.length);
      assert.deepEqual(batches, [perBatch, 10]);
      await writer.settle();
    });
  });
}

Deno.test("a lane's next batch starts once the one before holds its inbox heads, with at most two in flight", async () => {
  await withStore("sqlite", async ({ store, users: [a, b] }) => {
    const writer = new MessageWriter(store, { maxBatch: 2, lanes: 1, delayMs: 10_000 });
    // Each call waits for the test twice: before it says it holds the heads, and before it stores.
    const calls: { lock(): void; finish(): void }[] = [];
    const insertMessages = store.insertMessages.bind(store);
    store.insertMessages = async (inputs, onLocked) => {
      const locked = Promise.withResolvers<void>();
      const finished = Promise.withResolvers<void>();
      calls.push({ lock: locked.resolve, finish: finished.resolve });
      await locked.promise;
      onLocked?.();
      await finished.promise;
      return insertMessages(inputs);
    };
    const tick = () => new Promise((r) => setTimeout(r, 5));
    const writes = Array.from({ length: 6 }, (_, i) => writer.write(msg(a, b, `p${i}`)));
    await tick();
    assert.equal(calls.length, 1, "the second batch waits while the first does not hold its heads");
    calls[0].lock();
    await tick();
    assert.equal(calls.length, 2, "then it starts, the first still in flight");
    calls[1].lock();
    await tick();
    assert.equal(calls.length, 2, "never a third in flight");
    calls[0].finish();
    await tick();
    assert.equal(calls.length, 3, "the first done, the third starts behind the second");
    calls[1].finish();
    calls[2].lock();
    calls[2].finish();
    const results = await Promise.all(writes);
    const ids = results.map((r) => r.message.id);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
    await writer.settle();
  });
});

for (const kind of ["sqlite", "mysql"] as const) {
  Deno.test(`${kind}: batches in flight together (MySQL) keep every user's ids and seqs in write order`, async () => {
    await withStore(kind, async ({ store, users: [a, b, c], batches }) => {
      const writer = new MessageWriter(store, { maxBatch: 4, lanes: 1, delayMs: 1 });
      let inFlight = 0;
      let most = 0;
      const insertMessages = store.insertMessages.bind(store);
      store.insertMessages = async (inputs, onLocked) => {
        most = Math.max(most, ++inFlight);
        try {
          return await insertMessages(inputs, onLocked);
        } finally {
          inFlight--;
        }
      };
      // b is in both conversations: its inbox takes entries from both.
      const inputs: MessageInput[] = [];
      for (let i = 0; i < 40; i++) {
        inputs.push(msg(a, b, `ab${i}`), msg(b, c, `bc${i}`), msg(c, b, `cb${i}`));
      }
      const results: Awaited<ReturnType<MessageWriter["write"]>>[] = [];
      const writes: Promise<void>[] = [];
      for (const [i, m] of inputs.entries()) {
        // A few at a time, as sockets deliver them, so that batches overlap.
        if (i % 6 === 0) await new Promise((r) => setTimeout(r, 0));
        writes.push(writer.write(m).then((r) => void (results[i] = r)));
      }
      await Promise.all(writes);
      await writer.settle();
      assert.ok(batches.length >= 10, `batches: ${batches.join(",")}`);
      // On SQLite one transaction runs at a time: the store never says a batch holds its heads.
      assert.equal(most, kind === "mysql" ? 2 : 1, "batches of one lane in flight together");
      const rising = (xs: number[]) => assert.deepEqual(xs, [...xs].sort((x, y) => x - y));
      for (const pair of [[a, b], [b, c]]) {
        rising(
          results.filter((r) =>
            pair.includes(r.message.senderId) &&
            pair.includes(r.message.recipientId)
          ).map((r) => r.message.id),
        );
      }
      const seqOf = (r: (typeof results)[number], u: number) =>
        r.message.senderId === u ? r.senderSeq : r.recipientSeq;
      const ofB = results.filter((r) => r.message.senderId === b || r.message.recipientId === b);
      assert.deepEqual(ofB.map((r) => seqOf(r, b)), ofB.map((_, i) => i + 1));
      rising(ofB.map((r) => r.message.id));
    });
  });
}
