/** The receipt log: per-sender highest ids up to an ack, entries fetched out of turn, folding. */
import assert from "node:assert/strict";
import { MAX_ENTRIES, ReceiptLog } from "./receipts.ts";

Deno.test("ReceiptLog.take() gives per sender the highest id up to the ack, once", () => {
  const log = new ReceiptLog();
  log.add(1, 7, 10);
  log.add(2, 8, 11);
  log.add(4, 7, 14);
  assert.equal(log.take(0), null);
  assert.deepEqual(log.take(2), new Map([[7, 10], [8, 11]]));
  assert.equal(log.take(3), null, "nothing more up to 3");
  // An entry fetched out of turn takes its place; a seq logged twice counts once.
  log.add(3, 9, 13);
  log.add(3, 9, 13);
  assert.equal(log.size, 2);
  assert.deepEqual(log.take(10), new Map([[9, 13], [7, 14]]));
  assert.equal(log.size, 0);
});

Deno.test("ReceiptLog folds a client that never acks into a summary the next ack releases whole", () => {
  const log = new ReceiptLog();
  const n = MAX_ENTRIES * 3;
  for (let seq = 1; seq <= n; seq++) log.add(seq, seq % 2 ? 7 : 8, 1000 + seq);
  assert.ok(log.size <= MAX_ENTRIES, `${log.size} entries kept`);
  const all = log.take(n);
  assert.deepEqual(all, new Map([[7, 1000 + n - 1], [8, 1000 + n]]));
  assert.equal(log.size, 0);
  assert.equal(log.take(n + 5), null);
});
