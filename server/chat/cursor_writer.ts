/**
 * The node's cursor writer: device cursors (seq acks) and the delivered
 * receipts derived from them are kept in memory and written in batches,
 * every FLUSH_MS and when a session ends, the node drains or closes. A
 * crash loses at most that much progress, which only means a device is
 * synced a few entries again (it drops them by seq) and a receipt comes a
 * little later. Each delivered cursor that moved is told to the sender's
 * sessions (`msg.status`); a cursor this node already wrote that far is
 * neither written nor told again (several devices of one user ack the same
 * messages).
 */
import type { Logger } from "../log.ts";
import type { Cursor, CursorUpdate, DeviceUpdate, Store } from "../store/types.ts";
import type { Router } from "./router.ts";

/** How long updates gather before they are written. */
export const FLUSH_MS = 200;
/** Delivered cursors remembered (to skip repeats); the memory starts over past this. */
const MAX_KNOWN = 100_000;
/** After a failed write, the next try. */
const RETRY_MS = 1000;

export class CursorWriter {
  #devices = new Map<string, DeviceUpdate>();
  #delivered = new Map<string, CursorUpdate>();
  /** The delivered cursor per "user:peer" as last written or read here. */
  #known = new Map<string, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> | null = null;
  #warnedAt = 0;
  #closed = false;

  constructor(
    readonly store: Pick<Store, "advanceDevices" | "advanceCursors">,
    readonly router: Pick<Router, "deliver">,
    readonly log: Logger,
    readonly flushMs = FLUSH_MS,
  ) {}

  /** Updates waiting to be written (for tests). */
  get pending(): number {
    return this.#devices.size + this.#delivered.size;
  }

  /** The device holds every inbox entry up to `ackedSeq`. */
  device(userId: number, deviceId: string, ackedSeq: number): void {
    const key = `${userId}\n${deviceId}`;
    const cur = this.#devices.get(key);
    if (cur && cur.ackedSeq >= ackedSeq) return;
    this.#devices.set(key, { userId, deviceId, ackedSeq });
    this.#schedule();
  }

  /** `userId` received every message from `peerId` up to `id`. */
  delivered(userId: number, peerId: number, id: number): void {
    const key = `${userId}:${peerId}`;
    if ((this.#known.get(key) ?? 0) >= id) return;
    const cur = this.#delivered.get(key);
    if (cur && (cur.deliveredId ?? 0) >= id) return;
    this.#delivered.set(key, { userId, peerId, deliveredId: id });
    this.#schedule();
  }

  /** A cursor written elsewhere (an explicit ack): repeats below it are skipped. */
  note(c: Cursor): void {
    const key = `${c.userId}:${c.peerId}`;
    if ((this.#known.get(key) ?? 0) < c.deliveredId) this.#remember(key, c.deliveredId);
  }

  /** Writes what is waiting now (a session ended, the node drains); never rejects. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // One write at a time; whatever came meanwhile goes in the next.
    while (this.#writing) await this.#writing;
    if (this.pending === 0) return;
    this.#writing = this.#write().finally(() => (this.#writing = null));
    await this.#writing;
  }

  /** Writes what is waiting and stops the timer. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    clearTimeout(this.#timer);
  }

  #schedule(delay = this.flushMs): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, delay);
  }

  async #write(): Promise<void> {
    const devices = [...this.#devices.values()];
    const delivered = [...this.#delivered.values()];
    this.#devices.clear();
    this.#delivered.clear();
    const [devicesOk, cursors] = await Promise.all([
      devices.length
        ? this.store.advanceDevices(devices).then(() => true, (e) => this.#failed(e))
        : true,
      delivered.length
        ? this.store.advanceCursors(delivered).catch((e) => this.#failed(e))
        : [] as Cursor[],
    ]);
    // Put back what was not written (newer updates that came meanwhile win).
    if (!devicesOk) { for (const d of devices) this.device(d.userId, d.deviceId, d.ackedSeq); }
    if (!cursors) {
      for (const c of delivered) this.delivered(c.userId, c.peerId, c.deliveredId ?? 0);
      return this.#retryLater();
    }
    if (!devicesOk) this.#retryLater();
    await Promise.all(cursors.map((c) => this.#tell(c)));
  }

  /** Tells the peer's sessions that `c` moved (if it moved past what this node knew). */
  async #tell(c: Cursor): Promise<void> {
    const key = `${c.userId}:${c.peerId}`;
    if ((this.#known.get(key) ?? 0) >= c.deliveredId) return;
    this.#remember(key, c.deliveredId);
    await this.router.deliver(c.peerId, {
      type: "msg.status",
      peer: c.userId,
      delivered_id: c.deliveredId,
      read_id: c.readId,
    });
  }

  #remember(key: string, id: number): void {
    if (this.#known.size >= MAX_KNOWN) this.#known.clear();
    this.#known.set(key, id);
  }

  #retryLater(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#schedule(RETRY_MS);
  }

  #failed(e: unknown): false {
    const now = Date.now();
    if (now - this.#warnedAt > 5000) {
      this.#warnedAt = now;
      this.log.warn("could not write device cursors or receipts; will retry", { error: e });
    }
    return false;
  }
}
