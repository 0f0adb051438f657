/**
 * The node's message writer: groups the msg.send calls of all sessions into
 * multi-row `store.insertMessages` batches (group commit). A durable
 * autocommit INSERT per message spends its time waiting for MySQL's log
 * flush; one batch pays that wait once for many messages.
 *
 * - Messages go into lanes by conversation; one batch per lane is in
 *   flight at a time, so within a conversation ids follow the order of
 *   `write()` calls. Different lanes commit concurrently.
 * - An idle lane flushes after `delayMs` (to gather what arrives in the
 *   same few socket reads); a busy lane flushes what queued as soon as its
 *   batch returns, or at once when `maxBatch` are waiting.
 * - Each `write()` resolves only once its own row is stored (or found: the
 *   store keeps (sender, client_id) idempotent, duplicates inside one batch
 *   included).
 * - A batch the store refuses as a whole is retried row by row, so a bad
 *   row fails only its own sender; a batch that fails for another reason
 *   (the database is down: a 5xx such as store_unavailable) fails every
 *   write in it.
 */
import { AppError } from "../../proto/errors.ts";
import type { Inserted, MessageInput, Store } from "../store/types.ts";

export type { Inserted, MessageInput };

export interface WriterOptions {
  /** Most rows in one INSERT. */
  maxBatch?: number;
  /** Concurrent batches (each on its own lane of conversations). */
  lanes?: number;
  /** How long an idle lane waits for more rows before it flushes. */
  delayMs?: number;
}

interface Pending {
  input: MessageInput;
  resolve(r: Inserted): void;
  reject(e: unknown): void;
}

interface Lane {
  queue: Pending[];
  busy: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class MessageWriter {
  readonly maxBatch: number;
  readonly delayMs: number;
  /** write() calls so far (a running total, for telling a quiet node). */
  writes = 0;
  #store: Store;
  #lanes: Lane[];
  #inFlight = new Set<Promise<void>>();

  constructor(store: Store, options: WriterOptions = {}) {
    this.#store = store;
    this.maxBatch = options.maxBatch ?? 256;
    this.delayMs = options.delayMs ?? 1;
    this.#lanes = Array.from(
      { length: Math.max(1, options.lanes ?? 2) },
      () => ({ queue: [], busy: false, timer: undefined }),
    );
  }

  /** Stores one message; resolves once its row is stored (or its earlier copy found). */
  write(input: MessageInput): Promise<Inserted> {
    this.writes++;
    const { promise, resolve, reject } = Promise.withResolvers<Inserted>();
    const lane = this.#lanes[laneOf(input, this.#lanes.length)];
    lane.queue.push({ input, resolve, reject });
    if (lane.busy) return promise;
    if (lane.queue.length >= this.maxBatch) this.#start(lane);
    else lane.timer ??= setTimeout(() => this.#start(lane), this.delayMs);
    return promise;
  }

  /** Resolves once every batch that started has finished (for shutdown). */
  async settle(): Promise<void> {
    for (const lane of this.#lanes) if (!lane.busy && lane.queue.length) this.#start(lane);
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  #start(lane: Lane): void {
    clearTimeout(lane.timer);
    lane.timer = undefined;
    lane.busy = true;
    const run = this.#drain(lane).finally(() => this.#inFlight.delete(run));
    this.#inFlight.add(run);
  }

  async #drain(lane: Lane): Promise<void> {
    while (lane.queue.length > 0) {
      await this.#flush(lane.queue.splice(0, this.maxBatch));
    }
    lane.busy = false;
  }

  async #flush(batch: Pending[]): Promise<void> {
    let results: Inserted[];
    try {
      results = await this.#store.insertMessages(batch.map((p) => p.input));
    } catch (e) {
      if (!(e instanceof AppError) || e.status >= 500 || batch.length === 1) {
        for (const p of batch) p.reject(e);
        return;
      }
      // Refused before anything was written (a row the store will not take): row by row.
      for (const p of batch) {
        try {
          p.resolve(await this.#store.insertMessage(p.input));
        } catch (e) {
          p.reject(e);
        }
      }
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i]));
  }
}

/** Both directions of a conversation share a lane. */
function laneOf(m: MessageInput, lanes: number): number {
  const a = Math.min(m.senderId, m.recipientId);
  const b = Math.max(m.senderId, m.recipientId);
  return ((a * 31 + b) >>> 0) % lanes;
}
