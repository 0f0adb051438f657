/**
 * Gives back the memory a burst of logins leaves behind. A login allocates
 * a good deal that lives across its round trips, so V8 promotes it to the
 * old generation, where it stays as garbage (and as RSS) until the old
 * generation fills up again: on an idle node that can be never. After a
 * burst, once the node is quiet, one full collection returns it (measured:
 * about half of a chat node's RSS after 16,000 logins).
 */
import v8 from "node:v8";
import vm from "node:vm";

let collect: (() => void) | null | undefined;

/** V8's full collection, or null where it cannot be had. */
export function fullCollection(): (() => void) | null {
  if (collect === undefined) {
    try {
      // --expose-gc set now shows `gc` in contexts made from now on.
      v8.setFlagsFromString("--expose-gc");
      const gc = vm.runInNewContext("gc");
      collect = typeof gc === "function" ? () => gc() : null;
    } catch {
      collect = null;
    }
  }
  return collect;
}

/** Logins since the last collection that make one worth its pause. */
export const BURST_LOGINS = 1000;

/**
 * Decides, at each heartbeat sweep, whether to collect now: after at least
 * BURST_LOGINS logins, once the burst is over and the node is quiet: no
 * login and no message since the previous sweep. A collection in the middle
 * of a login storm stops every login on the node for its pause (on a
 * loaded machine, seconds at 16,000 sessions), long enough for the logins'
 * Redis commands to time out; and it would have to run again at the end.
 */
export class BurstCollector {
  #loginsAtLast = 0;
  #loginsAtSweep = 0;
  #writtenAtSweep = 0;

  constructor(readonly run: (() => void) | null = fullCollection()) {}

  /** `logins` and `written` are running totals; true if it collected. */
  sweep(logins: number, written: number): boolean {
    const quiet = written === this.#writtenAtSweep && logins === this.#loginsAtSweep;
    this.#writtenAtSweep = written;
    this.#loginsAtSweep = logins;
    if (!this.run || !quiet || logins - this.#loginsAtLast < BURST_LOGINS) return false;
    this.#loginsAtLast = logins;
    this.run();
    return true;
  }
}
