/**
 * One authenticated WebSocket to a chat node, speaking the client protocol
 * (docs/protocol.md): opens the socket with the `parley.v1` subprotocol,
 * sends `auth`, waits for `welcome`, then matches each request to its reply
 * by id and hands every event to a listener. Errors come back as AppErrors
 * with the protocol's codes. chat_client.ts builds reconnects on top.
 */
import { AppError } from "../../proto/errors.ts";
import {
  type ClientFrame,
  CLOSE,
  type ErrorFrame,
  type ResultData,
  type ServerEvent,
  type ServerFrame,
  SUBPROTOCOL,
} from "../../proto/protocol.ts";

export type Welcome = Extract<ServerEvent, { type: "welcome" }>;
export type RequestType = keyof ResultData;
/** The fields of a request frame other than `type` and `id`. */
export type RequestBody<K extends RequestType> = Omit<
  Extract<ClientFrame, { type: K }>,
  "type" | "id"
>;

/** What `auth` says of the session besides the token (docs/protocol.md §3). */
export interface AuthFields {
  /** This device's id, chosen once and kept (device_file.ts). */
  device?: string;
  /** A name for the device the user recognises. */
  label?: string;
  /** A short session that is not announced: no presence, no device, no live events. */
  quiet?: boolean;
}

export interface OpenOptions {
  /** The device, or a quiet session, for `auth`. */
  auth?: AuthFields;
  /** ms to wait for the socket and the welcome; 10 s by default. */
  timeoutMs?: number;
  /** Every event after the welcome (msg.sync, msg.new, presence...). */
  onEvent?: (event: ServerEvent) => void;
  /** Error frames that answer no request of ours (a failed ack, typing). */
  onStrayError?: (error: AppError) => void;
  /** Called once when the socket is gone, whoever closed it. */
  onClose?: (code: number, reason: string) => void;
  /** Ping every heartbeat_ms and close if the server stays silent that long after one. */
  heartbeat?: boolean;
}

interface Pending {
  resolve(data: unknown): void;
  reject(e: AppError): void;
  timer: ReturnType<typeof setTimeout>;
}

/** Error codes of an `auth` that mean the token itself is no good. */
export const TOKEN_ERRORS = new Set(["token_invalid", "token_expired", "token_revoked"]);

/**
 * Codes of a failed `open` that say the node is gone or not taking
 * sessions (refused, closed before the welcome, silent, draining): worth
 * asking the gate for another node.
 */
export const NODE_GONE = new Set([
  "chat_unreachable",
  "disconnected",
  "chat_timeout",
  "try_again_later",
]);

function frameError(e: ErrorFrame["error"] & { retry_after_ms?: number }): AppError {
  const retry = typeof e.retry_after_ms === "number" ? e.retry_after_ms / 1000 : undefined;
  return new AppError(e.code, e.message, TOKEN_ERRORS.has(e.code) ? 401 : 400, retry);
}

function closeError(code: number, reason: string, url: string): AppError {
  if (code === CLOSE.AUTH_FAILED) {
    return new AppError("token_invalid", reason || "the session token was refused", 401);
  }
  if (code === CLOSE.KICKED) return new AppError("kicked", reason || "logged in elsewhere", 409);
  if (code === CLOSE.TRY_AGAIN_LATER || code === CLOSE.SERVICE_RESTART) {
    return new AppError("try_again_later", reason || "the chat node is busy", 503, 1);
  }
  return new AppError("disconnected", `the connection to ${url} closed (${code})`, 503);
}

export class Connection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedFlag = false;
  private lastFrameAt = Date.now();
  private pingTimer: ReturnType<typeof setInterval> | undefined;

  private constructor(
    private readonly ws: WebSocket,
    readonly url: string,
    readonly welcome: Welcome,
    private readonly options: OpenOptions,
  ) {}

  /** Opens, authenticates and resolves once the welcome arrived. */
  static open(url: string, token: string, options: OpenOptions = {}): Promise<Connection> {
    const { promise, resolve, reject } = Promise.withResolvers<Connection>();
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, [SUBPROTOCOL]);
    } catch (e) {
      return Promise.reject(
        new AppError("chat_unreachable", `bad chat URL ${url}: ${(e as Error).message}`, 400),
      );
    }
    let conn: Connection | null = null;
    let authError: AppError | null = null;
    let opened = false;
    const timer = setTimeout(() => {
      authError = new AppError("chat_timeout", `no welcome from ${url} in time`, 503, 1);
      ws.close();
      reject(authError);
    }, options.timeoutMs ?? 10_000);

    ws.onopen = () => {
      opened = true;
      ws.send(JSON.stringify({ type: "auth", token, ...options.auth }));
    };
    ws.onmessage = (e) => {
      let frame: ServerFrame;
      try {
        frame = JSON.parse(typeof e.data === "string" ? e.data : "");
      } catch {
        return; // not ours to crash on; the server never sends this
      }
      if (conn) return conn.onFrame(frame);
      if (frame.type === "welcome") {
        clearTimeout(timer);
        conn = new Connection(ws, url, frame, options);
        conn.startHeartbeat();
        resolve(conn);
      } else if (frame.type === "error") {
        authError = frameError(frame.error);
      }
    };
    ws.onerror = () => {/* a close event follows */};
    ws.onclose = (e) => {
      if (conn) return conn.onSocketClosed(e.code, e.reason);
      clearTimeout(timer);
      reject(
        authError ??
          (opened
            ? closeError(e.code, e.reason, url)
            : new AppError("chat_unreachable", `cannot reach the chat node at ${url}`, 503, 1)),
      );
    };
    return promise;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Sends a request and resolves with its result's data. */
  request<K extends RequestType>(
    type: K,
    body: RequestBody<K>,
    options: { timeoutMs?: number } = {},
  ): Promise<ResultData[K]> {
    if (this.closedFlag) {
      return Promise.reject(new AppError("disconnected", "not connected", 503));
    }
    const id = this.nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<ResultData[K]>();
    const timer = setTimeout(() => {
      this.pending.delete(id);
      reject(new AppError("chat_timeout", `no reply to ${type} in time`, 503));
    }, options.timeoutMs ?? 15_000);
    this.pending.set(id, { resolve: resolve as (d: unknown) => void, reject, timer });
    this.ws.send(JSON.stringify({ type, id, ...body }));
    return promise;
  }

  /** Sends a frame that expects no reply (msg.ack without id, typing, ping). */
  send(frame: ClientFrame): boolean {
    if (this.closedFlag || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Closes the socket; pending requests fail with `disconnected`. */
  close(code = 1000, reason = ""): void {
    if (this.closedFlag) return;
    try {
      this.ws.close(code, reason);
    } catch { /* already closing */ }
    // Do not wait for the closing handshake: a dead server may never answer it.
    this.onSocketClosed(code, reason);
  }

  private onFrame(frame: ServerFrame): void {
    this.lastFrameAt = Date.now();
    if (frame.type === "result" || frame.type === "error") {
      const id = frame.id;
      const p = typeof id === "number" ? this.pending.get(id) : undefined;
      if (!p) {
        if (frame.type === "error") this.options.onStrayError?.(frameError(frame.error));
        return;
      }
      this.pending.delete(id as number);
      clearTimeout(p.timer);
      if (frame.type === "result") p.resolve(frame.data);
      else p.reject(frameError(frame.error));
      return;
    }
    this.options.onEvent?.(frame);
  }

  private startHeartbeat(): void {
    if (!this.options.heartbeat) return;
    const every = Math.max(1000, this.welcome.heartbeat_ms);
    this.pingTimer = setInterval(() => {
      // Nothing heard since the ping before last: the server or the network is gone.
      if (Date.now() - this.lastFrameAt > 2 * every) {
        this.close(4000, "server silent");
        return;
      }
      this.send({ type: "ping" });
    }, every);
  }

  private onSocketClosed(code: number, reason: string): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    clearInterval(this.pingTimer);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(closeError(code, reason, this.url));
      this.pending.delete(id);
    }
    this.options.onClose?.(code, reason);
  }
}
