/**
 * One client connection, from the socket's open to its close: the frame
 * loop (size check, parse, validate, dispatch, reply), authentication
 * state, the hold-back of live events during the offline sync, the
 * per-session rate limits and friend cache, and the clean-up of presence
 * when it ends. It talks to its socket only through `Conn`.
 */
import { toAppError } from "../../proto/errors.ts";
import {
  type ClientFrame,
  CLOSE,
  type ErrorFrame,
  MAX_BUFFERED_BYTES,
  MAX_FRAME_BYTES,
  type ServerEvent,
  type ServerFrame,
} from "../../proto/protocol.ts";
import { clearPresence } from "../engine/presence.ts";
import { TokenBucket } from "../engine/rate_limit.ts";
import type { ChatContext } from "./context.ts";
import { dispatch } from "./handlers/mod.ts";
import { acceptMessage, acceptMessageNow, finishMessage } from "./handlers/messages.ts";
import type { Inserted } from "./writer.ts";
import type { LocalSession } from "./hub.ts";
import {
  FrameError,
  InvalidFrameWindow,
  MAX_PENDING_FRAMES,
  parseFrame,
  tooBig,
} from "./limits.ts";
import { login } from "./login.ts";
import { notifyPresence } from "./presence_notify.ts";
import type { Conn, ConnEvents, UpgradeInfo } from "./transport.ts";
import { readEvent } from "./wire.ts";

type Phase = "unauth" | "sync" | "live" | "closed";
type RequestId = string | number | null;

const SETTLED = Promise.resolve();

type SendFrame = Extract<ClientFrame, { type: "msg.send" }>;

/** How long a positive friendship check is trusted (removals also clear it at once). */
const FRIEND_CACHE_MS = 30_000;

export class Session implements LocalSession, ConnEvents {
  /** Set when the login succeeds. */
  id = "";
  userId = 0;
  /** Last time any frame arrived, for the heartbeat timeout. */
  lastActivity = Date.now();
  /** Replaced by a newer login of the same user: friends are not told it went offline. */
  replaced = false;

  #ctx: ChatContext;
  #conn: Conn;
  #token: string | null;
  #phase: Phase = "unauth";
  #countedUnauth = false;
  #authTimer: ReturnType<typeof setTimeout> | undefined;
  #chain: Promise<void> = SETTLED;
  #tail: Promise<void> = SETTLED;
  #pending = 0;
  // Made when first needed: most sessions idle, and a session's size is the node's capacity.
  #messageBucket: TokenBucket | undefined;
  #typingBucket: TokenBucket | undefined;
  #invalid: InvalidFrameWindow | undefined;
  #held: { frame: ServerEvent; json?: string }[] | undefined;
  #synced: Set<number> | undefined;
  #friends: Map<number, number> | undefined;
  #registered = false;
  #cleanup: Promise<void> | null = null;
  #ended = false;
  #done: PromiseWithResolvers<void> | undefined;
  #onDone: (() => void) | undefined;

  /** `onDone`: called once the socket is closed and presence cleaned up. */
  constructor(ctx: ChatContext, conn: Conn, info: UpgradeInfo, onDone?: () => void) {
    this.#ctx = ctx;
    this.#conn = conn;
    this.#token = info.token;
    this.#onDone = onDone;
  }

  /** The user's bucket on this node, shared with their earlier sessions here. */
  get messageBucket(): TokenBucket {
    return this.#messageBucket ??= this.#ctx.buckets.get(this.userId);
  }

  /** Typing indicators beyond this rate are dropped silently. */
  get typingBucket(): TokenBucket {
    return this.#typingBucket ??= new TokenBucket(5, 10);
  }

  get closed(): boolean {
    return this.#phase === "closed";
  }

  get authenticated(): boolean {
    return this.#phase === "sync" || this.#phase === "live";
  }

  /** Resolves once the socket is closed and presence cleaned up. */
  get done(): Promise<void> {
    if (!this.#done) {
      this.#done = Promise.withResolvers<void>();
      if (this.#ended) this.#done.resolve();
    }
    return this.#done.promise;
  }

  // --- transport events ---

  onOpen(): void {
    const { state, config, metrics } = this.#ctx;
    if (this.#phase === "closed") return;
    if (state.draining) return this.closeWith(CLOSE.TRY_AGAIN_LATER, "node draining");
    if (state.unauthenticated >= config.chat.maxUnauthenticated) {
      return this.closeWith(CLOSE.TRY_AGAIN_LATER, "too many unauthenticated connections");
    }
    state.unauthenticated++;
    this.#countedUnauth = true;
    metrics.unauthenticated.set(state.unauthenticated);
    this.#authTimer = setTimeout(() => {
      if (this.#phase === "unauth") this.closeWith(CLOSE.AUTH_TIMEOUT, "authentication timeout");
    }, config.chat.authTimeoutMs);
    if (this.#token !== null) {
      const token = this.#token;
      this.#token = null;
      this.#startLogin(token, null);
    }
  }

  onText(text: string): void {
    if (this.#phase === "closed") return;
    this.lastActivity = Date.now();
    if (tooBig(text)) return this.#tooBig();
    // The hot path: with no frame in progress, a msg.send whose checks the
    // caches can answer joins a write batch now, without the frame queue.
    if (
      this.#chain === SETTLED && this.#phase === "live" && this.#pending < MAX_PENDING_FRAMES &&
      this.#sendNow(text)
    ) return;
    this.#enqueue(() => this.#handleText(text));
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
      accepted = acceptMessageNow(this.#ctx, this, frame);
    } catch (e) {
      this.#ctx.metrics.framesIn.inc({ type: frame.type });
      this.#afterEarlier(() => this.#requestFailed(id, frame.type, e));
      return true;
    }
    if (!accepted) return false;
    this.#ctx.metrics.framesIn.inc({ type: frame.type });
    this.#finishLater(frame, id, accepted.stored);
    return true;
  }

  onBinary(bytes: number): void {
    if (this.#phase === "closed") return;
    this.lastActivity = Date.now();
    if (bytes > MAX_FRAME_BYTES) return this.#tooBig();
    this.#enqueue(() => {
      this.#ctx.metrics.framesIn.inc({ type: "invalid" });
      this.#invalidFrame(null, "invalid_frame", "binary frames are not part of the protocol");
      return Promise.resolve();
    });
  }

  onClose(code: number): void {
    if (this.#phase === "closed") return;
    this.#phase = "closed";
    this.#ctx.metrics.closes.inc({ code: String(code) });
    this.#onClosed();
  }

  // --- the frame loop ---

  #enqueue(step: () => Promise<void>): void {
    if (this.#pending >= MAX_PENDING_FRAMES) {
      return this.closeWith(CLOSE.POLICY, "too many frames waiting");
    }
    this.#pending++;
    // One frame at a time, in order (msg.send only until its write is queued: see #pipeline).
    const next: Promise<void> = this.#chain.then(step).catch((e) => {
      this.#ctx.log.error("frame handling failed", { error: e, user: this.userId });
    }).finally(() => {
      this.#pending--;
      // An idle session keeps no promise of its own.
      if (this.#chain === next) this.#chain = SETTLED;
    });
    this.#chain = next;
  }

  /**
   * Runs `finish` after every earlier frame's reply was sent. msg.send frames
   * are pipelined: the frame loop moves on once a message joined a write
   * batch, and its ack and push wait here, so replies keep the order of
   * requests and a conversation's pushes keep the order of its ids.
   */
  #afterEarlier(finish: () => Promise<void> | void): void {
    this.#pending++;
    const next: Promise<void> = this.#tail.then(finish).catch((e) => {
      this.#ctx.log.error("frame handling failed", { error: e, user: this.userId });
    }).finally(() => {
      this.#pending--;
      if (this.#tail === next) this.#tail = SETTLED;
    });
    this.#tail = next;
  }

  async #handleText(text: string): Promise<void> {
    if (this.#phase === "closed") return;
    const { metrics } = this.#ctx;
    let frame;
    try {
      frame = parseFrame(text);
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      metrics.framesIn.inc({ type: "invalid" });
      await this.#tail;
      return this.#invalidFrame(e.requestId, e.code, e.message);
    }
    metrics.framesIn.inc({ type: frame.type });
    const id: RequestId = frame.id ?? null;
    if (frame.type === "msg.send" && this.authenticated) return await this.#pipeline(frame, id);
    // Any other frame sees the effects of the messages before it, and replies after them.
    await this.#tail;
    if (frame.type === "auth") {
      if (this.#phase !== "unauth") {
        return this.#error(id, "already_authenticated", "this socket is already authenticated");
      }
      return await this.#login(frame.token, id);
    }
    if (this.#phase === "unauth") {
      return this.#invalidFrame(id, "not_authenticated", "send an auth frame first");
    }
    try {
      await dispatch(this.#ctx, this, frame, (data) => {
        if (id !== null) this.send({ type: "result", id, data });
      });
    } catch (e) {
      this.#requestFailed(id, frame.type, e);
    }
  }

  async #pipeline(frame: SendFrame, id: RequestId): Promise<void> {
    let stored;
    try {
      stored = (await acceptMessage(this.#ctx, this, frame)).stored;
    } catch (e) {
      return this.#afterEarlier(() => this.#requestFailed(id, frame.type, e));
    }
    this.#finishLater(frame, id, stored);
  }

  #finishLater(frame: SendFrame, id: RequestId, stored: Promise<Inserted>): void {
    // Handled here, or an unhandled rejection would end the process before its turn comes.
    stored.catch(() => {});
    this.#afterEarlier(async () => {
      try {
        await finishMessage(this.#ctx, frame, await stored, (dataJson) => {
          if (id !== null) {
            this.#sendJson(`{"type":"result","id":${JSON.stringify(id)},"data":${dataJson}}`);
          }
        });
      } catch (e) {
        this.#requestFailed(id, frame.type, e);
      }
    });
  }

  #requestFailed(id: RequestId, type: string, e: unknown): void {
    const err = toAppError(e);
    if (err !== e) this.#ctx.log.error("request failed", { error: e, type });
    this.#error(id, err.code, err.message, err.retryAfterS);
  }

  #startLogin(token: string, id: RequestId): void {
    this.#enqueue(() => this.#login(token, id));
  }

  async #login(token: string, id: RequestId): Promise<void> {
    clearTimeout(this.#authTimer);
    this.#authTimer = undefined;
    try {
      await login(this.#ctx, this, token, id);
    } catch (e) {
      this.#ctx.log.error("login failed", { error: e, user: this.userId });
      this.fail(id, "internal", "the session could not be started; try again", 1011);
    }
  }

  #tooBig(): void {
    this.#ctx.metrics.invalidFrames.inc({ code: "frame_too_large" });
    this.#error(null, "frame_too_large", `a frame may be at most ${MAX_FRAME_BYTES} bytes`);
    this.closeWith(CLOSE.TOO_BIG, "frame too large");
  }

  #invalidFrame(id: RequestId, code: string, message: string): void {
    this.#ctx.metrics.invalidFrames.inc({ code });
    this.#error(id, code, message);
    if ((this.#invalid ??= new InvalidFrameWindow()).add()) {
      this.closeWith(CLOSE.POLICY, "too many invalid frames");
    }
  }

  #error(id: RequestId, code: string, message: string, retryAfterS?: number): void {
    const error: ErrorFrame["error"] = { code, message };
    if (retryAfterS !== undefined) error.retry_after_ms = Math.ceil(retryAfterS * 1000);
    this.send({ type: "error", id, error });
  }

  // --- what login.ts and the handlers use ---

  send(frame: ServerFrame): void {
    this.#sendJson(JSON.stringify(frame));
  }

  #sendJson(json: string): void {
    if (this.#phase === "closed") return;
    // A client that stops reading must not make the node hold its frames forever.
    if (this.#conn.buffered() > MAX_BUFFERED_BYTES) {
      return this.closeWith(CLOSE.TOO_SLOW, "client does not read");
    }
    this.#conn.send(json);
    this.#ctx.metrics.framesOut.inc();
  }

  /**
   * Waits until at most `bytes` are waiting for the client (flow control for
   * the sync); a client that reads too little for two heartbeat intervals
   * is closed with 4005 (before the heartbeat timeout, which a client that
   * does not read also runs into: its pings queue up behind our frames).
   */
  async drained(bytes: number): Promise<void> {
    const deadline = Date.now() + 2 * this.#ctx.config.chat.heartbeatMs;
    while (this.#phase !== "closed" && this.#conn.buffered() > bytes) {
      if (Date.now() > deadline) return this.closeWith(CLOSE.TOO_SLOW, "client does not read");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Sends an error frame and closes with `closeCode`. */
  fail(id: RequestId, code: string, message: string, closeCode: number): void {
    this.#error(id, code, message);
    this.closeWith(closeCode, code);
  }

  /** The login succeeded: from now on live events are held until `finishSync()`. */
  beginSession(userId: number, sessionId: string): void {
    this.userId = userId;
    this.id = sessionId;
    this.#phase = "sync";
    this.#leaveUnauth();
  }

  /**
   * Presence now names this session. If the socket closed while the login
   * ran, clean up at once (the close handler ran before there was anything
   * to clean).
   */
  markRegistered(): void {
    this.#registered = true;
    if (this.#phase === "closed") this.#runCleanup();
  }

  /** The offline sync is sent: push what was held back, minus messages the sync carried. */
  finishSync(synced: Set<number>): void {
    if (this.#phase !== "sync") return;
    if (synced.size > 0) this.#synced = synced;
    this.#phase = "live";
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const { frame, json } of held) this.#push(frame, json);
  }

  // --- LocalSession (the hub's side) ---

  deliver(frame: ServerEvent | string): boolean {
    if (!this.authenticated) return false;
    let event: ServerEvent | null;
    let json: string | undefined;
    if (typeof frame === "string") {
      json = frame;
      event = readEvent(frame);
      if (!event) return false;
    } else event = frame;
    if (event.type === "friend.removed") this.forgetFriend(event.user_id);
    if (event.type === "friend.accepted") this.rememberFriend(event.friend.user.id);
    if (this.#phase === "sync") (this.#held ??= []).push({ frame: event, json });
    else this.#push(event, json);
    return true;
  }

  #push(event: ServerEvent, json?: string): void {
    // At-least-once is the guarantee, but not twice in one session.
    if (event.type === "msg.new" && this.#synced?.has(event.message.id)) return;
    this.#sendJson(json ?? JSON.stringify(event));
  }

  kick(reason: string, replaced: boolean): void {
    if (this.#phase === "closed") return;
    this.replaced = replaced;
    this.send({ type: "kicked", reason });
    this.closeWith(CLOSE.KICKED, "kicked");
  }

  /** Asks the client to move to another node, then closes (drain). */
  moveAway(chatUrl: string | null): void {
    if (this.#phase === "closed") return;
    this.send({ type: "reconnect", reason: "draining", chat_url: chatUrl });
    this.closeWith(CLOSE.SERVICE_RESTART, "node draining");
  }

  closeWith(code: number, reason: string): void {
    if (this.#phase === "closed") return;
    this.#phase = "closed";
    this.#conn.close(code, reason);
    this.#ctx.metrics.closes.inc({ code: String(code) });
    this.#onClosed();
  }

  // --- friendship cache for the hot path (msg.send, typing) ---

  /** Whether the friend cache vouches for `userId` now (false: ask isFriend()). */
  knowsFriend(userId: number): boolean {
    const until = this.#friends?.get(userId);
    return until !== undefined && until > Date.now();
  }

  async isFriend(userId: number): Promise<boolean> {
    if (this.knowsFriend(userId)) return true;
    const yes = await this.#ctx.store.areFriends(this.userId, userId);
    if (yes) this.rememberFriend(userId);
    else this.#friends?.delete(userId);
    return yes;
  }

  rememberFriend(userId: number): void {
    (this.#friends ??= new Map()).set(userId, Date.now() + FRIEND_CACHE_MS);
  }

  forgetFriend(userId: number): void {
    this.#friends?.delete(userId);
  }

  // --- the end ---

  #leaveUnauth(): void {
    if (!this.#countedUnauth) return;
    this.#countedUnauth = false;
    const { state, metrics } = this.#ctx;
    state.unauthenticated--;
    metrics.unauthenticated.set(state.unauthenticated);
  }

  #onClosed(): void {
    clearTimeout(this.#authTimer);
    this.#authTimer = undefined;
    this.#leaveUnauth();
    this.#held = undefined;
    if (this.userId) this.#ctx.hub.remove(this);
    if (this.#registered) this.#runCleanup();
    else if (!this.userId) this.#end();
    // A login still running calls markRegistered(), which cleans up.
  }

  #runCleanup(): void {
    if (this.#cleanup) return;
    this.#ctx.hub.remove(this);
    this.#cleanup = this.#clearPresence().finally(() => this.#end());
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#done?.resolve();
    this.#onDone?.();
  }

  async #clearPresence(): Promise<void> {
    const { engine, store, log } = this.#ctx;
    try {
      // Compare the session: a newer login's record must survive this one's end.
      const cleared = await clearPresence(engine, this.userId, this.id);
      if (!cleared || this.replaced) return;
      const now = Date.now();
      await store.setLastSeen(this.userId, now);
      await notifyPresence(this.#ctx, this.userId, { online: false, lastSeen: now });
    } catch (e) {
      log.warn("presence clean-up failed", { error: e, user: this.userId });
    }
  }
}
