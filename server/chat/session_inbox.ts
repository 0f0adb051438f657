/**
 * What a session holds of its device's inbox: the stream of entries it
 * sends (inbox_stream.ts), the device and its cursor, and the log of the
 * messages it sent from other users (receipts.ts), so that a seq ack moves
 * the device cursor and derives the delivered receipts. Both are written by
 * the node's cursor writer in batches. A quiet session has none.
 */
import type { Logger } from "../log.ts";
import type { InboxEntry, Store } from "../store/types.ts";
import type { CursorWriter } from "./cursor_writer.ts";
import { InboxStream, type StreamOptions, type StreamOwner } from "./inbox_stream.ts";
import { ReceiptLog } from "./receipts.ts";

export interface InboxDeps {
  store: Pick<Store, "inbox">;
  cursors: Pick<CursorWriter, "device" | "delivered">;
  log: Logger;
  gapMs: number;
}

/**
 * The inbox is its stream's options too (StreamOptions): every idle session
 * has one, and hooks on the class cost nothing per session where an options
 * object and two closures cost about 200 bytes.
 */
export class SessionInbox implements StreamOptions {
  readonly stream: InboxStream;
  /** The device's cursor as far as this session moved it (written in batches). */
  acked: number;
  /** Made at the first message sent from another user (most idle sessions never get one). */
  #receipts: ReceiptLog | undefined;
  #deps: InboxDeps;
  #userId: number;
  #check: ReturnType<typeof setTimeout> | undefined;
  /** client_ids of this session's msg.send whose ack is not out yet (how many of each). */
  #sending: Map<string, number> | undefined;

  constructor(
    owner: StreamOwner,
    readonly device: { id: string; label: string },
    cursor: number,
    deps: InboxDeps,
  ) {
    this.#deps = deps;
    this.#userId = owner.userId;
    this.acked = cursor;
    this.stream = new InboxStream(owner, this, cursor);
  }

  // --- StreamOptions ---

  get store(): InboxDeps["store"] {
    return this.#deps.store;
  }

  get log(): Logger {
    return this.#deps.log;
  }

  get gapMs(): number {
    return this.#deps.gapMs;
  }

  onSent(seq: number, from: number, id: number): void {
    (this.#receipts ??= new ReceiptLog()).add(seq, from, id);
  }

  ownInFlight(clientId: string): boolean {
    return this.#sending?.has(clientId) ?? false;
  }

  /**
   * The device holds every entry up to `seq`: the cursor moves (never back)
   * and the messages sent here up to it count as delivered. Returns the cursor.
   */
  ack(seq: number): number {
    const { cursors } = this.#deps;
    if (seq > this.acked) {
      this.acked = seq;
      cursors.device(this.#userId, this.device.id, seq);
    }
    const receipts = this.#receipts?.take(seq);
    if (receipts) { for (const [peer, id] of receipts) cursors.delivered(this.#userId, peer, id); }
    return this.acked;
  }

  /** A msg.send of this session was queued: its entry will reach the socket as its ack. */
  sendStarted(clientId: string): void {
    const sending = this.#sending ??= new Map();
    sending.set(clientId, (sending.get(clientId) ?? 0) + 1);
  }

  /** Its ack went out (or the send failed). */
  sendEnded(clientId: string): void {
    const n = this.#sending?.get(clientId);
    if (n === undefined) return;
    if (n > 1) this.#sending!.set(clientId, n - 1);
    else this.#sending!.delete(clientId);
  }

  /** Entries the client fetched (msg.fetch): acking them makes receipts too. */
  fetched(entries: InboxEntry[]): void {
    for (const e of entries) {
      if (e.seq > this.acked && e.message.senderId !== this.#userId) {
        (this.#receipts ??= new ReceiptLog()).add(e.seq, e.message.senderId, e.message.id);
      }
    }
  }

  /** Once `ms` have passed, gives the stream the head `read()` resolves with. */
  checkHeadIn(ms: number, read: () => Promise<number>): void {
    clearTimeout(this.#check);
    this.#check = setTimeout(() => {
      this.#check = undefined;
      read().then((head) => this.stream.behind(head), () => {/* the head sweep will */});
    }, ms);
  }

  close(): void {
    clearTimeout(this.#check);
    this.#check = undefined;
    this.stream.close();
  }
}
