/**
 * The WebSocket wire format (RFC 6455 §5) on the server's side: a reader
 * that turns the bytes of one connection into messages while holding at most
 * one message's worth of them, and the encoding of the frames a server sends.
 *
 * Why not the runtime's WebSocket: Deno's reads a whole frame (up to 64 MiB,
 * and fragments without limit) before anyone can look at its size. This
 * reader checks the announced size in the frame header, before it keeps a
 * single byte of the payload, so a frame over the limit costs nothing.
 */

export const OPCODE = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** What the reader hands out: whole messages and the control frames. */
export type Message =
  | { kind: "text"; text: string }
  | { kind: "binary"; bytes: number }
  | { kind: "ping"; payload: Uint8Array }
  | { kind: "pong" }
  | { kind: "close"; code: number; reason: string }
  /** The connection must fail with `code`: 1002 protocol error, 1007 bad UTF-8, 1009 too big. */
  | { kind: "fail"; code: 1002 | 1007 | 1009; reason: string; announced?: number };

/**
 * Room a busy connection keeps: many small frames arrive in one read (most
 * chat frames are well under 1 KiB).
 */
const BASE_BUFFER = 4096;
/**
 * Room an idle connection keeps: an auth frame or a ping fits. Every open
 * socket has a read pending into its buffer, so at 16,000 idle sessions on
 * a node the 4 KiB of BASE_BUFFER alone were 3.4 KB of RSS per session
 * (measured: 8,000 pending reads, 10.9 KB per connection with 4 KiB
 * buffers, 7.5 KB with 512 bytes).
 */
export const IDLE_BUFFER = 512;
/** Reads in a row that used under half of IDLE_BUFFER before a busy connection counts as idle. */
const IDLE_AFTER = 8;
/** A read into less room than this first moves the bytes held to the front. */
const MIN_READ = 1024;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/**
 * Reassembles the messages of one connection from the bytes read off it.
 * Memory: the read buffer is IDLE_BUFFER while the connection is quiet,
 * BASE_BUFFER while reads fill it; it grows to the frame being read (at most
 * `maxMessage` + 14 bytes: the longest header) and shrinks back when it is done; fragments of a
 * message are kept only up to `maxMessage` bytes in all.
 */
export class FrameReader {
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  /** Header + payload size of the frame at #start, once its header was read. */
  #need = 2;
  #fragments: Uint8Array[] | null = null;
  #fragmentOp = 0;
  #fragmentBytes = 0;
  /** The room kept between frames: IDLE_BUFFER, or BASE_BUFFER once a read filled its space. */
  #room = IDLE_BUFFER;
  /** The length of the last space() handed out, and the short reads in a row since a long one. */
  #offered = 0;
  #short = 0;

  constructor(readonly maxMessage: number, initial?: Uint8Array) {
    const size = Math.max(IDLE_BUFFER, initial?.length ?? 0);
    this.#buf = new Uint8Array(size);
    if (initial) {
      this.#buf.set(initial);
      this.#end = initial.length;
    }
  }

  /** Bytes held for frames not yet complete (what a client made this connection keep). */
  get held(): number {
    return this.#buf.length + this.#fragmentBytes;
  }

  /** Where the next read goes: room after the bytes held, enough for the frame being read. */
  space(): Uint8Array {
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      // Quiet again: give the busy room back (a new, small buffer).
      if (this.#short >= IDLE_AFTER && this.#buf.length > IDLE_BUFFER) {
        this.#room = IDLE_BUFFER;
        this.#buf = new Uint8Array(IDLE_BUFFER);
      }
    }
    const held = this.#end - this.#start;
    const fits = this.#start + this.#need <= this.#buf.length;
    const roomy = this.#start === 0 || this.#buf.length - this.#end >= MIN_READ;
    if (fits && roomy && this.#buf.length >= this.#room) return this.#offer();
    // Move what is held to the front, into a buffer sized for the frame being
    // read (#need > held whenever next() asked for more bytes).
    const size = Math.max(this.#room, this.#need);
    if (size === this.#buf.length) this.#buf.copyWithin(0, this.#start, this.#end);
    else {
      const next = new Uint8Array(size);
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
    }
    this.#start = 0;
    this.#end = held;
    return this.#offer();
  }

  #offer(): Uint8Array {
    const space = this.#buf.subarray(this.#end);
    this.#offered = space.length;
    return space;
  }

  /** `n` bytes were read into the last `space()`. */
  filled(n: number): void {
    this.#end += n;
    // A read that filled its space left more waiting: a busy connection gets the larger room.
    if (n >= this.#offered) {
      this.#room = BASE_BUFFER;
      this.#short = 0;
    } else if (n < IDLE_BUFFER / 2) this.#short++;
    else this.#short = 0;
  }

  /** The next message, or null when more bytes are needed. After a `fail`, stop reading. */
  next(): Message | null {
    for (;;) {
      const held = this.#end - this.#start;
      if (held < 2) return this.#more(2);
      const b = this.#buf;
      const s = this.#start;
      const b0 = b[s];
      const b1 = b[s + 1];
      let len = b1 & 0x7f;
      let header = 2;
      if (len === 126) {
        if (held < 4) return this.#more(4);
        len = (b[s + 2] << 8) | b[s + 3];
        header = 4;
      } else if (len === 127) {
        if (held < 10) return this.#more(10);
        const high = (b[s + 2] << 24 >>> 0) + (b[s + 3] << 16) + (b[s + 4] << 8) + b[s + 5];
        const low = (b[s + 6] << 24 >>> 0) + (b[s + 7] << 16) + (b[s + 8] << 8) + b[s + 9];
        // Over 2^32 is over any limit; the size is only reported.
        len = high > 0 ? high * 2 ** 32 + low : low;
        header = 10;
      }
      const fin = (b0 & 0x80) !== 0;
      const op = b0 & 0x0f;
      if ((b0 & 0x70) !== 0) return fail(1002, "reserved bits set (no extension was agreed)");
      if ((b1 & 0x80) === 0) return fail(1002, "a client's frames must be masked");
      const control = op >= 0x8;
      if (control) {
        if (op > OPCODE.PONG) return fail(1002, `unknown opcode ${op}`);
        if (!fin || len > 125) return fail(1002, "a control frame must be whole and ≤ 125 bytes");
      } else {
        if (op > OPCODE.BINARY) return fail(1002, `unknown opcode ${op}`);
        if (op === OPCODE.CONTINUATION && this.#fragments === null) {
          return fail(1002, "a continuation frame without a message to continue");
        }
        if (op !== OPCODE.CONTINUATION && this.#fragments !== null) {
          return fail(1002, "a new message before the last one was finished");
        }
        const total = this.#fragmentBytes + len;
        if (total > this.maxMessage) {
          return { kind: "fail", code: 1009, reason: "frame too large", announced: total };
        }
      }
      header += 4;
      if (held < header + len) return this.#more(header + len);
      const payload = b.subarray(s + header, s + header + len);
      unmask(payload, b, s + header - 4);
      this.#start += header + len;
      this.#need = 2;
      const message = control ? this.#control(op, payload) : this.#data(op, fin, payload);
      this.#shrink();
      if (message) return message;
    }
  }

  /** Records how many bytes the frame at #start needs, for space(); null: read more. */
  #more(bytes: number): null {
    this.#need = bytes;
    return null;
  }

  #control(op: number, payload: Uint8Array): Message {
    if (op === OPCODE.PING) return { kind: "ping", payload: payload.slice() };
    if (op === OPCODE.PONG) return { kind: "pong" };
    if (payload.length === 0) return { kind: "close", code: 1005, reason: "" };
    const code = (payload[0] << 8) | payload[1];
    if (payload.length === 1 || !validCloseCode(code)) return fail(1002, "invalid close frame");
    try {
      return { kind: "close", code, reason: utf8.decode(payload.subarray(2)) };
    } catch {
      return fail(1007, "close reason is not UTF-8");
    }
  }

  #data(op: number, fin: boolean, payload: Uint8Array): Message | null {
    if (!fin) {
      if (this.#fragments === null) {
        this.#fragments = [];
        this.#fragmentOp = op;
      }
      this.#fragments.push(payload.slice());
      this.#fragmentBytes += payload.length;
      return null;
    }
    let whole = payload;
    if (this.#fragments !== null) {
      op = this.#fragmentOp;
      whole = new Uint8Array(this.#fragmentBytes + payload.length);
      let at = 0;
      for (const f of this.#fragments) {
        whole.set(f, at);
        at += f.length;
      }
      whole.set(payload, at);
      this.#fragments = null;
      this.#fragmentBytes = 0;
    }
    if (op === OPCODE.BINARY) return { kind: "binary", bytes: whole.length };
    try {
      return { kind: "text", text: utf8.decode(whole) };
    } catch {
      return fail(1007, "a text frame that is not UTF-8");
    }
  }

  /** Gives a buffer grown for a large frame back once it holds little. */
  #shrink(): void {
    const held = this.#end - this.#start;
    if (this.#buf.length <= BASE_BUFFER || held > BASE_BUFFER / 2) return;
    const next = new Uint8Array(BASE_BUFFER);
    next.set(this.#buf.subarray(this.#start, this.#end));
    this.#buf = next;
    this.#start = 0;
    this.#end = held;
  }
}

function fail(code: 1002 | 1007, reason: string): Message {
  return { kind: "fail", code, reason };
}

/** Close codes a peer may send (RFC 6455 §7.4; 1004–1006 and 1015 never go on the wire). */
function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

const maskWord = new Uint8Array(4);
const maskWord32 = new Uint32Array(maskWord.buffer);

/** XORs `data` in place with the 4-byte mask at `buf[at]`, four bytes at a time where aligned. */
function unmask(data: Uint8Array, buf: Uint8Array, at: number): void {
  const mask = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
  if ((mask[0] | mask[1] | mask[2] | mask[3]) === 0) return;
  const n = data.length;
  let i = 0;
  // Up to a 4-byte boundary of the underlying memory, then whole words (a
  // view costs more than it saves on a short frame).
  const lead = n < 64 ? n : (4 - (data.byteOffset & 3)) & 3;
  for (; i < lead; i++) data[i] ^= mask[i & 3];
  const words = (n - i) >> 2;
  if (words > 0) {
    for (let k = 0; k < 4; k++) maskWord[k] = mask[(i + k) & 3];
    const m = maskWord32[0];
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] ^= m;
    i += words * 4;
  }
  for (; i < n; i++) data[i] ^= mask[i & 3];
}

/** One unmasked frame as a server sends it. */
export function encodeFrame(op: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const header = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = new Uint8Array(header + n);
  writeHeader(out, op, n);
  out.set(payload, header);
  return out;
}

/** A text frame, encoded straight into its frame (one copy of the text, not two). */
export function encodeText(text: string): Uint8Array {
  const out = new Uint8Array(maxTextFrame(text));
  return out.subarray(0, encodeTextInto(text, out));
}

/** The most bytes `text` can take as a frame: UTF-8 is at most 3 bytes per UTF-16 unit. */
export function maxTextFrame(text: string): number {
  return 10 + text.length * 3;
}

/** Writes `text` as a text frame at the start of `out` (room: maxTextFrame); its length. */
export function encodeTextInto(text: string, out: Uint8Array): number {
  const max = text.length * 3;
  const header = max < 126 ? 2 : max < 65536 ? 4 : 10;
  const { written } = encoder.encodeInto(text, out.subarray(header));
  const exact = written < 126 ? 2 : written < 65536 ? 4 : 10;
  if (exact !== header) out.copyWithin(exact, header, header + written);
  writeHeader(out, OPCODE.TEXT, written);
  return exact + written;
}

/** A close frame with `code` and a reason cut to fit the 125-byte limit. */
export function encodeClose(code: number, reason: string): Uint8Array {
  let bytes = encoder.encode(reason);
  if (bytes.length > 123) {
    let cut = 123;
    // Do not cut a UTF-8 sequence in half: back up to the start of a character.
    while (cut > 0 && (bytes[cut] & 0xc0) === 0x80) cut--;
    bytes = bytes.subarray(0, cut);
  }
  const payload = new Uint8Array(2 + bytes.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(bytes, 2);
  return encodeFrame(OPCODE.CLOSE, payload);
}

function writeHeader(out: Uint8Array, op: number, n: number): void {
  out[0] = 0x80 | op;
  if (n < 126) out[1] = n;
  else if (n < 65536) {
    out[1] = 126;
    out[2] = n >> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 127;
    out[2] =
      out[3] =
      out[4] =
      out[5] =
        0; // server frames stay far below 4 GiB
    out[6] = (n >>> 24) & 0xff;
    out[7] = (n >>> 16) & 0xff;
    out[8] = (n >>> 8) & 0xff;
    out[9] = n & 0xff;
  }
}
