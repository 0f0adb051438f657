/**
 * What the load generator counts: a mergeable latency histogram (log
 * buckets, about 1% precision, so workers can ship theirs to the
 * coordinator as a small sparse map) and the per-conversation checker that
 * decides, at the receiver, whether every message arrived exactly once and
 * in order.
 */

const GROWTH = Math.log(1.01);
/** Values are kept in microseconds; below 1 µs counts as 1 µs. */
const bucketOf = (ms: number) => Math.max(0, Math.round(Math.log(Math.max(1, ms * 1000)) / GROWTH));
const valueOf = (bucket: number) => Math.exp(bucket * GROWTH) / 1000;

/** Sparse histogram of milliseconds; `toJSON()` and `merge()` let workers combine. */
export class Histogram {
  #counts = new Map<number, number>();
  #n = 0;
  #max = 0;
  #sum = 0;

  record(ms: number): void {
    const b = bucketOf(ms);
    this.#counts.set(b, (this.#counts.get(b) ?? 0) + 1);
    this.#n++;
    this.#sum += ms;
    if (ms > this.#max) this.#max = ms;
  }

  get count(): number {
    return this.#n;
  }

  get max(): number {
    return this.#max;
  }

  get mean(): number {
    return this.#n ? this.#sum / this.#n : 0;
  }

  /** The value at quantile q (0..1), within the bucket's ~1%; exact for the max. */
  quantile(q: number): number {
    if (this.#n === 0) return 0;
    if (q >= 1) return this.#max;
    const rank = Math.ceil(q * this.#n);
    let seen = 0;
    for (const b of [...this.#counts.keys()].sort((x, y) => x - y)) {
      seen += this.#counts.get(b)!;
      if (seen >= rank) return Math.min(valueOf(b), this.#max);
    }
    return this.#max;
  }

  toJSON(): HistogramData {
    return { counts: [...this.#counts], n: this.#n, max: this.#max, sum: this.#sum };
  }

  merge(data: HistogramData): void {
    for (const [b, c] of data.counts) this.#counts.set(b, (this.#counts.get(b) ?? 0) + c);
    this.#n += data.n;
    this.#sum += data.sum;
    if (data.max > this.#max) this.#max = data.max;
  }

  static from(parts: HistogramData[]): Histogram {
    const h = new Histogram();
    for (const p of parts) h.merge(p);
    return h;
  }
}

export interface HistogramData {
  counts: [number, number][];
  n: number;
  max: number;
  sum: number;
}

/** Delivery faults, summed over conversations. */
export interface Faults {
  /** Acked to the sender but never delivered to the receiver. */
  lost: number;
  /** Delivered more than once. */
  duplicate: number;
  /** Delivered after a message the sender sent later. */
  outOfOrder: number;
  /** Delivered but never sent in this run (a stale or foreign message). */
  unexpected: number;
}

export const noFaults = (): Faults => ({ lost: 0, duplicate: 0, outOfOrder: 0, unexpected: 0 });

export function addFaults(a: Faults, b: Faults): Faults {
  return {
    lost: a.lost + b.lost,
    duplicate: a.duplicate + b.duplicate,
    outOfOrder: a.outOfOrder + b.outOfOrder,
    unexpected: a.unexpected + b.unexpected,
  };
}

/**
 * One conversation (one sender to one receiver), with seqs 0, 1, 2, ... as
 * the sender numbered them. The sender side marks seqs sent and acked; the
 * receiver side marks seqs delivered; `faults()` compares them.
 */
export class Conversation {
  #sent = 0;
  #acked = new Uint8Array(64);
  #seen = new Uint8Array(64);
  #maxSeen = -1;
  delivered = 0;
  duplicate = 0;
  outOfOrder = 0;
  unexpected = 0;

  /** The next seq to send. */
  nextSeq(): number {
    return this.#sent++;
  }

  get sent(): number {
    return this.#sent;
  }

  ack(seq: number): void {
    this.#acked = grow(this.#acked, seq);
    this.#acked[seq] = 1;
  }

  /** Records a delivery; false if it was a duplicate or was never sent. */
  deliver(seq: number): boolean {
    if (!Number.isInteger(seq) || seq < 0 || seq >= this.#sent) {
      this.unexpected++;
      return false;
    }
    this.#seen = grow(this.#seen, seq);
    if (this.#seen[seq]) {
      this.duplicate++;
      return false;
    }
    this.#seen[seq] = 1;
    this.delivered++;
    if (seq < this.#maxSeen) this.outOfOrder++;
    else this.#maxSeen = seq;
    return true;
  }

  /** Acked seqs with no delivery yet. */
  missing(): number {
    let n = 0;
    for (let s = 0; s < this.#sent; s++) if (this.#acked[s] && !this.#seen[s]) n++;
    return n;
  }

  acked(): number {
    let n = 0;
    for (let s = 0; s < this.#sent; s++) if (this.#acked[s]) n++;
    return n;
  }

  faults(): Faults {
    return {
      lost: this.missing(),
      duplicate: this.duplicate,
      outOfOrder: this.outOfOrder,
      unexpected: this.unexpected,
    };
  }
}

function grow(a: Uint8Array<ArrayBuffer>, index: number): Uint8Array<ArrayBuffer> {
  if (index < a.length) return a;
  let n = a.length;
  while (n <= index) n *= 2;
  const b = new Uint8Array(n);
  b.set(a);
  return b;
}
