/**
 * Per-user message rate buckets of one chat node. They belong to the user,
 * not the session, so reconnecting does not refill a drained bucket; a
 * bucket is dropped once it has refilled and its user has no session here,
 * since a fresh one would be the same.
 */
import { TokenBucket } from "../engine/rate_limit.ts";

export class UserBuckets {
  #buckets = new Map<number, TokenBucket>();

  constructor(readonly ratePerS: number, readonly burst: number) {}

  get(userId: number): TokenBucket {
    let b = this.#buckets.get(userId);
    if (!b) this.#buckets.set(userId, b = new TokenBucket(this.ratePerS, this.burst));
    return b;
  }

  /** Drops the full buckets of users for whom `online` is false. */
  sweep(online: (userId: number) => boolean, now = Date.now()): void {
    for (const [userId, b] of this.#buckets) {
      if (b.full(now) && !online(userId)) this.#buckets.delete(userId);
    }
  }

  get size(): number {
    return this.#buckets.size;
  }
}
