/**
 * The engine: shared, short-lived state (codes, presence, node registry,
 * locks, rate-limit counters; token revocation is durable, in the store).
 * Adapters implement only these few atomic primitives (`memory` for one
 * process, `redis` through ioredis for a cluster); the domain modules beside
 * this file (codes.ts, locks.ts, presence.ts, nodes.ts, rate_limit.ts)
 * build on them, so both adapters behave the same by construction and one contract
 * suite (engine_contract.ts) checks the primitives and the domain modules
 * against each adapter.
 *
 * TTLs are in milliseconds (a TTL that is not a positive number rejects
 * with RangeError). Keys are plain strings; callers namespace them
 * ("code:register:a@b.c"). While Redis is unreachable a call rejects with
 * AppError `engine_unavailable` (503) instead of waiting for it.
 */

export interface SetOptions {
  /** Expire the key after this many ms. */
  ttlMs?: number;
  /** Only set if the key does not exist (returns false if it did). */
  nx?: boolean;
}

export interface Engine {
  /** "memory" or "redis". */
  readonly kind: string;
  get(key: string): Promise<string | null>;
  mget(keys: string[]): Promise<(string | null)[]>;
  /** True if the value was written (always, unless `nx` and the key existed). */
  set(key: string, value: string, options?: SetOptions): Promise<boolean>;
  del(key: string): Promise<void>;
  /** Deletes the key only if it holds `value`; true if it did. Atomic. */
  delIfEquals(key: string, value: string): Promise<boolean>;
  /**
   * Adds `by` to an integer key, creating it at 0 with `ttlMs` if missing
   * (the TTL is not extended by later increments; a key found without a TTL
   * gets `ttlMs`). Returns the new value and the ms left before the key
   * expires.
   */
  incr(key: string, ttlMs: number, by?: number): Promise<{ value: number; ttlMs: number }>;
  /** Remaining TTL in ms; -1 if the key has none, -2 if it does not exist. */
  pttl(key: string): Promise<number>;

  // Hashes: a map of fields under one key, no TTL per field.
  hget(key: string, field: string): Promise<string | null>;
  hmget(key: string, fields: string[]): Promise<(string | null)[]>;
  hset(key: string, field: string, value: string): Promise<void>;
  hdel(key: string, field: string): Promise<void>;
  /** Deletes the field only if it holds `value`; true if it did. Atomic. */
  hdelIfEquals(key: string, field: string, value: string): Promise<boolean>;
  /**
   * Compare-and-set of one field, atomically: if the field holds `expected`
   * (null: the field is missing), sets it to `value` (null: deletes it) and
   * returns true; otherwise changes nothing and returns false. The building
   * block of read-modify-write loops on a field (presence lists).
   */
  hsetIfEquals(
    key: string,
    field: string,
    expected: string | null,
    value: string | null,
  ): Promise<boolean>;
  hgetall(key: string): Promise<Record<string, string>>;
  hlen(key: string): Promise<number>;
  /** One page of fields; `cursor` "0" starts and a returned "0" ends. */
  hscan(
    key: string,
    cursor: string,
    count: number,
  ): Promise<{ cursor: string; entries: [string, string][] }>;

  close(): Promise<void>;
}
