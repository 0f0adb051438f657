/**
 * Inbox heads read from the store for `pong` and for a new session's late
 * check, with the reads that come together (the pings of many sessions
 * arriving in the same few milliseconds) coalesced into one `inboxHeads()`
 * call. A read the store does not answer within MAX_WAIT_MS rejects: a
 * pong must not wait for a database that is down (a client would take the
 * node for dead).
 */
import { AppError } from "../../proto/errors.ts";
import type { Store } from "../store/types.ts";

/** How long a read waits for others to join it. */
const GATHER_MS = 2;
/** How long a read waits for the store at most. */
export const MAX_WAIT_MS = 500;

export class HeadReader {
  #waiting = new Map<number, PromiseWithResolvers<number>>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly store: Pick<Store, "inboxHeads">, readonly maxWaitMs = MAX_WAIT_MS) {}

  /** The user's inbox head now. Rejects if the store cannot be read (in time). */
  read(userId: number): Promise<number> {
    let w = this.#waiting.get(userId);
    if (!w) {
      w = Promise.withResolvers<number>();
      this.#waiting.set(userId, w);
    }
    this.#timer ??= setTimeout(() => this.#flush(), GATHER_MS);
    return w.promise;
  }

  async #flush(): Promise<void> {
    this.#timer = undefined;
    const batch = this.#waiting;
    this.#waiting = new Map();
    // One timer per batch, not per read.
    const late = setTimeout(() => {
      const e = new AppError("store_unavailable", "the inbox head could not be read in time", 503);
      for (const w of batch.values()) w.reject(e);
    }, this.maxWaitMs);
    try {
      const heads = await this.store.inboxHeads([...batch.keys()]);
      for (const [id, w] of batch) w.resolve(heads.get(id) ?? 0);
    } catch (e) {
      for (const w of batch.values()) w.reject(e);
    } finally {
      clearTimeout(late);
    }
  }
}
