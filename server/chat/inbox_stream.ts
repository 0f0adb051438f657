/**
 * One session's inbox stream, kept contiguous and in order on the server's
 * side (docs/protocol.md §9): `sent` is the highest seq such that every
 * entry up to it was sent on this socket. An entry at or below it is
 * dropped (a duplicate push); sent + 1 goes out at once, with whatever was
 * held right after it; a later one is held and a gap timer starts, and
 * when it fires the gap is read from the store (`inbox()`) and sent in
 * order. The sender's own ack counts as an entry sent (`markSent()`: a
 * reply is never held back), so `sent` passes it. The head sweep and pings
 * tell the stream the inbox head (`behind()`): an entry whose push was lost
 * (a node crashed between the commit and the push) is read after the gap
 * time, like any other gap.
 *
 * The same reader sends the sync at login (`sync()`): every entry after the
 * device's cursor, in msg.sync frames.
 */
import { SYNC_BATCH } from "../../proto/protocol.ts";
import type { Logger } from "../log.ts";
import type { InboxEntry, Store } from "../store/types.ts";
import { msgNewJson, wireEntry } from "./wire.ts";

export interface StreamOwner {
  readonly userId: number;
  readonly closed: boolean;
  sendJson(json: string): void;
  /** Waits until at most `bytes` are waiting for the client (closes one that does not read). */
  drained(bytes: number): Promise<void>;
}

export interface StreamOptions {
  store: Pick<Store, "inbox">;
  log: Logger;
  /** How long an entry after a gap waits for the gap to arrive before it is read from the store. */
  gapMs: number;
  /** Told of each message from another user sent on the socket (for delivered receipts). */
  onSent(seq: number, from: number, id: number): void;
  /**
   * Whether one of the user's messages, by client_id, was sent from this
   * socket and its ack is still to go out: a store read does not send such
   * an entry (the ack will carry it), it only counts it as sent.
   */
  ownInFlight?(clientId: string): boolean;
}

interface Held {
  json: string;
  from: number;
  id: number;
}

/** Sent ahead of a client that reads slowly, at most, while the stream reads the store. */
const READ_BUFFER_BYTES = 1024 * 1024;
/** Entries held past a gap, at most; beyond, later ones are left to the store read. */
const MAX_HELD = 2000;
/** After a failed store read, the next try. */
const RETRY_READ_MS = 1000;

let warnedAt = 0;

/** Logs a failed read at most every 5 s per process: an outage must not flood the log. */
function warnReadFailed(log: Logger, error: unknown, user: number): void {
  const now = Date.now();
  if (now - warnedAt < 5000) return;
  warnedAt = now;
  log.warn("could not read a gap in a session's inbox; will retry", { error, user });
}

export class InboxStream {
  /** Every entry up to this seq was sent on this socket. */
  sent: number;
  #owner: StreamOwner;
  #options: StreamOptions;
  #held: Map<number, Held> | undefined;
  /** Seqs counted as sent out of turn (the sender's own acks). */
  #ahead: Set<number> | undefined;
  /** The highest seq known to exist (from pushes and heads). */
  #known = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reading = false;
  #readAgain = false;
  #closed = false;

  constructor(owner: StreamOwner, options: StreamOptions, start: number) {
    this.#owner = owner;
    this.#options = options;
    this.sent = start;
    this.#known = start;
  }

  /** Whether entries are waiting past a gap (for tests). */
  get holding(): number {
    return (this.#held?.size ?? 0) + (this.#ahead?.size ?? 0);
  }

  /** Sends every entry after `sent` as msg.sync frames, the last with `done: true`. */
  async sync(): Promise<void> {
    for (;;) {
      await this.#owner.drained(READ_BUFFER_BYTES);
      const entries = await this.#read(SYNC_BATCH);
      if (this.#closed || this.#owner.closed) return;
      const messages = [];
      for (const e of entries) {
        if (e.seq !== this.sent + 1) break;
        messages.push(wireEntry(e));
        this.#sentEntry(e.seq, e.message.senderId, e.message.id);
      }
      const done = entries.length < SYNC_BATCH;
      this.#owner.sendJson(JSON.stringify({ type: "msg.sync", messages, done }));
      if (done) return;
    }
  }

  /** A message for the socket at `seq` (msg.new, encoded as `json`). */
  push(seq: number, json: string, from: number, id: number): void {
    if (this.#closed || seq <= this.sent || this.#ahead?.has(seq)) return;
    if (seq > this.#known) this.#known = seq;
    if (seq === this.sent + 1) {
      this.#owner.sendJson(json);
      this.#sentEntry(seq, from, id);
      return this.#advance();
    }
    const held = this.#held ??= new Map();
    if (held.size < MAX_HELD) held.set(seq, { json, from, id });
    this.#gap();
  }

  /** The socket just carried entry `seq` another way (the sender's ack of its own message). */
  markSent(seq: number): void {
    if (this.#closed || seq <= this.sent) return;
    if (seq > this.#known) this.#known = seq;
    if (seq === this.sent + 1) {
      this.sent = seq;
      return this.#advance();
    }
    (this.#ahead ??= new Set()).add(seq);
    this.#held?.delete(seq);
    this.#gap();
  }

  /**
   * The inbox head is `head` (a head sweep, a ping): if the socket is
   * behind, what is missing is read from the store once the gap time has
   * passed, unless it arrived meanwhile (it usually is a push on its way).
   */
  behind(head: number): void {
    if (this.#closed || head <= this.sent) return;
    if (head > this.#known) this.#known = head;
    this.#gap();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#held = undefined;
    this.#ahead = undefined;
  }

  #sentEntry(seq: number, from: number, id: number): void {
    this.sent = seq;
    if (from !== this.#owner.userId) this.#options.onSent(seq, from, id);
  }

  /** Sends what was held right after `sent`; clears the gap timer once nothing waits. */
  #advance(): void {
    for (;;) {
      const next = this.sent + 1;
      if (this.#ahead?.delete(next)) {
        this.sent = next;
        continue;
      }
      const h = this.#held?.get(next);
      if (!h) break;
      this.#held!.delete(next);
      this.#owner.sendJson(h.json);
      this.#sentEntry(next, h.from, h.id);
    }
    // Nothing is missing any more (a head said more existed: wait until that arrived too).
    if (!this.holding && this.sent >= this.#known && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Entries are missing: give them gapMs to arrive, then read what is still missing. */
  #gap(): void {
    if (this.#reading) {
      this.#readAgain = true;
      return;
    }
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#wanted() > this.sent) this.#fill();
    }, this.#options.gapMs);
  }

  #fill(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#reading) {
      this.#readAgain = true;
      return;
    }
    this.#reading = true;
    this.#catchUp().then(() => {
      this.#reading = false;
    }, (e) => {
      this.#reading = false;
      warnReadFailed(this.#options.log, e, this.#owner.userId);
      // The store is down: try again after a pause (the head sweep would too).
      if (!this.#closed) this.#timer = setTimeout(() => this.#fill(), RETRY_READ_MS);
    });
  }

  /** The highest seq the socket should have. */
  #wanted(): number {
    let want = this.#known;
    for (const seq of this.#held?.keys() ?? []) if (seq > want) want = seq;
    for (const seq of this.#ahead ?? []) if (seq > want) want = seq;
    return want;
  }

  /** Reads from the store and sends until the socket has every entry known to exist. */
  async #catchUp(): Promise<void> {
    do {
      this.#readAgain = false;
      while (!this.#closed && this.sent < this.#wanted()) {
        await this.#owner.drained(READ_BUFFER_BYTES);
        const entries = await this.#read(SYNC_BATCH);
        if (this.#closed || this.#owner.closed) return;
        const before = this.sent;
        for (const e of entries) {
          if (e.seq <= this.sent) continue;
          if (e.seq !== this.sent + 1) break;
          this.#held?.delete(e.seq);
          if (this.#ahead?.delete(e.seq) || this.#ownAckComing(e)) this.sent = e.seq;
          else {
            this.#owner.sendJson(msgNewJson(JSON.stringify(wireEntry(e))));
            this.#sentEntry(e.seq, e.message.senderId, e.message.id);
          }
          this.#advance();
        }
        // Nothing more in the store yet: stop (a later head or push starts again).
        if (this.sent === before) return;
      }
    } while (this.#readAgain && !this.#closed);
  }

  #ownAckComing(e: InboxEntry): boolean {
    const m = e.message;
    return m.senderId === this.#owner.userId && (this.#options.ownInFlight?.(m.clientId) ?? false);
  }

  #read(limit: number): Promise<InboxEntry[]> {
    return this.#options.store.inbox(this.#owner.userId, { after: this.sent, limit });
  }
}
