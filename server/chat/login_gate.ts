/**
 * How many logins a chat node runs at once. A login is about ten round trips
 * to the store and a few to the engine; a reconnect storm (a node restarted,
 * a network back) brings thousands at the same moment. Started all at once
 * they queue inside the MySQL pool and the Redis client, where waits are
 * bounded (10 s for a pooled connection): past that, logins fail with
 * `internal` and their clients come back to add to the storm. The gate lets
 * LOGIN_CONCURRENCY run and keeps the rest waiting their turn in arrival
 * order, outside the pools, so the store's wait limits keep meaning "the
 * store is down", not "the node is busy". A socket that closes while it
 * waits is skipped when its turn comes.
 */
import type { ChatContext } from "./chat_context.ts";

/** Logins in progress at once per node: enough to keep the store's pool (10 connections) busy. */
export const LOGIN_CONCURRENCY = 32;

export class LoginGate {
  #running = 0;
  #waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** Logins waiting for their turn. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `fn` once fewer than `limit` others are running (first come, first served). */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running < this.limit) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      // The slot passes straight to the next in line.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}

const gates = new WeakMap<object, LoginGate>();

/** The gate of the node `ctx` belongs to, made when first asked for. */
export function loginGateOf(ctx: ChatContext): LoginGate {
  let g = gates.get(ctx);
  if (!g) gates.set(ctx, g = new LoginGate(LOGIN_CONCURRENCY));
  return g;
}
