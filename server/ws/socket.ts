/**
 * One server-side WebSocket over a raw connection (TCP or TLS) that has
 * already answered the upgrade with 101: the read loop (through the bounded
 * FrameReader: a client can make it hold about one message, never more), a
 * send queue whose size is `buffered`, and the closing handshake.
 *
 * `pause()` stops reading until `resume()`: an owner that has not handled
 * what was read leaves the rest in the kernel, and TCP slows the sender down.
 */
import {
  encodeClose,
  encodeFrame,
  encodeText,
  encodeTextInto,
  FrameReader,
  maxTextFrame,
  type Message,
  OPCODE,
} from "./frames.ts";

/** What the socket tells its owner. Each is called from the read loop, in order. */
export interface SocketEvents {
  text(text: string): void;
  /** A binary message of `bytes` bytes (its content is not kept). */
  binary(bytes: number): void;
  /**
   * A message announced `bytes`, over the limit: none of it was read. The
   * owner may send a last frame; the socket is then closed with 1009.
   */
  tooBig(bytes: number): void;
  /** The connection is gone; called once. `code` is the peer's close code, 1006 if none came. */
  closed(code: number): void;
}

export interface SocketOptions {
  /** The largest message accepted, in bytes (the payload of all its fragments). */
  maxMessage: number;
  /** How long to wait for the peer's close frame after sending ours. */
  closeTimeoutMs?: number;
}

const CLOSE_TIMEOUT_MS = 3000;
/**
 * After failing a connection (a frame too large, a protocol error), input is
 * read and dropped for up to this long or this many bytes before the
 * connection is closed: closing with unread input makes TCP reset it, and
 * the reset can destroy the close frame before the client has read it.
 */
const LINGER_MS = 1000;
const LINGER_BYTES = 1024 * 1024;
/** Where lingering reads go; never looked at, so every socket can share it. */
const DISCARD = new Uint8Array(16 * 1024);
/** Writes are batched up to this size (one syscall for the frames of one burst). */
const WRITE_BATCH = 64 * 1024;
/**
 * Where queued texts are framed for a write, then copied out in one piece:
 * one allocation per write, not one per frame. Shared by every socket, as
 * it is filled and emptied in one synchronous step.
 */
const SCRATCH = new Uint8Array(WRITE_BATCH * 4);

type State = "open" | "closing" | "closed";

export class ServerSocket {
  #conn: Deno.Conn;
  #reader: FrameReader;
  #events: SocketEvents | null = null;
  #state: State = "open";
  /** Texts not yet framed, and frames (control frames). */
  #queue: (string | Uint8Array)[] = [];
  #buffered = 0;
  #writing = false;
  /** Once the queue is written: end (the closing handshake is over) or linger (a failure). */
  #afterWrite: "wait" | "end" | "linger" = "wait";
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #peerCode = 1006;
  #closeTimeoutMs: number;
  #paused: PromiseWithResolvers<void> | null = null;

  /** `head`: bytes that arrived with the upgrade request, after its head. */
  constructor(conn: Deno.Conn, head: Uint8Array, options: SocketOptions) {
    this.#conn = conn;
    this.#reader = new FrameReader(options.maxMessage, head);
    this.#closeTimeoutMs = options.closeTimeoutMs ?? CLOSE_TIMEOUT_MS;
  }

  /** Starts reading; events go to `events` from now on. */
  start(events: SocketEvents): void {
    this.#events = events;
    this.#readLoop();
  }

  get open(): boolean {
    return this.#state === "open";
  }

  /**
   * Bytes queued for the peer and not yet written to the connection (a text
   * not yet framed counts by its length).
   */
  get buffered(): number {
    return this.#buffered;
  }

  send(text: string): void {
    if (this.#state !== "open") return;
    this.#enqueue(text);
  }

  /** Stops reading from the connection until `resume()`. */
  pause(): void {
    this.#paused ??= Promise.withResolvers<void>();
  }

  resume(): void {
    this.#paused?.resolve();
    this.#paused = null;
  }

  /**
   * Starts the closing handshake: the frames already queued, then a close
   * frame; the connection ends when the peer answers or after the close
   * timeout. `fail`: do not wait for the peer (a protocol error).
   */
  close(code: number, reason: string, fail = false): void {
    if (this.#state === "closed") return;
    this.resume();
    if (this.#state === "open") {
      this.#state = "closing";
      this.#enqueue(encodeClose(code, reason));
      this.#closeTimer = setTimeout(() => this.#finish(), this.#closeTimeoutMs);
    }
    if (fail) {
      clearTimeout(this.#closeTimer);
      this.#closeTimer = setTimeout(() => this.#finish(), LINGER_MS);
      this.#whenWritten("linger");
    }
  }

  /** What to do once every queued frame is written. */
  #whenWritten(then: "end" | "linger"): void {
    this.#afterWrite = then;
    if (!this.#writing) this.#afterWriting();
  }

  #afterWriting(): void {
    if (this.#afterWrite === "end") this.#finish();
    else if (this.#afterWrite === "linger") this.#linger();
  }

  async #linger(): Promise<void> {
    this.#afterWrite = "wait";
    let dropped = 0;
    try {
      await this.#conn.closeWrite();
      while (this.#state !== "closed" && dropped < LINGER_BYTES) {
        const n = await this.#conn.read(DISCARD);
        if (n === null) break;
        dropped += n;
      }
    } catch { /* closed meanwhile */ }
    this.#finish();
  }

  async #readLoop(): Promise<void> {
    for (;;) {
      // Closing, the peer's close frame is still read: a pause no longer holds.
      if (this.#paused && this.#state === "open") await this.#paused.promise;
      if (this.#state === "closed") return;
      // The owner's handlers run outside the try: a handler that throws is a
      // bug and surfaces as one (as in an event listener), not as a lost peer.
      const message = this.#reader.next();
      if (message) {
        if (!this.#handle(message)) return;
        continue;
      }
      let n: number | null;
      try {
        n = await this.#conn.read(this.#reader.space());
      } catch {
        n = null; // the connection failed, or was closed here
      }
      if (n === null) return this.#finish();
      this.#reader.filled(n);
    }
  }

  /** Acts on one message; false when reading must stop. */
  #handle(m: Message): boolean {
    const open = this.#state === "open";
    switch (m.kind) {
      case "text":
        if (open) this.#events!.text(m.text);
        return true;
      case "binary":
        if (open) this.#events!.binary(m.bytes);
        return true;
      case "ping":
        if (open) this.#enqueue(encodeFrame(OPCODE.PONG, m.payload));
        return true;
      case "pong":
        return true;
      case "close":
        this.#peerCode = m.code;
        // Answer with the same code (none if the peer sent none), then end.
        if (open) {
          this.#state = "closing";
          this.#enqueue(
            m.code === 1005 ? encodeFrame(OPCODE.CLOSE, new Uint8Array()) : encodeClose(m.code, ""),
          );
          // A peer that does not read our answer is not waited for.
          this.#closeTimer = setTimeout(() => this.#finish(), this.#closeTimeoutMs);
        }
        this.#whenWritten("end");
        return false;
      case "fail":
        if (m.code === 1009 && open) this.#events!.tooBig(m.announced ?? 0);
        this.close(m.code, m.reason, true);
        return false;
    }
  }

  #enqueue(item: string | Uint8Array): void {
    this.#queue.push(item);
    this.#buffered += item.length;
    if (!this.#writing) {
      this.#writing = true;
      // Frames sent in the same turn of the event loop go out in one write:
      // the write waits for the turn's I/O callbacks and their promise
      // chains (setImmediate runs after them), not only for the current
      // microtasks. A batch of stored messages resolves in chains, one
      // session's acks a few promise hops apart: written at the first
      // microtask checkpoint, each ack cost a syscall of its own.
      setImmediate(() => this.#writeLoop());
    }
  }

  async #writeLoop(): Promise<void> {
    try {
      while (this.#queue.length > 0 && this.#state !== "closed") {
        const chunk = this.#take();
        let off = 0;
        while (off < chunk.length) off += await this.#conn.write(chunk.subarray(off));
        this.#buffered -= chunk.length;
      }
    } catch {
      this.#writing = false;
      return this.#finish();
    }
    this.#writing = false;
    this.#afterWriting();
  }

  /** The next frames to write, joined up to WRITE_BATCH bytes. */
  #take(): Uint8Array {
    const first = this.#queue[0];
    const alone = typeof first === "string" ? maxTextFrame(first) : first.length;
    if (alone > SCRATCH.length) {
      // Too large for the scratch buffer: framed on its own.
      this.#queue.shift();
      const frame = typeof first === "string" ? encodeText(first) : first;
      this.#buffered += frame.length - first.length;
      return frame;
    }
    let at = 0;
    let taken = 0;
    let counted = 0;
    while (taken < this.#queue.length && at < WRITE_BATCH) {
      const item = this.#queue[taken];
      const room = typeof item === "string" ? maxTextFrame(item) : item.length;
      if (at + room > SCRATCH.length) break;
      if (typeof item === "string") at += encodeTextInto(item, SCRATCH.subarray(at));
      else {
        SCRATCH.set(item, at);
        at += item.length;
      }
      counted += item.length;
      taken++;
    }
    this.#queue.splice(0, taken);
    this.#buffered += at - counted;
    return SCRATCH.slice(0, at);
  }

  #finish(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    clearTimeout(this.#closeTimer);
    this.#queue = [];
    this.#buffered = 0;
    this.resume();
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    this.#events?.closed(this.#peerCode);
  }
}
