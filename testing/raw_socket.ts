/**
 * A WebSocket spoken by hand over a plain TCP connection, for what the
 * WebSocket API refuses to send (a text frame that is not UTF-8, a frame
 * cut in parts) and for reading the server's frames and close exactly.
 */
import { SUBPROTOCOL } from "./ws_client.ts";
import type { CloseInfo } from "./ws_client.ts";

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
