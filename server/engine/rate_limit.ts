/**
 * Rate limits. `hit()` is a fixed-window counter shared by every process
 * through the engine (code requests per e-mail, logins per IP...): one
 * atomic increment whose key expires with the window. `TokenBucket` is
 * local to one process, for limits that only one chat node enforces (a
 * user's message rate on the node that holds their socket), where a round
 * trip per message would cost more than it protects.
 */
import type { Engine } from "./types.ts";

export interface HitResult {
  allowed: boolean;
  /** Hits left in the current window. */
  remaining: number;
  /** 0 when allowed; otherwise ms until the window ends. */
  retryAfterMs: number;
}

/**
 * Counts one hit on `key` (namespaced under "rl:") and says whether it is
 * within `limit` hits per `windowMs`. The window starts at the first hit
 * and is not extended by later ones. One round trip.
 */
export async function hit(
  engine: Engine,
  key: string,
  options: { limit: number; windowMs: number },
): Promise<HitResult> {
  const { limit, windowMs } = options;
  const { value, ttlMs } = await engine.incr(`rl:${key}`, windowMs);
  if (value <= limit) return { allowed: true, remaining: limit - value, retryAfterMs: 0 };
  return { allowed: false, remaining: 0, retryAfterMs: ttlMs > 0 ? ttlMs : windowMs };
}

/** Gives back one hit() of `key` (an action that was counted but did not happen). */
export async function unhit(
  engine: Engine,
  key: string,
  options: { windowMs: number },
): Promise<void> {
  await engine.incr(`rl:${key}`, options.windowMs, -1);
}

/** A token bucket: `burst` tokens, refilled at `ratePerS`; one token per action. */
export class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(readonly ratePerS: number, readonly burst: number, now = Date.now()) {
    if (!(ratePerS > 0) || !Number.isFinite(ratePerS)) {
      throw new RangeError(`ratePerS must be a positive number, got ${ratePerS}`);
    }
    if (!(burst >= 1) || !Number.isFinite(burst)) {
      throw new RangeError(`burst must be at least 1, got ${burst}`);
    }
    this.#tokens = burst;
    this.#last = now;
  }

  #refill(now: number): void {
    // A clock that steps back must not drain the bucket.
    const dt = Math.max(0, now - this.#last);
    this.#tokens = Math.min(this.burst, this.#tokens + (dt * this.ratePerS) / 1000);
    this.#last = Math.max(this.#last, now);
  }

  /** Takes a token if there is one; false means the action is over the rate. */
  take(now = Date.now()): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Whether the bucket has refilled to its burst (a fresh bucket would be the same). */
  full(now = Date.now()): boolean {
    this.#refill(now);
    return this.#tokens >= this.burst;
  }

  /** The tokens in the bucket now (a fraction of one included). */
  tokens(now = Date.now()): number {
    this.#refill(now);
    return this.#tokens;
  }

  /**
   * Lowers the bucket to what a bucket holding `tokens` at time `at` holds
   * now, if that is fewer: a state carried over from elsewhere (another
   * node) never adds tokens.
   */
  limitTo(tokens: number, at: number, now = Date.now()): void {
    this.#refill(now);
    const then = Math.min(this.burst, tokens + (Math.max(0, now - at) * this.ratePerS) / 1000);
    this.#tokens = Math.min(this.#tokens, Math.max(0, then));
  }

  /** Ms until take() would succeed; 0 if it would now. */
  retryAfterMs(now = Date.now()): number {
    this.#refill(now);
    if (this.#tokens >= 1) return 0;
    return Math.ceil(((1 - this.#tokens) * 1000) / this.ratePerS);
  }
}
