/**
 * One WebSocket of inbox_client.ts, from opening to close: the `parley.v1`
 * subprotocol, the `auth` frame (with the device, protocol 2; a server that
 * rejects the device field speaks protocol 1 and is asked again without
 * it), requests matched by id, pings at half the advertised heartbeat, and
 * how the socket ended (a `reconnect` hint, a `kicked`, the close code).
 * Written from docs/protocol.md §1–§4, §8, §10 and §11; events go to the
 * owner's `onEvent`.
 */

/** A server frame, loosely typed: the client reads only the fields the docs name. */
// deno-lint-ignore no-explicit-any
export type Frame = { type: string; id?: string | number | null; [field: string]: any };

/** An error reply (or this side's socket_closed / timeout), with the server's code. */
export class ReplyError extends Error {
  override name = "ReplyError";
  constructor(readonly code: string, message: string, readonly retryAfterMs?: number) {
    super(`${code}: ${message}`);
  }
}

/** Why a connect failed: the socket never reached `welcome`. */
export class ConnectError extends Error {
  override name = "ConnectError";
  constructor(readonly url: string, readonly code: string, message: string) {
    super(`${url}: ${code}: ${message}`);
  }
}

export interface Ended {
  code: number;
  /** `reconnect.chat_url` if the server sent a reconnect event (null: it named none). */
  hint?: string | null;
  /** `kicked.reason` if the server kicked the session. */
  kicked?: string;
}

export interface ConnectOptions {
  token: string;
  /** Protocol 2 device; omitted when the server is known to speak protocol 1. */
  device?: { id: string; label: string };
  timeoutMs?: number;
  onEvent(frame: Frame): void;
}

export class InboxConn {
  welcome: Frame | null = null;
  /** When the server last sent anything (a sign of life, docs §10). */
  lastHeard = Date.now();
  readonly ended: Promise<Ended>;
  #ws: WebSocket;
  #endInfo: Ended = { code: 0 };
  #pending = new Map<
    string,
    { resolve(d: Frame): void; reject(e: Error): void; timer: ReturnType<typeof setTimeout> }
  >();
  #n = 0;
  #ping: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  private constructor(readonly url: string, private readonly opts: ConnectOptions) {
    this.#ws = new WebSocket(url, ["parley.v1"]);
    this.ended = new Promise((resolve) => {
      this.#ws.onclose = (ev) => {
        this.#closed = true;
        clearInterval(this.#ping);
        this.#endInfo.code = ev.code;
        for (const p of this.#pending.values()) {
          clearTimeout(p.timer);
          p.reject(new ReplyError("socket_closed", `socket closed (${ev.code})`));
        }
        this.#pending.clear();
        resolve(this.#endInfo);
      };
    });
    this.#ws.onmessage = (ev) => this.#onFrame(ev.data);
    this.#ws.onerror = () => {};
  }

  /** Opens, authenticates and resolves once `welcome` arrived; rejects with ConnectError. */
  static async open(url: string, opts: ConnectOptions): Promise<InboxConn> {
    const conn = new InboxConn(url, opts);
    const timeoutMs = opts.timeoutMs ?? 5000;
    try {
      await conn.#opened(timeoutMs);
      let welcome = await conn.#auth(opts.device, timeoutMs);
      // A protocol 1 server knows no `device` (its auth schema is strict): ask again without.
      if (!welcome && opts.device) welcome = await conn.#auth(undefined, timeoutMs);
      if (!welcome) throw new ConnectError(url, "invalid_request", "auth refused");
      conn.welcome = welcome;
      const every = Math.max(100, Math.floor(Number(welcome.heartbeat_ms) / 2));
      conn.#ping = setInterval(() => conn.send({ type: "ping", id: `p${conn.#n++}` }), every);
      return conn;
    } catch (e) {
      conn.close();
      if (e instanceof ConnectError) throw e;
      if (e instanceof ReplyError) throw new ConnectError(url, e.code, e.message);
      throw new ConnectError(url, "unreachable", String(e));
    }
  }

  #opened(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("no open within timeout")), timeoutMs);
      this.#ws.onopen = () => {
        clearTimeout(t);
        resolve();
      };
      this.ended.then((e) => {
        clearTimeout(t);
        reject(new Error(`closed before open (${e.code})`));
      });
    });
  }

  /** The welcome, or null if the server refused the frame's fields (invalid_request). */
  async #auth(device: ConnectOptions["device"], timeoutMs: number): Promise<Frame | null> {
    const frame: Record<string, unknown> = { type: "auth", token: this.opts.token };
    if (device) Object.assign(frame, { device: device.id, label: device.label });
    try {
      return await this.request("auth", frame, timeoutMs);
    } catch (e) {
      if (e instanceof ReplyError && e.code === "invalid_request") return null;
      throw e;
    }
  }

  get live(): boolean {
    return !this.#closed && this.welcome !== null;
  }

  /** Sends a request with a fresh id; resolves with the result's data (or `welcome` for auth). */
  request(type: string, fields: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<Frame> {
    const id = `${type === "auth" ? "auth" : "r"}${this.#n++}`;
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new ReplyError("socket_closed", "socket is closed"));
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ReplyError("timeout", `no reply to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.send({ ...fields, type, id });
    });
  }

  send(frame: Record<string, unknown>): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    try {
      this.#ws.send(JSON.stringify(frame));
    } catch { /* closing: the close handler settles everything */ }
  }

  close(code = 1000): void {
    clearInterval(this.#ping);
    try {
      this.#ws.close(code);
    } catch { /* already closed */ }
  }

  #onFrame(data: unknown): void {
    this.lastHeard = Date.now();
    if (typeof data !== "string") return;
    const frame = JSON.parse(data) as Frame;
    const id = typeof frame.id === "string" ? frame.id : null;
    const waiting = id === null ? undefined : this.#pending.get(id);
    const settle = (fn: () => void) => {
      this.#pending.delete(id!);
      clearTimeout(waiting!.timer);
      fn();
    };
    if (frame.type === "welcome") {
      const auth = [...this.#pending.keys()].find((k) => k.startsWith("auth"));
      if (auth) {
        const p = this.#pending.get(auth)!;
        this.#pending.delete(auth);
        clearTimeout(p.timer);
        p.resolve(frame);
      }
      return;
    }
    if (waiting && frame.type === "result") return settle(() => waiting.resolve(frame.data));
    if (waiting && frame.type === "error") {
      const e = frame.error ?? {};
      return settle(() => waiting.reject(new ReplyError(e.code, e.message, e.retry_after_ms)));
    }
    if (frame.type === "error" && frame.id === null && !this.welcome) {
      // A refused login (docs §3): reject the auth that is waiting.
      const auth = [...this.#pending.entries()].find(([k]) => k.startsWith("auth"));
      if (auth) {
        this.#pending.delete(auth[0]);
        clearTimeout(auth[1].timer);
        auth[1].reject(new ReplyError(frame.error?.code, frame.error?.message));
      }
      return;
    }
    if (frame.type === "reconnect") this.#endInfo.hint = frame.chat_url ?? null;
    if (frame.type === "kicked") this.#endInfo.kicked = String(frame.reason);
    this.opts.onEvent(frame);
  }
}
