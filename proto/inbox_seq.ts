/**
 * The client rules of docs/protocol.md §9 over seqs alone, shared by every
 * client in the repository (the terminal client, cli/lib/inbox_sync.ts, and
 * the chaos tests' client, testing/inbox_view.ts): the highest seq held
 * contiguously (H, what a device acks), the seqs held beyond a gap, and the
 * head the server last named. A gap is any seq known to exist above H.
 */

export class InboxSeq {
  /** The highest seq such that the client holds every entry up to it. */
  held = 0;
  /** The highest seq the client has heard of: from an entry, `welcome.head`, `pong.head`, a fetch. */
  known = 0;
  /** Seqs above `held` already received (waiting for the gap below them). */
  readonly ahead = new Set<number>();

  /** Starts a fresh device at the cursor the server gave it (what it holds already). */
  startAt(cursor: number): void {
    this.held = cursor;
    this.known = Math.max(this.known, cursor);
    for (const s of this.ahead) if (s <= cursor) this.ahead.delete(s);
    while (this.ahead.delete(this.held + 1)) this.held++;
  }

  /** A `head` from the server: entries up to it exist. */
  head(head: number): void {
    if (head > this.known) this.known = head;
  }

  /** True while the client knows of entries it does not hold. */
  get gap(): boolean {
    return this.known > this.held;
  }

  /** True if `seq` is held already (at or below H, or received beyond a gap). */
  has(seq: number): boolean {
    return seq <= this.held || this.ahead.has(seq);
  }

  /**
   * Takes the entry at `seq`: false if it is held already (a duplicate, to
   * drop); else holds it, moves H over what is now contiguous, and returns true.
   */
  hold(seq: number): boolean {
    if (this.has(seq)) return false;
    this.ahead.add(seq);
    this.head(seq);
    while (this.ahead.delete(this.held + 1)) this.held++;
    return true;
  }
}
