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
 * test asked for it is never missed.
 *
 * `RawSocket` speaks the WebSocket wire format by hand, for what the
 * WebSocket API refuses to send (a text frame that is not UTF-8).
 */
import type { ResultData, ServerEvent, ServerFrame, WireMessage } from "../proto/protocol.ts";

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
}

export interface ConnectOptions {
  /** How the token travels: an `auth` frame (default) or the `parley.auth.<token>` subprotocol. */
  via?: "frame" | "subprotocol";
  /** Ping at the interval the welcome advertises (default true). */
  ping?: boolean;
  timeoutMs?: number;
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

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
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

  #ws: WebSocket;
  #taken = new Set<number>();
  #wake = new Set<() => void>();
  #pending = new Map<
    string | number,
    { resolve(data: unknown): void; reject(e: Error): void; timer: ReturnType<typeof setTimeout> }
  >();
  #nextId = 1;
  #pingTimer: ReturnType<typeof setInterval> | undefined;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onmessage = (ev) => this.#onMessage(ev.data);
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (ev) => {
        this.closeInfo = { code: ev.code, reason: ev.reason, wasClean: ev.wasClean };
        clearInterval(this.#pingTimer);
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
    const client = new ChatClient(ws);
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
  static over(socket: WebSocket): ChatClient {
    return new ChatClient(socket);
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
    if (frame.type === "welcome") this.welcome = frame;
    if ((frame.type === "result" || frame.type === "error") && frame.id !== null) {
      const p = this.#pending.get(frame.id);
      if (p) {
        this.#pending.delete(frame.id);
        clearTimeout(p.timer);
        // A reply is consumed by its request, not by next().
        this.#taken.add(this.frames.length - 1);
        if (frame.type === "result") p.resolve(frame.data);
        else p.reject(new RequestError(frame.error.code, frame.error.message, frame));
      }
    }
    this.#notify();
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
      this.#pending.set(id, { resolve: resolve as (d: unknown) => void, reject, timer });
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

  /** Authenticates with an `auth` frame; resolves with the welcome. */
  async auth(token: string, timeoutMs = 5000): Promise<Welcome> {
    this.send({ type: "auth", id: "auth", token });
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

  /** Closes the socket (if still open) and waits for the close to finish. */
  async close(code = 1000): Promise<CloseInfo> {
    clearInterval(this.#pingTimer);
    if (this.#ws.readyState === WebSocket.CONNECTING || this.#ws.readyState === WebSocket.OPEN) {
      this.#ws.close(code);
    }
    const d = delay(3000);
    const info = await Promise.race([this.closed, d.promise.then(() => null)]);
    d.cancel();
    return info ?? { code: 1006, reason: "close did not finish", wasClean: false };
  }
}

/**
 * Opens a socket at `url`, authenticates with `token` and resolves with the
 * client once the welcome arrived; pings at the advertised interval.
 */
export async function connect(
  url: string,
  token: string,
  options: ConnectOptions = {},
): Promise<ChatClient> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const bySubprotocol = options.via === "subprotocol";
  const client = await ChatClient.open(url, {
    protocols: bySubprotocol ? [SUBPROTOCOL, AUTH_PREFIX + token] : [SUBPROTOCOL],
    timeoutMs,
  });
  try {
    const welcome = bySubprotocol
      ? await client.awaitWelcome(timeoutMs)
      : await client.auth(token, timeoutMs);
    if (options.ping ?? true) client.startPinging(Math.max(200, welcome.heartbeat_ms / 2));
    return client;
  } catch (e) {
    await client.close();
    throw e;
  }
}

// --- the wire format by hand ---

export interface RawFrame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

export const OPCODE = { TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;

/** One WebSocket over a plain TCP connection, frames written and read by hand. */
export class RawSocket {
  #conn: Deno.TcpConn;
  #buf: Uint8Array;
  #eof = false;

  private constructor(conn: Deno.TcpConn, rest: Uint8Array) {
    this.#conn = conn;
    this.#buf = rest;
  }

  /** Connects and does the opening handshake; rejects unless the server answers 101. */
  static async open(url: string, protocols: string[] = [SUBPROTOCOL]): Promise<RawSocket> {
    const u = new URL(url);
    const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port || 80) });
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    const head = [
      `GET ${u.pathname}${u.search} HTTP/1.1`,
      `Host: ${u.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
      ...(protocols.length ? [`Sec-WebSocket-Protocol: ${protocols.join(", ")}`] : []),
      "",
      "",
    ].join("\r\n");
    await writeAll(conn, new TextEncoder().encode(head));
    let buf: Uint8Array = new Uint8Array();
    for (;;) {
      const end = indexOf(buf, [13, 10, 13, 10]);
      if (end >= 0) {
        const status = new TextDecoder().decode(buf.subarray(0, end)).split("\r\n")[0];
        if (!/^HTTP\/1\.1 101/.test(status)) {
          conn.close();
          throw new Error(`handshake refused: ${status}`);
        }
        return new RawSocket(conn, buf.slice(end + 4));
      }
      const chunk = new Uint8Array(4096);
      const n = await conn.read(chunk);
      if (n === null) {
        conn.close();
        throw new Error("connection closed during the handshake");
      }
      buf = concat(buf, chunk.subarray(0, n));
    }
  }

  /** Writes one masked frame, as a client must. */
  async sendFrame(opcode: number, payload: Uint8Array, fin = true): Promise<void> {
    const len = payload.length;
    const head: number[] = [(fin ? 0x80 : 0) | opcode];
    if (len < 126) head.push(0x80 | len);
    else if (len < 65536) head.push(0x80 | 126, len >> 8, len & 255);
    else {
      head.push(0x80 | 127, 0, 0, 0, 0);
      head.push((len >>> 24) & 255, (len >>> 16) & 255, (len >>> 8) & 255, len & 255);
    }
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const body = payload.map((b, i) => b ^ mask[i % 4]);
    await writeAll(this.#conn, concat(new Uint8Array([...head, ...mask]), body));
  }

  sendText(text: string): Promise<void> {
    return this.sendFrame(OPCODE.TEXT, new TextEncoder().encode(text));
  }

  // One read in flight at a time: a read that outlives a timeout is reused by the next call.
  #reading: Promise<Uint8Array | null> | null = null;

  async #fill(n: number, deadline: number): Promise<boolean> {
    while (this.#buf.length < n) {
      if (this.#eof) return false;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out reading a frame");
      this.#reading ??= (async () => {
        const chunk = new Uint8Array(65536);
        const r = await this.#conn.read(chunk).catch(() => null);
        return r === null ? null : chunk.slice(0, r);
      })();
      const d = delay(left);
      const r = await Promise.race([this.#reading, d.promise.then(() => "timeout" as const)]);
      d.cancel();
      if (r === "timeout") throw new Error("timed out reading a frame");
      this.#reading = null;
      if (r === null) {
        this.#eof = true;
        return false;
      }
      this.#buf = concat(this.#buf, r);
    }
    return true;
  }

  /** The next frame from the server, or null once the connection ended. */
  async readFrame(timeoutMs = 5000): Promise<RawFrame | null> {
    const deadline = Date.now() + timeoutMs;
    if (!await this.#fill(2, deadline)) return null;
    let len = this.#buf[1] & 0x7f;
    let off = 2;
    if (len === 126) {
      if (!await this.#fill(4, deadline)) return null;
      len = (this.#buf[2] << 8) | this.#buf[3];
      off = 4;
    } else if (len === 127) {
      if (!await this.#fill(10, deadline)) return null;
      len = new DataView(this.#buf.buffer, this.#buf.byteOffset + 2, 8).getUint32(4);
      off = 10;
    }
    if (!await this.#fill(off + len, deadline)) return null;
    const frame = {
      fin: (this.#buf[0] & 0x80) !== 0,
      opcode: this.#buf[0] & 0x0f,
      payload: this.#buf.slice(off, off + len),
    };
    this.#buf = this.#buf.slice(off + len);
    return frame;
  }

  /** Reads until a close frame (its code) or the end of the connection (null); text frames go to `texts`. */
  async readUntilClose(
    texts: string[] = [],
    timeoutMs = 5000,
  ): Promise<CloseInfo | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = await this.readFrame(deadline - Date.now());
      if (!f) return null;
      if (f.opcode === OPCODE.TEXT) texts.push(new TextDecoder().decode(f.payload));
      if (f.opcode === OPCODE.CLOSE) {
        const code = f.payload.length >= 2 ? (f.payload[0] << 8) | f.payload[1] : 1005;
        return { code, reason: new TextDecoder().decode(f.payload.subarray(2)), wasClean: true };
      }
    }
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function indexOf(buf: Uint8Array, needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= buf.length; i++) {
    for (let j = 0; j < needle.length; j++) if (buf[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
