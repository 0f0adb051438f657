/**
 * The byte stream under each mysql2 connection, over Deno's own TCP
 * (`Deno.connect`) instead of node:net. mysql2 takes any Duplex through its
 * `stream` option and uses only the stream's events, `write`, `pause`,
 * `resume`, `end` and `destroy`.
 *
 * Why: on the chat node's CPU profile under the throughput bench, node:net's
 * `writeBuffer` under mysql2's query writes was 13.6% of the busy time. A
 * write through node:net costs about twice the CPU of the same write on a
 * Deno.Conn here (measured: 14–16 µs against 7 µs for a 2 KB write).
 *
 * Errors keep their codes (`ECONNREFUSED`, `ECONNRESET`, `EPIPE`, ...),
 * which is what the executor reads to tell an outage from a bad statement.
 */
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";

/** The most read from the socket at once. */
const READ_BYTES = 64 * 1024;

/**
 * A Deno I/O error in node:net's shape ("connect ECONNREFUSED 127.0.0.1:3306",
 * with `code` and `syscall`), as mysql2 and the logs expect; others as they are.
 */
function netError(e: unknown, syscall: string, address?: string): Error {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return e instanceof Error ? e : new Error(String(e));
  const where = address ? ` ${address}` : "";
  return Object.assign(new Error(`${syscall} ${code}${where}`, { cause: e }), { code, syscall });
}

export class MysqlSocket extends Duplex {
  #conn: Deno.TcpConn | null = null;
  #connecting: Promise<Deno.TcpConn>;
  #reading = false;
  #wantRead = false;
  #buf = new Uint8Array(READ_BYTES);

  constructor(hostname: string, port: number) {
    super({ allowHalfOpen: false });
    this.#connecting = Deno.connect({ hostname, port });
    this.#connecting.then((conn) => {
      if (this.destroyed) return conn.close();
      conn.setNoDelay(true);
      conn.setKeepAlive(true);
      this.#conn = conn;
      this.emit("connect");
      if (this.#wantRead) this.#readLoop(conn);
    }, (e) => this.destroy(netError(e, "connect", `${hostname}:${port}`)));
  }

  override _read(): void {
    if (!this.#conn) this.#wantRead = true;
    else if (!this.#reading) this.#readLoop(this.#conn);
  }

  async #readLoop(conn: Deno.TcpConn): Promise<void> {
    this.#reading = true;
    try {
      for (;;) {
        const n = await conn.read(this.#buf);
        if (n === null) {
          this.push(null);
          break;
        }
        // A copy: the parser may keep the chunk while the buffer is read into again.
        if (!this.push(Buffer.from(this.#buf.subarray(0, n)))) break;
      }
    } catch (e) {
      if (!this.destroyed) this.destroy(netError(e, "read"));
    }
    this.#reading = false;
  }

  override _write(chunk: Buffer, _encoding: string, done: (e?: Error | null) => void): void {
    this.#writeAll([chunk]).then(() => done(), done);
  }

  override _writev(
    chunks: { chunk: Buffer }[],
    done: (e?: Error | null) => void,
  ): void {
    this.#writeAll(chunks.map((c) => c.chunk)).then(() => done(), done);
  }

  async #writeAll(chunks: Buffer[]): Promise<void> {
    const bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    let conn;
    try {
      conn = this.#conn ?? await this.#connecting;
    } catch (e) {
      throw netError(e, "connect"); // a write queued before a connection that failed
    }
    let off = 0;
    try {
      while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    } catch (e) {
      throw netError(e, "write");
    }
  }

  override _final(done: (e?: Error | null) => void): void {
    const conn = this.#conn;
    if (!conn) return done();
    conn.closeWrite().then(() => done(), () => done());
  }

  override _destroy(error: Error | null, done: (e?: Error | null) => void): void {
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
    this.#conn = null;
    done(error);
  }

  // node:net's socket options, which mysql2 may call; set once connected.
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
}
