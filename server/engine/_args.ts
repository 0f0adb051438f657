/**
 * Argument checks both adapters share, so that a bad TTL or increment is
 * rejected the same way by `memory` and `redis` (Redis itself would answer a
 * zero or fractional PX with a less helpful error, and memory would accept it).
 */

/** A TTL as a whole number of ms >= 1; throws RangeError for anything else. */
export function ttlArg(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`ttlMs must be a positive number of milliseconds, got ${ttlMs}`);
  }
  return Math.ceil(ttlMs);
}

/** An increment: a safe integer. */
export function byArg(by: number): number {
  if (!Number.isSafeInteger(by)) throw new RangeError(`by must be an integer, got ${by}`);
  return by;
}

/** A SCAN page size: a positive integer. */
export function countArg(count: number): number {
  if (!Number.isSafeInteger(count) || count <= 0) {
    throw new RangeError(`count must be a positive integer, got ${count}`);
  }
  return count;
}
