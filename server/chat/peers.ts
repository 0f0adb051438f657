/**
 * The other chat nodes, as seen from this one: one gRPC ChatNode client per
 * address (kept and reused), short deadlines, and Deliver calls batched per
 * destination. Events for one node are sent in the order they were queued:
 * at most one Deliver call per destination is in flight, and whatever
 * queued up meanwhile goes out in the next one.
 */
import type { RpcClient } from "../../proto/grpc.ts";
import type { ChatNodeMethods, DeliverItem, NodeKickRequest } from "../../proto/services.ts";
import type { Logger } from "../log.ts";
import { batchLength } from "./batching.ts";

/**
 * Most items in one Deliver call. A call costs both nodes far more than an
 * item in it (grpc-js over node:http2), so the link carries what one call
 * at a time can: with senders on one node and their peers on another (400
 * pairs, 8 messages in flight each), 14.3-15.3k msg/s with calls of up to
 * 500 items, 19.5-20.3k with 1,000 and 20.4-22.3k with 2,000 (quick runs,
 * one after the other).
 */
export const MAX_BATCH = 2000;
/**
 * Most frame text (UTF-16 units) in one call: at most 3 bytes of UTF-8
 * each, 6 MiB, under the 8 MiB a node accepts in one message (proto/grpc.ts).
 */
export const MAX_BATCH_TEXT = 2 * 1024 * 1024;
/**
 * Events queued for one node beyond which routing waits (room()), so that
 * senders slow down to what the link delivers instead of the queue (and
 * delivery latency) growing without end. Waiters go on below half of it.
 */
export const HIGH_WATER = 2 * MAX_BATCH;
/** The longest a sender waits for room: a stuck peer must not hold senders up for long. */
const ROOM_WAIT_MS = 2000;

/**
 * What became of one Deliver item: pushed to a session there, answered but
 * no session of the user there (`absent`), or the call failed (`failed`:
 * refused, deadline, the peer's channel backing off).
 */
export type DeliverOutcome = "delivered" | "absent" | "failed";

interface Pending {
  item: DeliverItem;
  resolve(outcome: DeliverOutcome): void;
}

interface Outbox {
  queue: Pending[];
  busy: boolean;
  /** Callers of room() waiting for the queue to shrink. */
  waiting: (() => void)[];
}

export interface PeersOptions {
  /** Makes the client of the node at `addr` (the plane's: cluster secret, in-process if local). */
  dial(addr: string, deadlineMs: number): RpcClient<ChatNodeMethods>;
  log: Logger;
  /** Deadline of each call; a node that does not answer in time counts as unreachable. */
  deadlineMs?: number;
  /** Told about every Deliver call's outcome (for metrics and the node cache). */
  onDeliver?: (addr: string, items: number, ok: boolean) => void;
}

export class Peers {
  #clients = new Map<string, RpcClient<ChatNodeMethods>>();
  #outboxes = new Map<string, Outbox>();
  #lastWarn = new Map<string, number>();
  #closed = false;

  constructor(readonly options: PeersOptions) {}

  client(addr: string): RpcClient<ChatNodeMethods> {
    let c = this.#clients.get(addr);
    if (!c) {
      c = this.options.dial(addr, this.options.deadlineMs ?? 2000);
      this.#clients.set(addr, c);
    }
    return c;
  }

  /** Ends the user's session on the node at `addr`; false if it was not there or unreachable. */
  async kick(addr: string, req: NodeKickRequest): Promise<boolean> {
    try {
      return (await this.client(addr).Kick(req)).kicked;
    } catch (e) {
      this.#warn(addr, "Kick failed", e);
      return false;
    }
  }

  /** Queues one event for a user on the node at `addr`; resolves with what became of it. */
  deliver(addr: string, item: DeliverItem): Promise<DeliverOutcome> {
    if (this.#closed) return Promise.resolve("failed");
    let box = this.#outboxes.get(addr);
    if (!box) {
      box = { queue: [], busy: false, waiting: [] };
      this.#outboxes.set(addr, box);
    }
    const { promise, resolve } = Promise.withResolvers<DeliverOutcome>();
    box.queue.push({ item, resolve });
    if (!box.busy) {
      box.busy = true;
      // A microtask lets the events queued in the same turn share one call.
      queueMicrotask(() => this.#flush(addr, box));
    }
    return promise;
  }

  /**
   * Resolves at once while the queue for `addr` is short, else once it has
   * drained below half of HIGH_WATER (or after ROOM_WAIT_MS).
   */
  room(addr: string): Promise<void> | undefined {
    const box = this.#outboxes.get(addr);
    if (!box || box.queue.length < HIGH_WATER) return undefined;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ROOM_WAIT_MS);
      box.waiting.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #wake(box: Outbox): void {
    if (box.queue.length >= HIGH_WATER / 2) return;
    for (const w of box.waiting.splice(0)) w();
  }

  async #flush(addr: string, box: Outbox): Promise<void> {
    while (box.queue.length > 0) {
      const size = batchLength(box.queue, MAX_BATCH, MAX_BATCH_TEXT, (p) => p.item.frame.length);
      const batch = box.queue.splice(0, size);
      this.#wake(box);
      let delivered: boolean[] = [];
      let ok = true;
      try {
        delivered = (await this.client(addr).Deliver({ items: batch.map((p) => p.item) }))
          .delivered ?? [];
      } catch (e) {
        ok = false;
        this.#warn(addr, "Deliver failed", e);
      }
      this.options.onDeliver?.(addr, batch.length, ok);
      batch.forEach((p, i) => p.resolve(!ok ? "failed" : delivered[i] ? "delivered" : "absent"));
    }
    box.busy = false;
    this.#wake(box);
  }

  /** Logs a failing peer at most every 5 s, so a dead node does not flood the log. */
  #warn(addr: string, msg: string, error: unknown): void {
    const now = Date.now();
    if (now - (this.#lastWarn.get(addr) ?? 0) < 5000) return;
    this.#lastWarn.set(addr, now);
    this.options.log.warn(msg, { peer: addr, error: (error as Error)?.message ?? String(error) });
  }

  /**
   * Closes the clients of addresses not in `addrs` (nodes that left the
   * registry). Closing from this side first matters: under Deno, a client
   * whose server goes away with an HTTP/2 GOAWAY can crash the process
   * (denoland/deno#36788), so a node that shuts down waits for its peers to
   * let go of it (see mod.ts).
   */
  retain(addrs: Set<string>): void {
    for (const [addr, c] of this.#clients) {
      if (addrs.has(addr) || this.#outboxes.get(addr)?.busy) continue;
      c.close();
      this.#clients.delete(addr);
    }
  }

  closeAll(): void {
    this.#closed = true;
    for (const box of this.#outboxes.values()) {
      for (const p of box.queue.splice(0)) p.resolve("failed");
      this.#wake(box);
    }
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }
}
