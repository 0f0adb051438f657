/**
 * A small HTTP/1.1 server over a raw TCP or TLS listener, for a port that
 * serves a few GET endpoints and WebSocket upgrades (the chat node's). It
 * bounds every connection until its request is read (HttpLimits: a deadline
 * for the head, its size, how many may be pending), answers one request per
 * connection, and hands an upgraded connection over whole. Once upgraded,
 * none of these limits applies: the WebSocket's owner governs it.
 *
 * Deno.serve has no head timeout, and its WebSocket upgrade reads frames of
 * up to 64 MiB into memory before they can be refused; owning the raw
 * connection is what lets server/ws read frames within a limit. Requests
 * have no body here: a handler sees a `Request` with headers only. HTTP/2
 * is not spoken: a client that opens with its preface gets a 505
 * (server/http2_refusal.ts).
 */
import { refuseHttp2 } from "./http2_refusal.ts";

export interface HttpLimits {
  /**
   * From accepting a connection to the end of its request head (the TLS
   * handshake included). A client that has not sent a whole head by then
   * is disconnected, however slowly it keeps sending.
   */
  headTimeoutMs: number;
  /** The request line and headers together, in bytes; a larger head gets 431. */
  maxHeadBytes: number;
  /**
   * Connections still sending their head. Past this, the oldest of them is
   * dropped, so a flood of slow clients cannot keep a fresh one out.
   */
  maxPendingHeads: number;
  /** Writing an answer to a client that does not read it. */
  writeTimeoutMs: number;
}

/** The head deadline is the gate's too (its listener runs on node:http, whose headersTimeout it sets). */
export const HTTP_LIMITS: Readonly<HttpLimits> = {
  headTimeoutMs: 10_000,
  maxHeadBytes: 16 * 1024,
  maxPendingHeads: 1024,
  writeTimeoutMs: 10_000,
};

export interface Http1Options {
  hostname: string;
  port: number;
  /** PEM certificate and key: serve TLS. */
  cert?: string;
  key?: string;
  signal?: AbortSignal;
  limits?: Partial<HttpLimits>;
  /**
   * Told when accepting fails (e.g. out of file descriptors: the server
   * keeps accepting) and when the handler throws (the answer is a 500).
   */
  onError?: (error: unknown) => void;
}

export interface Http1Info {
  remoteAddr: Deno.NetAddr;
}

/** A handler's answer that takes the connection over: 101 with `headers`, then `take()`. */
export class Upgrade {
  constructor(
    readonly headers: Record<string, string>,
    readonly take: (conn: Deno.Conn, head: Uint8Array) => void,
  ) {}
}

export type Http1Handler = (
  req: Request,
  info: Http1Info,
) => Response | Upgrade | Promise<Response | Upgrade>;

export interface Http1Server {
  addr: Deno.NetAddr;
  /** Resolves once the listener is closed (after `signal` aborts) and open requests are answered. */
  finished: Promise<void>;
}

interface Head {
  method: string;
  target: string;
  headers: [string, string][];
  /** Bytes after the head (the first WebSocket frames, for an upgrade). */
  rest: Uint8Array;
}

/** The head an HTTP/2 connection preface reads as. */
const HTTP2_PREFACE = { method: "PRI", target: "*" };
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([^ ]+) ([^ ]+) HTTP\/1\.([01])$/;
const HEADER_LINE = /^([^:]+):[ \t]*(.*?)[ \t]*$/;
const REASONS: Record<number, string> = {
  101: "Switching Protocols",
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

export function serveHttp1(options: Http1Options, handler: Http1Handler): Http1Server {
  const limits: HttpLimits = { ...HTTP_LIMITS, ...options.limits };
  const { hostname, port } = options;
  const listener: Deno.Listener = options.cert && options.key
    ? Deno.listenTls({ hostname, port, cert: options.cert, key: options.key })
    : Deno.listen({ hostname, port });
  /** Connections still sending their head, oldest first (a Set keeps insertion order). */
  const pending = new Set<Deno.Conn>();
  const open = new Set<Promise<void>>();
  let stopped = false;

  const stop = () => {
    if (stopped) return;
    stopped = true;
    closeQuietly(listener);
    for (const conn of pending) closeQuietly(conn);
    pending.clear();
  };
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener("abort", stop, { once: true });

  const serveConn = async (conn: Deno.Conn) => {
    if (pending.size >= limits.maxPendingHeads) {
      const oldest = pending.values().next().value!;
      pending.delete(oldest);
      closeQuietly(oldest);
    }
    pending.add(conn);
    const timer = setTimeout(() => closeQuietly(conn), limits.headTimeoutMs);
    let head: Head | number | null;
    try {
      head = await readHead(conn, limits.maxHeadBytes);
    } catch {
      head = null; // closed by the deadline, or by the client
    } finally {
      clearTimeout(timer);
      pending.delete(conn);
    }
    if (head === null || stopped) return closeQuietly(conn);
    if (typeof head !== "number" && head.method === HTTP2_PREFACE.method) {
      const t = setTimeout(() => closeQuietly(conn), limits.writeTimeoutMs);
      await refuseHttp2(conn, head.rest).catch(() => {});
      clearTimeout(t);
      return closeQuietly(conn);
    }
    const answer = typeof head === "number"
      ? new Response(null, { status: head })
      : await answerFor(head, conn, handler, options.onError);
    await writeAnswer(conn, answer, typeof head === "number" ? null : head, limits.writeTimeoutMs);
  };

  const accepting = (async () => {
    while (!stopped) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
        // Small frames go out at once (Nagle would hold a reply until the last
        // segment is acked); Deno.serve does the same for plain TCP.
        if (!options.cert) (conn as Deno.TcpConn).setNoDelay(true);
      } catch (e) {
        if (stopped || e instanceof Deno.errors.BadResource) break;
        options.onError?.(e);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const served: Promise<void> = serveConn(conn).catch(() => closeQuietly(conn))
        .finally(() => open.delete(served));
      open.add(served);
    }
  })();

  return {
    addr: listener.addr as Deno.NetAddr,
    finished: accepting.then(() => Promise.all(open)).then(() => {}),
  };
}

async function answerFor(
  head: Head,
  conn: Deno.Conn,
  handler: Http1Handler,
  onError?: (error: unknown) => void,
): Promise<Response | Upgrade> {
  let req: Request;
  try {
    req = new Request(`http://${originOf(head)}${pathOf(head.target)}`, {
      method: head.method,
      headers: head.headers,
    });
  } catch {
    // An invalid header value, or a method fetch forbids (CONNECT, TRACE).
    return new Response(null, { status: 400 });
  }
  try {
    return await handler(req, { remoteAddr: conn.remoteAddr as Deno.NetAddr });
  } catch (e) {
    onError?.(e);
    return new Response(null, { status: 500 });
  }
}

/** The host the request names, if it is one; a placeholder otherwise (only the path is used). */
function originOf(head: Head): string {
  const host = head.headers.find(([n]) => n.toLowerCase() === "host")?.[1] ?? "";
  return /^[A-Za-z0-9.\-:[\]]+$/.test(host) ? host : "localhost";
}

/** The path and query of an origin-form or absolute-form target. */
function pathOf(target: string): string {
  if (target.startsWith("/")) return target;
  try {
    const u = new URL(target);
    return u.pathname + u.search;
  } catch {
    return "/";
  }
}

/** Reads one request head; a status number if it is malformed (400) or too large (431). */
async function readHead(conn: Deno.Conn, max: number): Promise<Head | number | null> {
  let buf = new Uint8Array(Math.min(2048, max));
  let end = 0;
  for (;;) {
    if (end === buf.length) {
      if (buf.length >= max) return 431;
      const bigger = new Uint8Array(Math.min(buf.length * 2, max));
      bigger.set(buf);
      buf = bigger;
    }
    const n = await conn.read(buf.subarray(end));
    if (n === null) return null;
    const from = Math.max(0, end - 3);
    end += n;
    const at = headEnd(buf, from, end);
    if (at >= 0) return parseHead(latin1(buf.subarray(0, at)), buf.slice(at + 4, end));
  }
}

function headEnd(buf: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 3 < end; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

function parseHead(text: string, rest: Uint8Array): Head | number {
  const lines = text.split("\r\n");
  // HTTP/2's connection preface reads as a head "PRI * HTTP/2.0" and its end.
  if (text === "PRI * HTTP/2.0") return { ...HTTP2_PREFACE, headers: [], rest };
  const line = REQUEST_LINE.exec(lines[0]);
  if (!line || !TOKEN.test(line[1])) return 400;
  const headers: [string, string][] = [];
  for (const l of lines.slice(1)) {
    const h = HEADER_LINE.exec(l);
    // Folded lines (starting with whitespace) are obsolete: refused, as RFC 7230 allows.
    if (!h || !TOKEN.test(h[1])) return 400;
    headers.push([h[1], h[2]]);
  }
  return { method: line[1], target: line[2], headers, rest };
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return s;
}

function encodeLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Writes the answer; a Response closes the connection after it, an Upgrade takes it over. */
async function writeAnswer(
  conn: Deno.Conn,
  answer: Response | Upgrade,
  head: Head | null,
  timeoutMs: number,
): Promise<void> {
  const timer = setTimeout(() => closeQuietly(conn), timeoutMs);
  try {
    if (answer instanceof Upgrade) {
      await writeAll(conn, encodeLatin1(statusLine(101, answer.headers) + "\r\n"));
      clearTimeout(timer);
      return answer.take(conn, head!.rest);
    }
    const body = head?.method === "HEAD" ? new Uint8Array() : await answer.bytes();
    const headers: Record<string, string> = {};
    answer.headers.forEach((value, name) => {
      if (!["content-length", "connection", "transfer-encoding"].includes(name)) {
        headers[name] = value;
      }
    });
    headers["content-length"] = String(body.length);
    headers.connection = "close";
    const text = encodeLatin1(statusLine(answer.status, headers) + "\r\n");
    const out = new Uint8Array(text.length + body.length);
    out.set(text);
    out.set(body, text.length);
    await writeAll(conn, out);
  } catch { /* the client went away, or the write deadline closed it */ }
  clearTimeout(timer);
  closeQuietly(conn);
}

function statusLine(status: number, headers: Record<string, string>): string {
  let s = `HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}\r\n`;
  for (const [name, value] of Object.entries(headers)) s += `${name}: ${value}\r\n`;
  return s;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch { /* already closed */ }
}
