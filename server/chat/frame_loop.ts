/**
 * A session's frame loop: text and binary frames in, replies out. It checks
 * the size, parses and validates (frames.ts), hands `auth` to the login and
 * every other frame to its handler, and answers with a result or an error
 * frame: never both for one request (a failure after the result, such as a
 * routing problem, is only logged). The FrameQueue keeps frames and replies
 * in order while msg.send is pipelined; the hot path takes a msg.send the
 * caches can answer straight into a write batch.
 */
import { toAppError } from "../../proto/errors.ts";
import { type ClientFrame, CLOSE, type ErrorFrame, MAX_FRAME_BYTES } from "../../proto/protocol.ts";
import type { ChatContext } from "./chat_context.ts";
import type { LoginOptions } from "./login.ts";
import { FrameError, InvalidFrameWindow, parseFrame, tooBig } from "./frames.ts";
import { FrameQueue } from "./frame_queue.ts";
import { type Caller, dispatch } from "./handlers/mod.ts";
import { acceptMessage, acceptMessageNow, finishMessage } from "./handlers/messages.ts";
import type { Inserted } from "./writer.ts";

export type Phase = "unauth" | "sync" | "live" | "closed";
export type PauseReason = "frames" | "store";
export type RequestId = string | number | null;
type SendFrame = Extract<ClientFrame, { type: "msg.send" }>;

/** What the loop needs of its session. */
export interface FrameOwner extends Caller {
  readonly phase: Phase;
  /** Sends a frame already encoded as JSON. */
  sendJson(json: string): void;
  closeWith(code: number, reason: string): void;
  /**
   * Stops reading the socket, and goes on: while frames wait to be handled
   * (FrameQueue, "frames"), or while the node's message writer is behind
   * ("store"). Each reason is lifted on its own.
   */
  pauseReading(reason?: PauseReason): void;
  resumeReading(reason?: PauseReason): void;
  /** Runs the login for an `auth` frame (or the token of the subprotocol, `id` null). */
  authenticate(token: string, id: RequestId, options?: LoginOptions): Promise<void>;
}

export class FrameLoop {
  #ctx: ChatContext;
  #owner: FrameOwner;
  #queue: FrameQueue;
  #invalid: InvalidFrameWindow | undefined;
  /** Reading is held until the message writer's backlog shrinks. */
  #held = false;

  constructor(ctx: ChatContext, owner: FrameOwner) {
    this.#ctx = ctx;
    this.#owner = owner;
    this.#queue = new FrameQueue(ctx.log, owner);
  }

  text(text: string): void {
    if (tooBig(text)) return this.#tooBig();
    // The hot path: with no frame in progress, a msg.send whose checks the
    // caches can answer joins a write batch now, without the frame queue.
    if (this.#queue.idle && this.#owner.phase === "live" && this.#sendNow(text)) return;
    this.#enqueue(() => this.#handleText(text), text.length);
  }

  binary(bytes: number): void {
    if (bytes > MAX_FRAME_BYTES) return this.#tooBig();
    this.#enqueue(() => {
      this.#ctx.metrics.framesIn.inc({ type: "invalid" });
      this.#invalidFrame(null, "invalid_frame", "binary frames are not part of the protocol");
      return Promise.resolve();
    });
  }

  /** Logs in with the token the socket offered as a subprotocol, as the first frame would. */
  login(token: string): void {
    this.#enqueue(() => this.#owner.authenticate(token, null));
  }

  /** An error frame answering `id`. */
  error(id: RequestId, code: string, message: string, retryAfterS?: number): void {
    const error: ErrorFrame["error"] = { code, message };
    if (retryAfterS !== undefined) error.retry_after_ms = Math.ceil(retryAfterS * 1000);
    this.#owner.send({ type: "error", id, error });
  }

  #enqueue(step: () => Promise<void>, text = 0): void {
    if (!this.#queue.enqueue(step, text)) {
      this.#owner.closeWith(CLOSE.POLICY, "too many frames waiting");
    }
  }

  /** True if `text` was a msg.send handled here; false to take the queue (nothing done). */
  #sendNow(text: string): boolean {
    let frame;
    try {
      frame = parseFrame(text);
    } catch {
      return false;
    }
    if (frame.type !== "msg.send") return false;
    const id = frame.id;
    let accepted;
    try {
      accepted = acceptMessageNow(this.#ctx, this.#owner, frame);
    } catch (e) {
      this.#ctx.metrics.framesIn.inc({ type: frame.type });
      this.#queue.afterEarlier(() => this.#requestFailed(id, frame.type, e));
      return true;
    }
    if (!accepted) return false;
    this.#ctx.metrics.framesIn.inc({ type: frame.type });
    this.#finishLater(frame, id, accepted.stored);
    return true;
  }

  async #handleText(text: string): Promise<void> {
    const owner = this.#owner;
    if (owner.phase === "closed") return this.#lateAck(text);
    const { metrics } = this.#ctx;
    let frame;
    try {
      frame = parseFrame(text);
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      metrics.framesIn.inc({ type: "invalid" });
      await this.#queue.replies;
      return this.#invalidFrame(e.requestId, e.code, e.message);
    }
    metrics.framesIn.inc({ type: frame.type });
    const id: RequestId = frame.id ?? null;
    const authenticated = owner.phase === "sync" || owner.phase === "live";
    if (frame.type === "msg.send" && authenticated) return await this.#pipeline(frame, id);
    // Any other frame sees the effects of the messages before it, and replies after them.
    await this.#queue.replies;
    if (frame.type === "auth") {
      if (owner.phase !== "unauth") {
        return this.error(id, "already_authenticated", "this socket is already authenticated");
      }
      const { device, label, quiet } = frame;
      return await owner.authenticate(frame.token, id, { device, label, quiet });
    }
    if (owner.phase === "unauth") {
      return this.#invalidFrame(id, "not_authenticated", "send an auth frame first");
    }
    let answered = false;
    try {
      await dispatch(this.#ctx, owner, frame, (data) => {
        answered = true;
        if (id !== null) owner.send({ type: "result", id, data });
      });
    } catch (e) {
      this.#requestFailed(id, frame.type, e, answered);
    }
  }

  /**
   * A frame that arrived before the socket closed but is handled after: no
   * reply can go out any more, but a seq ack still moves the device cursor
   * (a client that acks and closes at once, e.g. an app going away, keeps
   * its place). Only a seq this socket was sent counts: nothing is checked
   * against the store now.
   */
  #lateAck(text: string): void {
    let frame;
    try {
      frame = parseFrame(text);
    } catch {
      return;
    }
    const inbox = this.#owner.inbox;
    if (frame.type !== "msg.ack" || frame.seq === undefined || !inbox) return;
    if (frame.seq <= inbox.stream.sent) inbox.ack(frame.seq);
  }

  async #pipeline(frame: SendFrame, id: RequestId): Promise<void> {
    let stored;
    try {
      stored = (await acceptMessage(this.#ctx, this.#owner, frame)).stored;
    } catch (e) {
      return this.#queue.afterEarlier(() => this.#requestFailed(id, frame.type, e));
    }
    this.#finishLater(frame, id, stored);
  }

  #finishLater(frame: SendFrame, id: RequestId, stored: Promise<Inserted>): void {
    this.#holdWhileStoreBehind();
    // Handled here, or an unhandled rejection would end the process before its turn comes.
    stored.catch(() => {});
    this.#queue.afterEarlier(async () => {
      let acked = false;
      try {
        await finishMessage(this.#ctx, this.#owner, frame, await stored, (dataJson) => {
          acked = true;
          if (id !== null) {
            this.#owner.sendJson(
              `{"type":"result","id":${JSON.stringify(id)},"data":${dataJson}}`,
            );
          }
        });
      } catch (e) {
        this.#requestFailed(id, frame.type, e, acked);
      } finally {
        this.#owner.inbox?.sendEnded(frame.client_id);
      }
    });
  }

  /**
   * Admission control: once the node has more messages waiting to be stored
   * than its writer's backlog allows (the store is slower than the messages
   * arriving), a session that sends one more stops reading until the
   * backlog is down to half. What its client sends meanwhile waits in TCP
   * (which slows the client down), not in this process's memory: under an
   * overload the node keeps storing at the store's pace, with a bounded
   * heap, instead of queueing without end and spending its time on garbage
   * collection.
   */
  #holdWhileStoreBehind(): void {
    if (this.#held) return;
    const relieved = this.#ctx.writer.relieved();
    if (!relieved) return;
    this.#held = true;
    this.#owner.pauseReading("store");
    relieved.then(() => {
      this.#held = false;
      this.#owner.resumeReading("store");
    });
  }

  /**
   * Answers a failed request with an error frame, unless it was answered
   * already: then the failure is only logged, so that no request gets both
   * a result and an error.
   */
  #requestFailed(id: RequestId, type: string, e: unknown, answered = false): void {
    if (answered) {
      this.#ctx.log.warn("request failed after its result was sent", { error: e, type });
      return;
    }
    const err = toAppError(e);
    if (err !== e) this.#ctx.log.error("request failed", { error: e, type });
    this.error(id, err.code, err.message, err.retryAfterS);
  }

  #tooBig(): void {
    this.#ctx.metrics.invalidFrames.inc({ code: "frame_too_large" });
    this.error(null, "frame_too_large", `a frame may be at most ${MAX_FRAME_BYTES} bytes`);
    this.#owner.closeWith(CLOSE.TOO_BIG, "frame too large");
  }

  #invalidFrame(id: RequestId, code: string, message: string): void {
    this.#ctx.metrics.invalidFrames.inc({ code });
    this.error(id, code, message);
    if ((this.#invalid ??= new InvalidFrameWindow()).add()) {
      this.#owner.closeWith(CLOSE.POLICY, "too many invalid frames");
    }
  }
}
