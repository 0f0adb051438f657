/**
 * Per-user message rate buckets. On a node, a bucket belongs to the user,
 * not the session, so reconnecting does not refill a drained bucket; it is
 * dropped once it has refilled and its user has no session here, since a
 * fresh one would be the same.
 *
 * A user with sessions on n nodes at once pays n tokens per message on
 * each (`takeShare()`, n from the router's presence cache): every node
 * then lets through 1/n of the rate, so together the user gets the rate
 * once, not n times, without a round trip to the engine per message. And a
 * session that joins the user's sessions on other nodes starts this node's
 * bucket at its share of the burst (`startShare()`), so opening sessions
 * elsewhere does not buy a fresh burst either.
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

/**
 * Takes `share` tokens (the user's node count; at least 1) if the bucket
 * has them. Returns 0 if it did, else the ms until it would.
 */
export function takeShare(bucket: TokenBucket, share: number, now = Date.now()): number {
  if (share <= 1) return bucket.take(now) ? 0 : bucket.retryAfterMs(now);
  const cost = Math.min(share, bucket.burst);
  const tokens = bucket.tokens(now);
  if (tokens < cost) return Math.ceil(((cost - tokens) * 1000) / bucket.ratePerS);
  for (let i = 0; i < cost; i++) bucket.take(now);
  return 0;
}
const STATE = /^(\d+(?:\.\d+)?)@(\d+)$/;

export class UserBuckets {
  #buckets = new Map<number, TokenBucket>();

  constructor(readonly ratePerS: number, readonly burst: number, readonly engine: Engine) {}

  get(userId: number): TokenBucket {
    let b = this.#buckets.get(userId);
    if (!b) this.#buckets.set(userId, b = new TokenBucket(this.ratePerS, this.burst));
    return b;
  }

  /**
   * A new bucket for a user with sessions on `nodes` nodes (this one
   * included) starts at this node's share of the burst; one already here stays.
   */
  startShare(userId: number, nodes: number, now = Date.now()): void {
    if (this.#buckets.has(userId)) return;
    this.get(userId).limitTo(this.burst / Math.max(1, nodes), now, now);
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
