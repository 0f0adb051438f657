/**
 * Distributed locks on the engine (e.g. a user's login lock, so that two
 * logins of one user do not race to kick each other). A lock is a key set
 * with NX and a TTL to a random token; only the holder of the token can
 * release it (compare-and-delete), and a holder that dies frees the lock
 * when the TTL runs out.
 */
import type { Engine } from "./types.ts";

export interface LockOptions {
  /** How long the lock is held unless released first. */
  ttlMs: number;
  /** How long to keep trying to take a held lock; 0 (default) tries once. */
  waitMs?: number;
  /** Pause between tries (with jitter); 50 ms by default. */
  retryMs?: number;
}

export interface Lock {
  readonly name: string;
  readonly token: string;
  /** Frees the lock if this holder still has it; false if it had expired or was taken over. */
  release(): Promise<boolean>;
}

const lockKey = (name: string) => `lock:${name}`;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Takes the lock `name`, waiting up to `waitMs` for it; null if it stayed taken. */
export async function acquireLock(
  engine: Engine,
  name: string,
  options: LockOptions,
): Promise<Lock | null> {
  const { ttlMs, waitMs = 0, retryMs = 50 } = options;
  const key = lockKey(name);
  const token = crypto.randomUUID();
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (await engine.set(key, token, { ttlMs, nx: true })) {
      return { name, token, release: () => engine.delIfEquals(key, token) };
    }
    const left = deadline - Date.now();
    if (left <= 0) return null;
    // Jitter keeps waiters that started together from retrying in lockstep.
    await sleep(Math.min(left, retryMs * (0.5 + Math.random())));
  }
}
