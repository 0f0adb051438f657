/**
 * Inbox heads read from the store for `pong` and for ack checks, with the
 * reads that come together (the pings of many sessions arriving in the
 * same few milliseconds) coalesced into one `inboxHeads()` call.
 */
import type { Store } from "../store/types.ts";

/** How long a read waits for others to join it. */
const GATHER_MS = 2;

export class HeadReader {
  #waiting = new Map<number, PromiseWithResolvers<number>>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly store: Pick<Store, "inboxHeads">) {}

  /** The user's inbox head now. Rejects if the store cannot be read. */
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
    try {
      const heads = await this.store.inboxHeads([...batch.keys()]);
      for (const [id, w] of batch) w.resolve(heads.get(id) ?? 0);
    } catch (e) {
      for (const w of batch.values()) w.reject(e);
    }
  }
}
