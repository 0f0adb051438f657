/**
 * One client connection, from the socket's open to its close: its phases
 * (unauthenticated, syncing, live, closed), the auth timeout and the cap on
 * unauthenticated sockets, the hold-back of live events during the sync,
 * kicks and drains, and the end (session_end.ts). Frames go through its
 * FrameLoop (frame_loop.ts); messages for the socket go through its inbox
 * stream (session_inbox.ts), which keeps them in seq order. It talks to its
 * socket only through `Conn`.
 */
import {
  CLOSE,
  MAX_BUFFERED_BYTES,
  type ServerEvent,
  type ServerFrame,
} from "../../proto/protocol.ts";
import type { PresenceSession } from "../engine/presence.ts";
import { TokenBucket } from "../engine/rate_limit.ts";
import type { ChatContext } from "./chat_context.ts";
import {
  FrameLoop,
  type FrameOwner,
  type PauseReason,
  type Phase,
  type RequestId,
} from "./frame_loop.ts";
import { FriendCache } from "./friend_cache.ts";
import type { NodeSession, SeqItem } from "./local_sessions.ts";
import { login, type LoginOptions, type LoginSession } from "./login.ts";
import { loginGateOf } from "./login_gate.ts";
import { endSession } from "./session_end.ts";
import { SessionInbox } from "./session_inbox.ts";
import type { Conn, ConnEvents, UpgradeInfo } from "./transport.ts";
import { readEvent } from "./wire.ts";

/** A gap in a session's stream waits this long for the missing entry before reading the store. */
const GAP_MS = 200;

export class Session implements LoginSession, FrameOwner, ConnEvents, NodeSession {
  /** Set when the login succeeds. */
  id = "";
  userId = 0;
  /** A quiet session: no presence, device, sync or live events (docs/protocol.md §3). */
  quiet = false;
  /**
   * Last time any frame arrived (or the login started, or the welcome went
   * out), for the heartbeat timeout.
   */
  lastActivity = Date.now();
  /** Replaced by a newer login of the same user: friends are not told it went offline. */
  replaced = false;
  /** The session's entry in presence, once recorded. */
  presence: PresenceSession | null = null;
  /** The device's inbox, once the login opened it (never for a quiet session). */
  inbox: SessionInbox | undefined;

  #ctx: ChatContext;
  #conn: Conn;
  /** Why reading is paused (each reason is lifted on its own); reading goes on when none is left. */
  #pauses = new Set<PauseReason>();
  #token: string | null;
  #phase: Phase = "unauth";
  #loop: FrameLoop;
  #countedUnauth = false;
  #authTimer: ReturnType<typeof setTimeout> | undefined;
  // Made when first needed: most sessions idle, and a session's size is the node's capacity.
  #messageBucket: TokenBucket | undefined;
  #typingBucket: TokenBucket | undefined;
  #friends: FriendCache | undefined;
  #held: { frame: ServerEvent; json?: string; item?: SeqItem }[] | undefined;
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
    this.#loop = new FrameLoop(ctx, this);
  }

  /** The user's bucket, shared with their other sessions (see buckets.ts). */
  get messageBucket(): TokenBucket {
    return this.#messageBucket ??= this.#ctx.buckets.get(this.userId);
  }

  get typingBucket(): TokenBucket {
    return this.#typingBucket ??= new TokenBucket(5, 10);
  }

  get friends(): FriendCache {
    return this.#friends ??= new FriendCache(this.#ctx.store, this.userId);
  }

  get phase(): Phase {
    return this.#phase;
  }

  get closed(): boolean {
    return this.#phase === "closed";
  }

  get stream(): SessionInbox["stream"] | undefined {
    return this.inbox?.stream;
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
      this.#loop.login(token);
    }
  }

  onText(text: string): void {
    if (this.#phase === "closed") return;
    this.lastActivity = Date.now();
    this.#loop.text(text);
  }

  onBinary(bytes: number): void {
    if (this.#phase === "closed") return;
    this.lastActivity = Date.now();
    this.#loop.binary(bytes);
  }

  onClose(code: number): void {
    if (this.#phase === "closed") return;
    this.#phase = "closed";
    this.#ctx.metrics.closes.inc({ code: String(code) });
    this.#onClosed();
  }

  // --- what the frame loop calls ---

  async authenticate(token: string, id: RequestId, options: LoginOptions = {}): Promise<void> {
    clearTimeout(this.#authTimer);
    this.#authTimer = undefined;
    try {
      // A socket that closed while it waited for its turn needs no login.
      await loginGateOf(this.#ctx).run(() =>
        this.closed ? Promise.resolve() : login(this.#ctx, this, token, id, options)
      );
    } catch (e) {
      this.#ctx.log.error("login failed", { error: e, user: this.userId });
      this.fail(id, "internal", "the session could not be started; try again", CLOSE.INTERNAL);
    }
  }

  // --- sending ---

  send(frame: ServerFrame): void {
    this.sendJson(JSON.stringify(frame));
  }

  sendJson(json: string): void {
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

  fail(id: RequestId, code: string, message: string, closeCode: number): void {
    this.#loop.error(id, code, message);
    this.closeWith(closeCode, code);
  }

  // --- what login.ts calls ---

  beginSession(userId: number, sessionId: string, quiet: boolean): void {
    this.userId = userId;
    this.id = sessionId;
    this.quiet = quiet;
    // The sweep times out authenticated sessions: a login that waited its
    // turn (LoginGate) past the heartbeat timeout must not count as silence.
    this.lastActivity = Date.now();
    // A quiet session has no sync: it is live at once (and gets no live events).
    this.#phase = quiet ? "live" : "sync";
    this.#leaveUnauth();
  }

  welcomed(): void {
    // The client pings at the interval the welcome announced, from now on.
    this.lastActivity = Date.now();
  }

  /**
   * Presence now lists this session (`entry`, or null if writing it
   * failed). If the socket closed while the login ran, clean up at once
   * (the close handler ran before there was anything to clean).
   */
  markRegistered(entry: PresenceSession | null): void {
    this.presence = entry;
    this.#registered = true;
    if (this.#phase === "closed") this.#runCleanup();
  }

  openInbox(device: { id: string; label: string }, cursor: number): SessionInbox {
    const { store, cursors, log } = this.#ctx;
    this.inbox = new SessionInbox(this, device, cursor, { store, cursors, log, gapMs: GAP_MS });
    if (this.#phase === "closed") this.inbox.close();
    return this.inbox;
  }

  /** The sync was sent: what was held back goes out now, through the stream. */
  finishSync(): void {
    if (this.#phase !== "sync") return;
    this.#phase = "live";
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const { frame, json, item } of held) this.#push(frame, json, item);
  }

  // --- LocalSession (routing's side) ---

  deliver(frame: ServerEvent | string, item?: SeqItem): boolean {
    if (!this.authenticated || this.quiet) return false;
    let event: ServerEvent | null;
    let json: string | undefined;
    if (typeof frame === "string") {
      json = frame;
      event = readEvent(frame);
      if (!event) return false;
    } else event = frame;
    if (event.type === "friend.removed") this.#friends?.forget(event.user_id);
    if (event.type === "friend.accepted") this.friends.remember(event.friend.user.id);
    if (this.#phase === "sync") (this.#held ??= []).push({ frame: event, json, item });
    else this.#push(event, json, item);
    return true;
  }

  #push(event: ServerEvent, json?: string, item?: SeqItem): void {
    const text = json ?? JSON.stringify(event);
    // A message goes through the stream: in seq order, each entry once per socket.
    if (item && this.inbox) this.inbox.stream.push(item.seq, text, item.from, item.id);
    else this.sendJson(text);
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

  pauseReading(reason: PauseReason = "frames"): void {
    if (this.#pauses.size === 0) this.#conn.pause();
    this.#pauses.add(reason);
  }

  resumeReading(reason: PauseReason = "frames"): void {
    if (!this.#pauses.delete(reason)) return;
    // The node kept the client's frames waiting: that was no silence of the client's.
    if (reason === "store") this.lastActivity = Date.now();
    if (this.#pauses.size === 0) this.#conn.resume();
  }

  /** Reading is held until the node's store catches up (its pings wait unread meanwhile). */
  get heldByStore(): boolean {
    return this.#pauses.has("store");
  }

  closeWith(code: number, reason: string): void {
    if (this.#phase === "closed") return;
    this.#phase = "closed";
    this.#conn.close(code, reason);
    this.#ctx.metrics.closes.inc({ code: String(code) });
    this.#onClosed();
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
    this.inbox?.close();
    if (this.userId) this.#ctx.sessions.remove(this);
    if (this.#registered) this.#runCleanup();
    else if (!this.userId) this.#end();
    // A login still running calls markRegistered(), which cleans up.
  }

  #runCleanup(): void {
    if (this.#cleanup) return;
    this.#ctx.sessions.remove(this);
    this.#cleanup = endSession(this.#ctx, this).finally(() => this.#end());
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#done?.resolve();
    this.#onDone?.();
  }
}
