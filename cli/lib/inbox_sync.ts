/**
 * The terminal client's inbox, kept by the client rules of docs/protocol.md
 * §9: every entry that arrives (msg.sync, msg.new, a msg.fetch result, the
 * result of its own msg.send) is taken once, by seq (proto/inbox_seq.ts) and
 * by message id; the seq held contiguously (H) is acked in batches, at once
 * at the end of a sync and before closing, never beyond a gap; a gap (a seq
 * jump, or a `welcome.head` / `pong.head` beyond H) waits briefly for its
 * entries, then is filled with msg.fetch. H lives as long as the process,
 * across reconnects: the first welcome starts it at the device's cursor,
 * later ones keep it (rule 5). chat_client.ts wires it to the socket.
 */
import { InboxSeq } from "../../proto/inbox_seq.ts";
import type { WireMessage } from "../../proto/protocol.ts";

/** What the inbox needs of the current socket. */
export interface InboxLink {
  /** Sends `msg.ack {"seq"}` (no reply asked); false if the socket is gone. */
  ack(seq: number): boolean;
  /** `msg.fetch {"after"}`: entries after a seq, and the head. */
  fetch(after: number): Promise<{ messages: WireMessage[]; head: number }>;
}

export interface InboxSyncOptions {
  /** An entry a msg.fetch brought that was new to the client (a filled gap). */
  onFetched(message: WireMessage): void;
  /** A msg.fetch failed (lost socket, outage): the gap is fetched again at the next head or entry. */
  onFetchError?(error: unknown): void;
  /** How long a gap waits for its entries before msg.fetch (§9: at most 1 s). */
  gapWaitMs?: number;
  /** How long acks are batched. */
  ackDelayMs?: number;
}

/** How many message ids are remembered for dropping a message that comes again. */
const RECENT_IDS = 10_000;

export class InboxSync {
  readonly seq = new InboxSeq();
  #link: InboxLink | null = null;
  /** The server speaks protocol 2 and this session is a device: seqs are kept and acked. */
  #device = false;
  #started = false;
  /** The cursor as the server has it: welcome.cursor, then what was acked on this socket. */
  #acked = 0;
  #ids = new Set<number>();
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  #gapTimer: ReturnType<typeof setTimeout> | undefined;
  #filling = false;

  constructor(private readonly options: InboxSyncOptions) {}

  /**
   * A session began. The first one starts H at the device's cursor; a later
   * one keeps H (what it holds beyond the cursor is dropped when synced
   * again; a cursor beyond H is a gap, fetched). A welcome without a cursor
   * (protocol 1, or a quiet session) keeps no seqs: messages are deduplicated
   * by id only.
   */
  welcome(link: InboxLink, w: { head?: number; cursor?: number | null }): void {
    this.#link = link;
    this.#device = typeof w.cursor === "number";
    if (!this.#device) return;
    const cursor = w.cursor as number;
    if (!this.#started) this.seq.startAt(cursor);
    this.#started = true;
    this.#acked = cursor;
    this.seq.head(w.head ?? 0);
    this.#scheduleAck();
    this.#checkGap();
  }

  /** The socket is gone: acks and fetches wait for the next welcome. */
  detach(): void {
    this.#link = null;
    clearTimeout(this.#ackTimer);
    clearTimeout(this.#gapTimer);
    this.#ackTimer = this.#gapTimer = undefined;
  }

  /** Takes one entry; true if it is new to the client (show it), false for a duplicate. */
  take(m: WireMessage): boolean {
    if (this.#device && typeof m.seq === "number") {
      if (!this.seq.hold(m.seq)) return false;
      this.#scheduleAck();
      this.#checkGap();
    }
    if (this.#ids.has(m.id)) return false;
    this.#ids.add(m.id);
    if (this.#ids.size > RECENT_IDS) this.#ids.delete(this.#ids.values().next().value!);
    return true;
  }

  /** A head from the server (`pong.head`): a gap if beyond H. */
  head(head: number): void {
    if (!this.#device) return;
    this.seq.head(head);
    this.#checkGap();
  }

  /** Acks H now if it moved (the end of a sync, or before closing). */
  flushAck(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    const held = this.seq.held;
    if (!this.#device || !this.#link || held <= this.#acked) return;
    if (this.#link.ack(held)) this.#acked = held;
  }

  #scheduleAck(): void {
    if (this.#ackTimer !== undefined || this.seq.held <= this.#acked) return;
    this.#ackTimer = setTimeout(() => this.flushAck(), this.options.ackDelayMs ?? 200);
  }

  #checkGap(): void {
    if (!this.seq.gap || !this.#link || this.#gapTimer !== undefined || this.#filling) return;
    this.#gapTimer = setTimeout(() => {
      this.#gapTimer = undefined;
      void this.#fill();
    }, this.options.gapWaitMs ?? 500);
  }

  /** Fetches after H until it reaches the known head; stops when a fetch brings nothing new. */
  async #fill(): Promise<void> {
    const link = this.#link;
    if (!link || !this.seq.gap) return;
    this.#filling = true;
    let moved = false;
    try {
      while (this.seq.gap && this.#link === link) {
        const before = this.seq.held;
        const r = await link.fetch(before);
        if (this.#link !== link) return;
        for (const m of r.messages) {
          if (this.take(m)) this.options.onFetched(m);
        }
        this.seq.head(r.head);
        if (this.seq.held === before) break;
        moved = true;
      }
    } catch (e) {
      this.options.onFetchError?.(e);
    } finally {
      this.#filling = false;
    }
    if (moved) {
      this.flushAck();
      this.#checkGap();
    }
  }
}
