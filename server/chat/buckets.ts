/**
 * Per-user message rate buckets. On a node, a bucket belongs to the user,
 * not the session, so reconnecting does not refill a drained bucket; it is
 * dropped once it has refilled and its user has no session here, since a
 * fresh one would be the same.
 *
 * Across nodes, the state travels through the engine at the session's
 * edges, never per message: a session's end (and a node answering a kick)
 * saves the bucket (`save()`, one write, skipped when full), and a login
 * takes the saved state if it is emptier than the node's own (`restore()`,
 * one read). Moving to another node therefore does not refill it either.
 */
import type { Engine } from "../engine/types.ts";
import { TokenBucket } from "../engine/rate_limit.ts";

const key = (userId: number) => `bucket:msg:${userId}`;
const STATE = /^(\d+(?:\.\d+)?)@(\d+)$/;

export class UserBuckets {
  #buckets = new Map<number, TokenBucket>();

  constructor(readonly ratePerS: number, readonly burst: number, readonly engine: Engine) {}

  get(userId: number): TokenBucket {
    let b = this.#buckets.get(userId);
    if (!b) this.#buckets.set(userId, b = new TokenBucket(this.ratePerS, this.burst));
    return b;
  }

  /** Takes the state the user's last session saved (on any node), if emptier than ours. */
  async restore(userId: number): Promise<void> {
    const m = STATE.exec((await this.engine.get(key(userId))) ?? "");
    if (m) this.get(userId).limitTo(Number(m[1]), Number(m[2]));
  }

  /** Saves the user's bucket for their next session, wherever it starts; until it would be full. */
  async save(userId: number, now = Date.now()): Promise<void> {
    const tokens = this.#buckets.get(userId)?.tokens(now);
    if (tokens === undefined || tokens >= this.burst) return;
    const ttlMs = Math.ceil(((this.burst - tokens) * 1000) / this.ratePerS) + 1000;
    await this.engine.set(key(userId), `${tokens.toFixed(3)}@${now}`, { ttlMs });
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
