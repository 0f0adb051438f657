/**
 * What a chat client holds of its user's inbox, kept by the client rules of
 * docs/protocol.md §9 (protocol 2) and nothing else: the highest contiguous
 * seq held (H), the seqs held beyond a gap, the head the server last named,
 * and the messages the client shows, each once. inbox_client.ts feeds it
 * every message that arrives (msg.new, msg.sync, msg.fetch, a msg.send
 * result); the chaos tests read what it shows.
 *
 * It also notes what a client must never see from a correct server (one seq
 * naming two messages, one message at two seqs): those are `anomalies`.
 * The seq rules themselves (H, the gap, the head) are proto/inbox_seq.ts,
 * which the terminal client follows too.
 */
import { InboxSeq } from "../proto/inbox_seq.ts";

/** A message as the protocol carries it; `seq` is its place in this user's inbox (protocol 2). */
export interface InboxMessage {
  id: number;
  from: number;
  to: number;
  text: string;
  client_id: string;
  sent_at: number;
  seq?: number;
}

/** How a message reached the client. */
export type Via = "new" | "sync" | "fetch" | "sent";

/** A message the client shows, with when and how it first arrived. */
export interface Shown {
  message: InboxMessage;
  /** Its seq in this user's inbox (null under protocol 1). */
  seq: number | null;
  at: number;
  via: Via;
}

export class InboxView extends InboxSeq {
  /** What the client shows, by message id: each message at most once. */
  readonly shown = new Map<number, Shown>();
  /** Entries that arrived again and were dropped as duplicates, by how they came. */
  readonly dropped: Record<Via, number> = { new: 0, sync: 0, fetch: 0, sent: 0 };
  readonly anomalies: string[] = [];
  #idAt = new Map<number, number>();
  #atSeq = new Map<number, number>();

  /**
   * Takes one arriving message. With a seq: dropped if that seq is held
   * already, else held (and `held` moves over what is now contiguous).
   * Without one (protocol 1): deduplicated by message id only. Returns true
   * if the message was new to the client.
   */
  take(message: InboxMessage, via: Via, now = Date.now()): boolean {
    const seq = message.seq ?? null;
    if (seq !== null) {
      this.#check(message.id, seq);
      if (!this.hold(seq)) {
        this.dropped[via]++;
        return false;
      }
    }
    if (this.shown.has(message.id)) {
      this.dropped[via]++;
      return false;
    }
    this.shown.set(message.id, { message, seq, at: now, via });
    return true;
  }

  /** A seq names one message and a message has one seq in an inbox (1:1 messages). */
  #check(id: number, seq: number): void {
    const at = this.#idAt.get(id);
    if (at !== undefined && at !== seq) {
      this.anomalies.push(`message ${id} arrived at seq ${at} and at seq ${seq}`);
    }
    const named = this.#atSeq.get(seq);
    if (named !== undefined && named !== id) {
      this.anomalies.push(`seq ${seq} named message ${named} and message ${id}`);
    }
    this.#idAt.set(id, seq);
    this.#atSeq.set(seq, id);
  }

  /** The message id at `seq`, if the client received that entry. */
  idAt(seq: number): number | undefined {
    return this.#atSeq.get(seq);
  }

  /** Per peer, the highest message id shown from them (what protocol 1 acks `delivered`). */
  highestFrom(self: number): Map<number, number> {
    const out = new Map<number, number>();
    for (const { message: m } of this.shown.values()) {
      if (m.to === self && m.from !== self && m.id > (out.get(m.from) ?? 0)) out.set(m.from, m.id);
    }
    return out;
  }
}
