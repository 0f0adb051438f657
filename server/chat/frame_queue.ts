/**
 * The order of one session's frames and replies, kept by two promise
 * chains. `enqueue()` runs frames one at a time, in the order they arrived;
 * a msg.send only until its message joined a write batch. Its ack and push
 * then wait on the second chain (`afterEarlier()`), behind the replies of
 * every earlier frame, so the frame loop moves on (pipelining) while replies
 * keep the order of requests and a conversation's pushes the order of its
 * ids. An idle queue holds no promise of its own.
 */
import { MAX_FRAME_BYTES } from "../../proto/protocol.ts";
import type { Logger } from "../log.ts";

/** Frames accepted but not yet handled, per socket; beyond this a client is flooding. */
export const MAX_PENDING_FRAMES = 1000;

/**
 * Text of frames waiting to be handled beyond which the owner stops reading
 * its socket (TCP makes the client wait), so a socket whose frames wait
 * holds about one frame's worth of them, not 1,000 frames.
 */
export const MAX_PENDING_TEXT = MAX_FRAME_BYTES;

/** Whose frames these are: the user (for the log), and reading the socket on and off. */
export interface QueueOwner {
  readonly userId: number;
  pauseReading?(): void;
  resumeReading?(): void;
}

const SETTLED = Promise.resolve();

export class FrameQueue {
  #chain: Promise<void> = SETTLED;
  #tail: Promise<void> = SETTLED;
  #pending = 0;
  #pendingText = 0;

  /** `owner.userId` names the user in the log when a step throws. */
  constructor(readonly log: Logger, readonly owner: QueueOwner) {}

  /** No frame is in progress and there is room: a frame may be handled at once. */
  get idle(): boolean {
    return this.#chain === SETTLED && this.#pending < MAX_PENDING_FRAMES;
  }

  /** Settles once the replies queued so far were sent. */
  get replies(): Promise<void> {
    return this.#tail;
  }

  /**
   * Runs `step` (a frame of `text` characters) after the frames before it;
   * false (nothing queued) if too many are waiting.
   */
  enqueue(step: () => Promise<void>, text = 0): boolean {
    if (this.#pending >= MAX_PENDING_FRAMES) return false;
    this.#pending++;
    if ((this.#pendingText += text) > MAX_PENDING_TEXT) this.owner.pauseReading?.();
    const next: Promise<void> = this.#chain.then(step).catch((e) => this.#failed(e)).finally(
      () => {
        this.#pending--;
        if ((this.#pendingText -= text) <= MAX_PENDING_TEXT) this.owner.resumeReading?.();
        if (this.#chain === next) this.#chain = SETTLED;
      },
    );
    this.#chain = next;
    return true;
  }

  /** Runs `finish` after every earlier frame's reply was sent. */
  afterEarlier(finish: () => Promise<void> | void): void {
    this.#pending++;
    const next: Promise<void> = this.#tail.then(finish).catch((e) => this.#failed(e)).finally(
      () => {
        this.#pending--;
        if (this.#tail === next) this.#tail = SETTLED;
      },
    );
    this.#tail = next;
  }

  #failed(e: unknown): void {
    this.log.error("frame handling failed", { error: e, user: this.owner.userId });
  }
}
