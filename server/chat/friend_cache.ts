/**
 * A session's memory of who its user's friends are, for the hot path
 * (msg.send, typing): a positive answer from the store is trusted for
 * FRIEND_CACHE_MS, and `friend.removed` (or the user's own friend.remove)
 * forgets it at once. A negative answer is never cached: a new friendship
 * must work at once.
 */
import type { Store } from "../store/types.ts";

/** How long a positive friendship check is trusted (removals also clear it at once). */
export const FRIEND_CACHE_MS = 30_000;

export class FriendCache {
  #until = new Map<number, number>();

  constructor(readonly store: Pick<Store, "areFriends">, readonly userId: number) {}

  /** Whether the cache vouches for `peer` now (false: ask isFriend()). */
  knows(peer: number): boolean {
    const until = this.#until.get(peer);
    return until !== undefined && until > Date.now();
  }

  async isFriend(peer: number): Promise<boolean> {
    if (this.knows(peer)) return true;
    const yes = await this.store.areFriends(this.userId, peer);
    if (yes) this.remember(peer);
    else this.#until.delete(peer);
    return yes;
  }

  remember(peer: number): void {
    this.#until.set(peer, Date.now() + FRIEND_CACHE_MS);
  }

  forget(peer: number): void {
    this.#until.delete(peer);
  }
}
