/**
 * The cluster router's short memory of users' presence lists, so that the
 * hot path (every message routes to its recipient's sessions and to the
 * sender's other sessions) does not read the engine per message: a list is
 * trusted for PRESENCE_CACHE_MS, concurrent reads of one user share one
 * HGET, and a change this node makes itself (a login or a session end
 * here) forgets the user at once.
 *
 * A list read before a session opened on another node misses that session
 * for at most the TTL; its messages reach it anyway through the stream's
 * gap fill and the head sweep (inbox_stream.ts, head_sweep.ts), and a new
 * session checks its head once the TTL has passed. Offline (an empty list)
 * is never cached: a user who logs in must get live events as soon as their
 * entry is written.
 */
import { getSessions, type PresenceSession } from "../engine/presence.ts";
import type { Engine } from "../engine/types.ts";

/** How long a user's list is trusted for routing. */
export const PRESENCE_CACHE_MS = 1000;
/**
 * After a read failed (the engine is down), reads fail at once for this
 * long instead of each waiting for the engine: during an outage requests
 * stay fast, and routing falls back to the sessions here.
 */
const DOWN_MS = 1000;

interface Entry {
  list: PresenceSession[];
  at: number;
  /** Distinct nodes in the list. */
  nodes: number;
}

export class PresenceCache {
  #entries = new Map<number, Entry>();
  #lookups = new Map<number, Promise<PresenceSession[]>>();
  #prunedAt = 0;
  #downUntil = 0;
  #downError: unknown = null;

  constructor(readonly engine: Engine, readonly ttlMs = PRESENCE_CACHE_MS) {}

  /** The user's list if a fresh one is cached, without waiting; undefined otherwise. */
  peek(userId: number, now = Date.now()): PresenceSession[] | undefined {
    const e = this.#entries.get(userId);
    return e && now - e.at < this.ttlMs ? e.list : undefined;
  }

  /** The user's list: the cached one if fresh, else one read shared with concurrent callers. */
  get(userId: number): Promise<PresenceSession[]> {
    const hit = this.peek(userId);
    return hit ? Promise.resolve(hit) : this.#lookup(userId);
  }

  /** A read of the engine now (the cached list led somewhere wrong); it refreshes the cache. */
  fresh(userId: number): Promise<PresenceSession[]> {
    this.forget(userId);
    return this.#lookup(userId);
  }

  /** On how many nodes the user has sessions, from the last list seen (1 if none was). */
  nodeCount(userId: number): number {
    return this.#entries.get(userId)?.nodes ?? 1;
  }

  forget(userId: number): void {
    this.#entries.delete(userId);
    this.#lookups.delete(userId);
  }

  get size(): number {
    return this.#entries.size;
  }

  #lookup(userId: number): Promise<PresenceSession[]> {
    let p = this.#lookups.get(userId);
    if (p) return p;
    if (Date.now() < this.#downUntil) return Promise.reject(this.#downError);
    p = getSessions(this.engine, userId).then((list) => {
      // Forgotten meanwhile: the read may predate the change, so it is not kept.
      if (this.#lookups.get(userId) !== p) return list;
      this.#lookups.delete(userId);
      if (list.length > 0) this.#put(userId, list);
      else this.#entries.delete(userId);
      return list;
    }, (e) => {
      if (this.#lookups.get(userId) === p) this.#lookups.delete(userId);
      this.#downUntil = Date.now() + DOWN_MS;
      this.#downError = e;
      throw e;
    });
    this.#lookups.set(userId, p);
    return p;
  }

  #put(userId: number, list: PresenceSession[]): void {
    const now = Date.now();
    // Expired entries go in one sweep per TTL, so the cache holds only recent recipients.
    if (now - this.#prunedAt > this.ttlMs) {
      this.#prunedAt = now;
      for (const [id, e] of this.#entries) if (now - e.at >= this.ttlMs) this.#entries.delete(id);
    }
    const nodes = list.length === 1 ? 1 : new Set(list.map((s) => s.node)).size;
    this.#entries.set(userId, { list, at: now, nodes });
  }
}
