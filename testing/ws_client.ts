/**
 * A small client of Parley's chat protocol for the cross-role tests, written
 * the way an outside client author would write one: from docs/protocol.md,
 * with the frame types of proto/protocol.ts only as TypeScript shapes.
 *
 * `connect(url, token)` opens the socket, authenticates (with an `auth`
 * frame, or with the token as a second subprotocol) and resolves once the
 * `welcome` arrived. Every frame the server sends is kept in `frames`;
 * `request()` matches replies by id, `next()` takes the oldest event of a
 * type that no earlier `next()` took, so an event that arrived before the
 * test asked for it is never missed. Its `inbox` (client_inbox.ts) follows
 * the delivery rules of docs/protocol.md §9 (seq, acks, gap fills) and is
 * the client's view a test checks.
 *
 * `connect()` (ws_connect.ts) opens and authenticates one in a call;
 * `RawSocket` (raw_socket.ts) speaks the WebSocket wire format by hand.
 */
import type { ResultData, ServerEvent, ServerFrame, WireMessage } from "../proto/protocol.ts";
import { ClientInbox, type InboxOptions } from "./client_inbox.ts";

export type { InboxOptions } from "./client_inbox.ts";

export type EventType = ServerEvent["type"] | "error";
export type EventOf<T extends EventType> = T extends "error"
  ? Extract<ServerFrame, { type: "error" }>
  : Extract<ServerEvent, { type: T }>;
export type Welcome = EventOf<"welcome">;
export type RequestType = keyof ResultData;

/** The subprotocol a client offers, and the prefix of the one that carries the token. */
export const SUBPROTOCOL = "parley.v1";
export const AUTH_PREFIX = "parley.auth.";

/** An error frame answering a request (or the auth), or the socket closing first. */
export class RequestError extends Error {
  override name = "RequestError";
  constructor(
    /** The error code from the server, or "socket_closed" / "timeout" from this client. */
    readonly code: string,
    message: string,
    readonly frame: ServerFrame | null = null,
  ) {
    super(`${code}: ${message}`);
  }
}

export interface CloseInfo {
  code: number;
  reason: string;
  /** False when the connection ended without a close handshake (crash, network loss). */
  wasClean: boolean;
}

export interface OpenOptions {
  /** Subprotocols to offer; `[SUBPROTOCOL]` by default. */
  protocols?: string[];
  timeoutMs?: number;
  /** How the client's inbox acks and fills gaps (client_inbox.ts). */
  inbox?: InboxOptions;
}

/** What `auth` may say besides the token. */
export interface AuthFields {
  /** The device id (kept by the client across sessions). */
  device?: string;
  label?: string;
  /** A quiet session (docs/protocol.md §3). */
  quiet?: boolean;
}

function delay(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let done!: () => void;
  const promise = new Promise<void>((resolve) => {
    done = resolve;
    timer = setTimeout(resolve, ms);
  });
  return {
    promise,
    cancel() {
      clearTimeout(timer);
      done();
    },
  };
}

export class ChatClient {
  /** Every JSON frame the server sent, in order of arrival. */
  readonly frames: ServerFrame[] = [];
  /** Frames that were not JSON text (should stay empty). */
  readonly garbage: (string | ArrayBuffer)[] = [];
  welcome: Welcome | null = null;
  /** Resolves when the socket is closed, with the server's close code. */
  readonly closed: Promise<CloseInfo>;
  closeInfo: CloseInfo | null = null;
  /** The client's inbox: what it holds, acks and shows (docs/protocol.md §9). */
  readonly inbox: ClientInbox;

  #ws: WebSocket;
  #taken = new Set<number>();
  #wake = new Set<() => void>();
  #pending = new Map<
    string | number,
    {
      type: string;
      resolve(data: unknown): void;
      reject(e: Error): void;
      timer: ReturnType<typeof setTimeout>;
    }
  >();
  #nextId = 1;
  #pingTimer: ReturnType<typeof setInterval> | undefined;

  private constructor(ws: WebSocket, inbox: InboxOptions = {}) {
    this.#ws = ws;
    this.inbox = new ClientInbox({
      get isOpen() {
        return ws.readyState === WebSocket.OPEN;
      },
      send: (frame) => this.send(frame),
      fetch: (after, limit) => this.request("msg.fetch", { after, limit }),
    }, inbox);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (ev) => this.#onMessage(ev.data);
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (ev) => {
        this.closeInfo = { code: ev.code, reason: ev.reason, wasClean: ev.wasClean };
        clearInterval(this.#pingTimer);
        this.inbox.close();
        for (const [id, p] of this.#pending) {
          clearTimeout(p.timer);
          p.reject(
            new RequestError("socket_closed", `socket closed (${ev.code}) before reply to ${id}`),
          );
        }
        this.#pending.clear();
        this.#notify();
        resolve(this.closeInfo);
      });
    });
  }

  /** Opens a socket and does not authenticate; resolves once it is open. */
  static open(url: string, options: OpenOptions = {}): Promise<ChatClient> {
    const ws = new WebSocket(url, options.protocols ?? [SUBPROTOCOL]);
    const client = new ChatClient(ws, options.inbox);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        ws.close();
        reject(new Error(`no WebSocket open at ${url} within ${options.timeoutMs ?? 5000} ms`));
      }, options.timeoutMs ?? 5000);
      ws.addEventListener("open", () => {
        clearTimeout(t);
        resolve(client);
      });
      ws.addEventListener("close", (ev) => {
        clearTimeout(t);
        reject(new Error(`WebSocket to ${url} closed before it opened (${ev.code} ${ev.reason})`));
      });
    });
  }

  /**
   * A client over a socket that is already open: anything with WebSocket's
   * API, e.g. the in-memory socket of the chat role's unit tests.
   */
  static over(socket: WebSocket, inbox?: InboxOptions): ChatClient {
    return new ChatClient(socket, inbox);
  }

  get protocol(): string {
    return this.#ws.protocol;
  }

  get isOpen(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  #onMessage(data: unknown): void {
    if (typeof data !== "string") {
      this.garbage.push(data as ArrayBuffer);
      return;
    }
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data);
    } catch {
      this.garbage.push(data);
      return;
    }
    this.frames.push(frame);
    if ((frame.type === "result" || frame.type === "error") && frame.id !== null) {
      const p = this.#pending.get(frame.id);
      if (p) {
        this.#pending.delete(frame.id);
        clearTimeout(p.timer);
        // A reply is consumed by its request, not by next().
        this.#taken.add(this.frames.length - 1);
        if (frame.type === "result") {
          this.#feedResult(p.type, frame.data);
          p.resolve(frame.data);
        } else p.reject(new RequestError(frame.error.code, frame.error.message, frame));
      }
    } else this.#feedEvent(frame);
    this.#notify();
  }

  /** What an event tells the inbox. */
  #feedEvent(frame: ServerFrame): void {
    const inbox = this.inbox;
    switch (frame.type) {
      case "welcome":
        this.welcome = frame;
        return inbox.start(frame.cursor, frame.head);
      case "msg.sync":
        for (const m of frame.messages) inbox.onEntry(m);
        // The sync is processed: ack it now rather than in a while.
        if (frame.done) inbox.flushAck();
        return;
      case "msg.new":
        return inbox.onEntry(frame.message);
      case "pong":
        if (frame.head !== undefined) inbox.onHead(frame.head);
        return;
    }
  }

  /** What a result tells the inbox: one's own message sent, entries fetched. */
  #feedResult(type: string, data: unknown): void {
    if (type === "msg.send") this.inbox.onEntry((data as ResultData["msg.send"]).message);
    if (type === "msg.fetch") {
      const { messages, head } = data as ResultData["msg.fetch"];
      for (const m of messages) this.inbox.onEntry(m);
      this.inbox.onHead(head);
    }
  }

  #notify(): void {
    for (const w of [...this.#wake]) w();
  }

  /** Sends a frame: objects as JSON text, strings and bytes as they are. */
  send(frame: unknown): void {
    if (typeof frame === "string" || frame instanceof Uint8Array) this.#ws.send(frame);
    else this.#ws.send(JSON.stringify(frame));
  }

  /** Sends a request with a fresh id and resolves with the result's `data`. */
  request<T extends RequestType>(
    type: T,
    fields: Record<string, unknown> = {},
    timeoutMs = 5000,
  ): Promise<ResultData[T]> {
    const id = `r${this.#nextId++}`;
    return new Promise((resolve, reject) => {
      if (!this.isOpen) {
        reject(new RequestError("socket_closed", `socket is not open for ${type}`));
        return;
      }
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new RequestError("timeout", `no reply to ${type} (${id}) within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { type, resolve: resolve as (d: unknown) => void, reject, timer });
      this.send({ ...fields, type, id });
    });
  }

  /** Events of `type` received so far (taken by next() or not). */
  events<T extends EventType>(type: T, match?: (ev: EventOf<T>) => boolean): EventOf<T>[] {
    return this.frames.filter((f) =>
      f.type === type && (!match || match(f as EventOf<T>))
    ) as EventOf<T>[];
  }

  /**
   * The oldest event of `type` matching `match` that no earlier next() took;
   * waits for one up to `timeoutMs`.
   */
  async next<T extends EventType>(
    type: T,
    match?: (ev: EventOf<T>) => boolean,
    timeoutMs = 5000,
  ): Promise<EventOf<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = 0; i < this.frames.length; i++) {
        const f = this.frames[i];
        if (this.#taken.has(i) || f.type !== type) continue;
        if (match && !match(f as EventOf<T>)) continue;
        this.#taken.add(i);
        return f as EventOf<T>;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.closeInfo) {
        const why = this.closeInfo ? `socket closed (${this.closeInfo.code})` : `${timeoutMs} ms`;
        throw new RequestError(
          this.closeInfo ? "socket_closed" : "timeout",
          `no ${type} event (${why}); got: ${this.#summary()}`,
        );
      }
      const d = delay(left);
      const wake = () => d.cancel();
      this.#wake.add(wake);
      await d.promise;
      this.#wake.delete(wake);
    }
  }

  #summary(): string {
    return this.frames.slice(-12).map((f) => JSON.stringify(f).slice(0, 160)).join(" | ");
  }

  /** The session's offline sync: the messages of every `msg.sync` up to the one with `done`. */
  async syncMessages(timeoutMs = 5000): Promise<WireMessage[]> {
    const out: WireMessage[] = [];
    for (;;) {
      const f = await this.next("msg.sync", undefined, timeoutMs);
      out.push(...f.messages);
      if (f.done) return out;
    }
  }

  /** Authenticates with an `auth` frame (and its optional fields); resolves with the welcome. */
  async auth(token: string, timeoutMs = 5000, fields: AuthFields = {}): Promise<Welcome> {
    this.send({ type: "auth", id: "auth", token, ...fields });
    return await this.awaitWelcome(timeoutMs);
  }

  /** Waits for the welcome; an error frame or a close before it rejects with its code. */
  async awaitWelcome(timeoutMs = 5000): Promise<Welcome> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.welcome) return this.welcome;
      const err = this.frames.find((f) => f.type === "error");
      if (err && err.type === "error") {
        throw new RequestError(err.error.code, err.error.message, err);
      }
      if (this.closeInfo) {
        throw new RequestError(
          "socket_closed",
          `closed (${this.closeInfo.code} ${this.closeInfo.reason}) before welcome`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new RequestError("timeout", `no welcome within ${timeoutMs} ms`);
      const d = delay(left);
      const wake = () => d.cancel();
      this.#wake.add(wake);
      await d.promise;
      this.#wake.delete(wake);
    }
  }

  /** Sends `ping` every `intervalMs`, as a client must to keep its session. */
  startPinging(intervalMs: number): void {
    clearInterval(this.#pingTimer);
    this.#pingTimer = setInterval(() => {
      if (this.isOpen) this.send({ type: "ping" });
    }, intervalMs);
  }

  stopPinging(): void {
    clearInterval(this.#pingTimer);
  }

  /** Closes the socket (if still open; the pending ack goes first) and waits for the close. */
  async close(code = 1000): Promise<CloseInfo> {
    clearInterval(this.#pingTimer);
    this.inbox.flushAck();
    this.inbox.close();
    if (this.#ws.readyState === WebSocket.CONNECTING || this.#ws.readyState === WebSocket.OPEN) {
      this.#ws.close(code);
    }
    const d = delay(3000);
    const info = await Promise.race([this.closed, d.promise.then(() => null)]);
    d.cancel();
    return info ?? { code: 1006, reason: "close did not finish", wasClean: false };
  }
}
