/**
 * The node's message writer: groups the msg.send calls of all sessions into
 * multi-row `store.insertMessages` batches (group commit). A durable
 * autocommit INSERT per message spends its time waiting for MySQL's log
 * flush; one batch pays that wait once for many messages.
 *
 * - Messages go into lanes by conversation. A lane starts its next batch
 *   once the one before holds its users' inbox heads (MySQL says so after
 *   the first of a batch's two round trips), with at most two in flight:
 *   the store's head locks make the later batch wait for the earlier one's
 *   commit wherever they share a user, so within a conversation ids and
 *   seqs still follow the order of `write()` calls. With one batch per
 *   lane at a time, a lane stood idle through each batch's first round
 *   trip: 400 senders with 8 messages in flight each stored 27.2-28.1k
 *   msg/s, against 30.0-30.3k with two (quick runs, one after the other).
 *   Different lanes commit concurrently.
 * - An idle lane flushes after `delayMs` (to gather what arrives in the
 *   same few socket reads); a busy lane flushes what queued as soon as its
 *   batch returns, or at once when `maxBatch` are waiting.
 * - Each `write()` resolves only once its own row is stored (or found: the
 *   store keeps (sender, client_id) idempotent, duplicates inside one batch
 *   included).
 * - Its backlog is bounded: with more than `maxBacklog` rows waiting or
 *   being stored, `relieved()` returns a promise that resolves once the
 *   backlog is down to half, and the sessions stop reading until then
 *   (frame_loop.ts). The bound is 8 full batches per lane (8,192 rows by
 *   default, a few MB): it bounds the heap under an overload, and a
 *   thousand senders keeping 8 messages each in flight stay under it. A
 *   bound of 2,048 rows held back 400 pairs with 8 messages in flight each
 *   (3,200 rows): the node stopped and restarted reading in waves and
 *   stored 22% less.
 * - A batch the store refuses as a whole is retried row by row, so a bad
 *   row fails only its own sender; a batch that fails for another reason
 *   (the database is down: a 5xx such as store_unavailable) fails every
 *   write in it.
 */
import { AppError } from "../../proto/errors.ts";
import type { Inserted, MessageInput, Store } from "../store/types.ts";
import { batchLength } from "./batching.ts";

export type { Inserted, MessageInput };

export interface WriterOptions {
  /**
   * Most rows in one INSERT. 512: with 400 senders keeping 8 messages in
   * flight each, batches of 256 stored 18.6-24.1k msg/s and of 512
   * 25.7-27.0k (fewer commits); at 20,000 msg/s offered, 1,024 stored less
   * than 256 (14.0-15.0k against 15.5-17.2k msg/s), 512 as much (17.8k).
   */
  maxBatch?: number;
  /** Concurrent batches (each on its own lane of conversations). */
  lanes?: number;
  /** How long an idle lane waits for more rows before it flushes. */
  delayMs?: number;
  /** Rows waiting or being stored above which `relieved()` asks senders to wait. */
  maxBacklog?: number;
}

/**
 * Most text (UTF-16 units) in one batch: at most 3 bytes of UTF-8 each,
 * 1.5 MiB of SQL, under MySQL 5.7's default max_allowed_packet (4 MiB; 16
 * MiB on MariaDB 10.x, 64 MiB on MySQL 8). 512 texts of 4,000 characters
 * would not be.
 */
export const MAX_BATCH_TEXT = 512 * 1024;

interface Pending {
  input: MessageInput;
  resolve(r: Inserted): void;
  reject(e: unknown): void;
}

interface Lane {
  queue: Pending[];
  /** Batches of this lane being stored: at most two. */
  inFlight: number;
  /** The latest batch holds its users' inbox heads (or is done): the next may start. */
  latestLocked: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class MessageWriter {
  readonly maxBatch: number;
  readonly delayMs: number;
  readonly maxBacklog: number;
  /** write() calls so far (a running total, for telling a quiet node). */
  writes = 0;
  #store: Store;
  #lanes: Lane[];
  #inFlight = new Set<Promise<void>>();
  /** Rows written and not yet stored (or failed). */
  #backlog = 0;
  #relief: PromiseWithResolvers<void> | null = null;

  constructor(store: Store, options: WriterOptions = {}) {
    this.#store = store;
    this.maxBatch = options.maxBatch ?? 512;
    this.delayMs = options.delayMs ?? 1;
    this.#lanes = Array.from(
      { length: Math.max(1, options.lanes ?? 2) },
      () => ({ queue: [], inFlight: 0, latestLocked: true, timer: undefined }),
    );
    this.maxBacklog = options.maxBacklog ?? 8 * this.maxBatch * this.#lanes.length;
  }

  /** Rows written and not yet stored or failed. */
  get backlog(): number {
    return this.#backlog;
  }

  /**
   * Null while the backlog is within `maxBacklog`; over it, a promise that
   * resolves once the backlog is down to half.
   */
  relieved(): Promise<void> | null {
    if (this.#backlog <= this.maxBacklog && !this.#relief) return null;
    return (this.#relief ??= Promise.withResolvers<void>()).promise;
  }

  /** Stores one message; resolves once its row is stored (or its earlier copy found). */
  write(input: MessageInput): Promise<Inserted> {
    this.writes++;
    this.#backlog++;
    const { promise, resolve, reject } = Promise.withResolvers<Inserted>();
    const lane = this.#lanes[laneOf(input, this.#lanes.length)];
    lane.queue.push({ input, resolve, reject });
    if (lane.inFlight > 0) return promise;
    if (lane.queue.length >= this.maxBatch) this.#start(lane);
    else lane.timer ??= setTimeout(() => this.#start(lane), this.delayMs);
    return promise;
  }

  /** Resolves once every batch that started has finished (for shutdown). */
  async settle(): Promise<void> {
    for (const lane of this.#lanes) if (!lane.inFlight && lane.queue.length) this.#start(lane);
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  #start(lane: Lane): void {
    clearTimeout(lane.timer);
    lane.timer = undefined;
    this.#next(lane);
  }

  /** Starts the lane's next batch if it has rows and may: none in flight, or one that holds its heads. */
  #next(lane: Lane): void {
    if (lane.queue.length === 0 || lane.inFlight >= 2) return;
    if (lane.inFlight === 1 && !lane.latestLocked) return;
    const size = batchLength(lane.queue, this.maxBatch, MAX_BATCH_TEXT, (p) => p.input.text.length);
    const batch = lane.queue.splice(0, size);
    lane.inFlight++;
    lane.latestLocked = false;
    let locked = false;
    const onLocked = () => {
      if (locked) return;
      locked = true;
      // Only the latest batch can lock after the lane's last start (the next starts after it).
      lane.latestLocked = true;
      this.#next(lane);
    };
    const run = this.#flush(batch, onLocked).finally(() => {
      this.#inFlight.delete(run);
      lane.inFlight--;
      this.#backlog -= batch.length;
      if (this.#relief && this.#backlog <= this.maxBacklog / 2) {
        this.#relief.resolve();
        this.#relief = null;
      }
      if (!locked) onLocked();
      else this.#next(lane);
    });
    this.#inFlight.add(run);
  }

  async #flush(batch: Pending[], onLocked: () => void): Promise<void> {
    let results: Inserted[];
    try {
      results = await this.#store.insertMessages(batch.map((p) => p.input), onLocked);
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
