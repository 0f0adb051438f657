/**
 * Test-only: a connection without a socket. `fakeConnection()` returns
 * both ends: the `Conn` a session talks to, and a client end with the
 * WebSocket API (so the WebSocket test client, testing/ws_client.ts, drives
 * it unchanged). Frames cross in microtasks, in order, as socket events
 * would; a close from either end reaches the other end's close event.
 * `unread` stands for bytes the client has not read, which a session sees
 * through `Conn.buffered()`. While the session has paused reading, what the
 * client sends waits (as in a socket's buffers) and arrives on resume.
 */
import type { Conn, ConnEvents } from "./transport.ts";

const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** The client's end: just enough of WebSocket for ChatClient. */
export class FakeSocket extends EventTarget {
  binaryType = "arraybuffer";
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  readyState = OPEN;
  #pair: FakePair;

  constructor(pair: FakePair, readonly protocol: string) {
    super();
    this.#pair = pair;
  }

  send(data: string | Uint8Array): void {
    if (this.readyState !== OPEN) return;
    const server = this.#pair.server;
    // Sent before a close: it reaches the server before the close does, as on a socket.
    queueMicrotask(() =>
      this.#pair.arrive(() => {
        if (typeof data === "string") server?.onText(data);
        else server?.onBinary(data.byteLength);
      })
    );
  }

  close(code = 1000, reason = ""): void {
    this.#pair.close(code, reason);
  }
}

/** Both ends of one fake connection. */
class FakePair implements Conn {
  server: ConnEvents | undefined;
  readonly client: FakeSocket;
  serverClosed = false;
  unread = 0;
  /** Reading is paused: frames from the client wait here, in order. */
  paused = false;
  #waiting: (() => void)[] = [];

  constructor(protocol: string) {
    this.client = new FakeSocket(this, protocol);
  }

  // --- Conn (the server's end) ---

  send(text: string): void {
    if (this.serverClosed) return;
    // Frames sent before a close arrive before it, as on a socket.
    queueMicrotask(() => {
      if (this.client.readyState !== CLOSED) this.client.onmessage?.({ data: text });
    });
  }

  /** Either end closing: both ends hear a close event with the code (as with a real socket). */
  close(code: number, reason: string): void {
    if (this.serverClosed || this.client.readyState !== OPEN) return;
    this.serverClosed = true;
    this.client.readyState = CLOSING;
    queueMicrotask(() => {
      this.client.readyState = CLOSED;
      this.client.dispatchEvent(new CloseEvent("close", { code, reason, wasClean: true }));
      this.server?.onClose(code);
    });
  }

  buffered(): number {
    return this.unread;
  }

  /** Hands a client frame to the session now, or on resume when reading is paused. */
  arrive(frame: () => void): void {
    if (this.paused || this.#waiting.length > 0) this.#waiting.push(frame);
    else frame();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    // One at a time, as a read loop would: a frame may pause reading again.
    while (!this.paused && this.#waiting.length > 0) this.#waiting.shift()!();
  }
}

export interface FakeConnection {
  /** The session's end. */
  conn: Conn;
  /** The client's end, for `ChatClient.over()`. */
  socket: WebSocket;
  /** Attaches the session that listens at the server's end. */
  attach(events: ConnEvents): void;
  /** Sets how many bytes the client leaves unread (what `buffered()` reports). */
  setUnread(bytes: number): void;
  /** Whether the session has paused reading. */
  paused(): boolean;
}

export function fakeConnection(protocol = "parley.v1"): FakeConnection {
  const pair = new FakePair(protocol);
  return {
    conn: pair,
    socket: pair.client as unknown as WebSocket,
    attach: (events) => (pair.server = events),
    setUnread: (bytes) => (pair.unread = bytes),
    paused: () => pair.paused,
  };
}
