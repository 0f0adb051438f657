/**
 * The test client's inbox, following docs/protocol.md §9 to the letter, as
 * a client written only from the docs would: it keeps H, the highest seq
 * up to which it holds every entry (starting at the welcome's `cursor`);
 * drops an entry at or below H, or one it already holds, as a duplicate;
 * when an entry skips past H + 1, or a head (`welcome`, `pong`, a
 * `msg.fetch` reply) is beyond H, it waits `gapMs` for the gap to arrive
 * and then asks `msg.fetch {after: H}` until it reaches the head; and it
 * acks `seq` = H, batched every `ackMs`, never past a gap.
 *
 * What a test checks is the client's view: `shown`, every message the
 * client would display (from the sync, pushes, fetches and its own send
 * results), each once, in the order it arrived; `duplicates` counts what
 * the rules dropped.
 */
import type { WireMessage } from "../proto/protocol.ts";

export interface InboxOptions {
  /** Ack `seq` (default true). */
  ack?: boolean;
  /** How often acks go out, at most (default 200 ms). */
  ackMs?: number;
  /** Fill gaps with msg.fetch (default true). */
  fetch?: boolean;
  /** How long a gap may stay open before it is fetched (default 500 ms; the docs say ≤ 1 s). */
  gapMs?: number;
  /**
   * The inbox of an earlier session of the same device: what it held and
   * showed carries over, as a client that keeps its store across
   * reconnects does (docs/protocol.md §9).
   */
  resume?: ClientInbox;
}

/** What the inbox needs of its client. */
export interface InboxLink {
  readonly isOpen: boolean;
  send(frame: unknown): void;
  /** msg.fetch {after, limit}. */
  fetch(after: number, limit: number): Promise<{ messages: WireMessage[]; head: number }>;
}

/** Entries per msg.fetch (the most the server gives). */
const FETCH_LIMIT = 500;

export class ClientInbox {
  /** Every entry up to this seq is held (H in the docs). */
  held = 0;
  /** The highest inbox head seen. */
  head = 0;
  /** The last seq acked. */
  acked = 0;
  /** Every message shown, once, in arrival order. */
  readonly shown: WireMessage[] = [];
  /** Entries dropped as duplicates (by seq, or by message id). */
  duplicates = 0;
  /** msg.fetch calls made to fill gaps. */
  fetches = 0;
  /** Whether the welcome gave a device cursor (a quiet session has none). */
  active = false;

  #ids = new Set<number>();
  #ahead = new Set<number>();
  #gapTimer: ReturnType<typeof setTimeout> | undefined;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  #filling: Promise<void> | null = null;
  #closed = false;
  #options: Required<Omit<InboxOptions, "resume">>;

  #resumed = false;

  constructor(readonly link: InboxLink, options: InboxOptions = {}) {
    const { resume, ...rest } = options;
    this.#options = { ack: true, ackMs: 200, fetch: true, gapMs: 500, ...rest };
    if (resume) {
      this.#resumed = true;
      this.held = resume.held;
      this.acked = resume.acked;
      this.shown.push(...resume.shown);
      for (const m of resume.shown) this.#ids.add(m.id);
      for (const seq of resume.#ahead) this.#ahead.add(seq);
      this.duplicates = resume.duplicates;
      this.fetches = resume.fetches;
    }
  }

  /**
   * The welcome: H starts at the device's cursor, or stays where the
   * client's own store says if it holds more (its last acks were not
   * written); the sync then resends entries it drops by seq.
   */
  start(cursor: number | null | undefined, head: number | undefined): void {
    if (cursor === null || cursor === undefined) return;
    this.active = true;
    if (!this.#resumed) this.held = this.acked = cursor;
    this.onHead(head ?? 0);
  }

  /** An entry arrived (msg.sync, msg.new, msg.fetch, the result of one's own msg.send). */
  onEntry(m: WireMessage): void {
    const seq = m.seq;
    if (!this.active || seq === undefined) return this.#show(m);
    if (seq <= this.held || this.#ahead.has(seq)) {
      this.duplicates++;
      return;
    }
    this.#show(m);
    this.#ahead.add(seq);
    while (this.#ahead.delete(this.held + 1)) this.held++;
    if (this.held > this.head) this.head = this.held;
    this.#checkGap();
    this.#scheduleAck();
  }

  /** A head from the server (welcome, pong, msg.fetch). */
  onHead(head: number): void {
    if (head > this.head) this.head = head;
    this.#checkGap();
  }

  /** Messages shown between the user and `peer` (both directions), or all. */
  view(peer?: number): WireMessage[] {
    if (peer === undefined) return [...this.shown];
    return this.shown.filter((m) => m.from === peer || m.to === peer);
  }

  /** Whether a message with this id was shown. */
  has(id: number): boolean {
    return this.#ids.has(id);
  }

  /** Whether a gap is open (an entry or a head beyond H). */
  get gap(): boolean {
    return this.#ahead.size > 0 || this.head > this.held;
  }

  /** Sends the pending ack now (e.g. before closing). */
  flushAck(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (!this.#options.ack || this.held <= this.acked || !this.link.isOpen) return;
    this.acked = this.held;
    this.link.send({ type: "msg.ack", seq: this.held });
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#gapTimer);
    clearTimeout(this.#ackTimer);
  }

  #show(m: WireMessage): void {
    if (this.#ids.has(m.id)) {
      this.duplicates++;
      return;
    }
    this.#ids.add(m.id);
    this.shown.push(m);
  }

  #scheduleAck(): void {
    if (!this.#options.ack || this.#ackTimer !== undefined || this.#closed) return;
    this.#ackTimer = setTimeout(() => this.flushAck(), this.#options.ackMs);
  }

  #checkGap(): void {
    if (!this.gap) {
      clearTimeout(this.#gapTimer);
      this.#gapTimer = undefined;
      return;
    }
    if (!this.#options.fetch || this.#gapTimer !== undefined || this.#filling || this.#closed) {
      return;
    }
    this.#gapTimer = setTimeout(() => {
      this.#gapTimer = undefined;
      if (!this.gap) return;
      this.#filling ??= this.#fill().finally(() => {
        this.#filling = null;
        // Still a gap (e.g. the head moved meanwhile): look again after a while.
        this.#checkGap();
      });
    }, this.#options.gapMs);
  }

  /** msg.fetch from H until H reaches the head (or nothing more comes). */
  async #fill(): Promise<void> {
    while (!this.#closed && this.link.isOpen && this.gap) {
      const before = this.held;
      this.fetches++;
      let reply;
      try {
        reply = await this.link.fetch(this.held, FETCH_LIMIT);
      } catch {
        break; // the socket closed or the server refused: a reconnect syncs
      }
      // The client fed the reply's entries and head to onEntry() and onHead() already.
      if (this.held === before || reply.messages.length === 0) break;
    }
  }
}
