/**
 * Redelivery of an event whose Deliver call failed (the node refused the
 * connection, its channel was backing off, the deadline passed): after a
 * backoff the user's presence is read afresh and the event goes to every
 * node that lists a session of the user and has not taken it yet (the
 * failed one, or one the user moved to meanwhile), until each took it or
 * answered that the user is not there, or RETRY_FOR_MS passed. A node is
 * never skipped because status has not heard from it lately: only a failed
 * call counts. Sessions deduplicate messages by seq, so a resend that
 * crosses a slow first attempt costs nothing.
 */
import type { DeliverItem } from "../../proto/services.ts";
import type { PresenceSession } from "../engine/presence.ts";
import type { DeliverOutcome } from "./peers.ts";

/** How long a failed event keeps being retried. */
export const RETRY_FOR_MS = 15_000;
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 2000;
/** Events being retried at once, at most; beyond, new failures are dropped (and counted). */
export const MAX_RETRYING = 20_000;

export interface RetryDeps {
  /** A fresh read of the user's sessions (rejects if the engine is down). */
  lookup(userId: number): Promise<PresenceSession[]>;
  /** This node's name (its sessions got the event locally already). */
  node: string;
  /** The gRPC address of a session's node, or null if unknown. */
  addressOf(s: PresenceSession): Promise<string | null>;
  deliver(addr: string, item: DeliverItem): Promise<DeliverOutcome>;
  /** Told what became of each retried call, and of an event given up or dropped. */
  count(result: "retried" | "gave_up" | "dropped"): void;
  /** Told when a retried call delivered. */
  delivered(): void;
}

export class DeliveryRetries {
  #running = 0;
  #closed = false;
  #sleeping = new Map<ReturnType<typeof setTimeout>, () => void>();

  constructor(readonly deps: RetryDeps, readonly retryForMs = RETRY_FOR_MS) {}

  get running(): number {
    return this.#running;
  }

  /**
   * Retries `item` for its user. `settled`: nodes that took it or answered
   * the user is not there (they get it no more).
   */
  start(item: DeliverItem, settled: Set<string>): void {
    if (this.#closed) return;
    if (this.#running >= MAX_RETRYING) return this.deps.count("dropped");
    this.#running++;
    this.#run(item, settled).finally(() => this.#running--);
  }

  /** Stops every retry (their waits end at once). */
  close(): void {
    this.#closed = true;
    for (const [timer, wake] of this.#sleeping) {
      clearTimeout(timer);
      wake();
    }
    this.#sleeping.clear();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#sleeping.delete(timer);
        resolve();
      }, ms);
      this.#sleeping.set(timer, resolve);
    });
  }

  async #run(item: DeliverItem, settled: Set<string>): Promise<void> {
    const deadline = Date.now() + this.retryForMs;
    let delay = FIRST_DELAY_MS;
    for (;;) {
      await this.#sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
      if (this.#closed) return;
      if (await this.#round(item, settled)) return;
      if (Date.now() >= deadline) return this.deps.count("gave_up");
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }

  /** One attempt at every node still due; true once none is left. */
  async #round(item: DeliverItem, settled: Set<string>): Promise<boolean> {
    let list: PresenceSession[];
    try {
      list = await this.deps.lookup(item.user_id);
    } catch {
      return false; // the engine is down: look again later
    }
    const due = new Map<string, PresenceSession>();
    for (const s of list) {
      if (s.node !== this.deps.node && !settled.has(s.node) && !due.has(s.node)) due.set(s.node, s);
    }
    if (due.size === 0) return true;
    const outcomes = await Promise.all([...due].map(async ([node, s]) => {
      const addr = await this.deps.addressOf(s).catch(() => null);
      if (!addr) return false;
      this.deps.count("retried");
      const outcome = await this.deps.deliver(addr, item);
      if (outcome === "failed") return false;
      settled.add(node);
      if (outcome === "delivered") this.deps.delivered();
      return true;
    }));
    return outcomes.every(Boolean);
  }
}
