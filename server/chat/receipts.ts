/**
 * A session's log of the messages it sent its client from other users, by
 * inbox seq, so that a seq ack ("this device holds every entry up to N")
 * turns into delivered receipts without a query: every message with seq
 * <= N is delivered, so per sender the highest such id is the sender's new
 * delivered cursor. Entries leave the log when acked.
 *
 * A client that never acks must not make the log grow without end: past
 * MAX_ENTRIES the oldest half is folded into a per-sender summary that the
 * first ack reaching its last seq releases whole (its receipts then wait
 * for that ack, nothing is lost).
 */

/** Entries kept one by one; beyond, the oldest half is folded. */
export const MAX_ENTRIES = 1024;

export class ReceiptLog {
  /** seq, from, id of each entry, flat, oldest first, from index #head on. */
  #flat: number[] = [];
  #head = 0;
  #folded: Map<number, number> | undefined;
  #foldedUpTo = 0;

  /** Entries held one by one (for tests). */
  get size(): number {
    return (this.#flat.length - this.#head) / 3;
  }

  /**
   * Records that the message `id` from `from` was sent at `seq`. Seqs come
   * in ascending order but for entries a client fetched out of turn, which
   * are put in their place; a seq already logged is not logged twice.
   */
  add(seq: number, from: number, id: number): void {
    const flat = this.#flat;
    let i = flat.length;
    while (i > this.#head && flat[i - 3] > seq) i -= 3;
    if (i > this.#head && flat[i - 3] === seq) return;
    if (i === flat.length) flat.push(seq, from, id);
    else flat.splice(i, 0, seq, from, id);
    if (this.size > MAX_ENTRIES) this.#fold(MAX_ENTRIES / 2);
  }

  /**
   * The receipts an ack up to `upTo` makes: per sender, the highest message
   * id among the entries with seq <= upTo (which leave the log). Null if none.
   */
  take(upTo: number): Map<number, number> | null {
    let out: Map<number, number> | null = null;
    if (this.#folded && upTo >= this.#foldedUpTo) {
      out = this.#folded;
      this.#folded = undefined;
    }
    const flat = this.#flat;
    let i = this.#head;
    for (; i < flat.length && flat[i] <= upTo; i += 3) {
      out ??= new Map();
      const from = flat[i + 1], id = flat[i + 2];
      if ((out.get(from) ?? 0) < id) out.set(from, id);
    }
    this.#drop(i);
    return out;
  }

  #fold(entries: number): void {
    const folded = this.#folded ??= new Map();
    const flat = this.#flat;
    const end = this.#head + entries * 3;
    for (let i = this.#head; i < end; i += 3) {
      const from = flat[i + 1], id = flat[i + 2];
      if ((folded.get(from) ?? 0) < id) folded.set(from, id);
      this.#foldedUpTo = flat[i];
    }
    this.#drop(end);
  }

  /** Forgets the entries before index `i`, compacting once half the array is dead. */
  #drop(i: number): void {
    this.#head = i;
    if (this.#head === this.#flat.length) {
      this.#flat = [];
      this.#head = 0;
    } else if (this.#head > 3 * 256 && this.#head * 2 > this.#flat.length) {
      this.#flat = this.#flat.slice(this.#head);
      this.#head = 0;
    }
  }
}
