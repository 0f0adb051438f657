/**
 * What an HTTP/1.1-only listener (server/http1.ts) answers a client that
 * opens with HTTP/2's connection preface, such as a gRPC client pointed at
 * the chat node's port: a 505 on its first stream, in HTTP/2's own frames,
 * then GOAWAY. Answered in HTTP/1.1 instead, such a client sees a broken
 * connection and reports the port as down; a status it can read lets it say
 * that something else answers there (`peer_not_parley` in proto/grpc.ts).
 */

const FRAME = { HEADERS: 0x1, SETTINGS: 0x4, GOAWAY: 0x7 } as const;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const ACK = 0x1;
/** HPACK: ":status" (static table entry 8) as a literal, not indexed, value "505". */
const STATUS_505 = [0x08, 0x03, 0x35, 0x30, 0x35];
/** What follows the "PRI * HTTP/2.0\r\n\r\n" the request-head reader took as a head. */
const PREFACE_REST = [0x53, 0x4d, 0x0d, 0x0a, 0x0d, 0x0a]; // "SM\r\n\r\n"
/** Frames read while looking for the client's first request, at most. */
const MAX_BYTES = 64 * 1024;

function frame(type: number, flags: number, stream: number, payload: number[] = []): number[] {
  const n = payload.length;
  return [
    (n >> 16) & 0xff,
    (n >> 8) & 0xff,
    n & 0xff,
    type,
    flags,
    (stream >>> 24) & 0x7f,
    (stream >> 16) & 0xff,
    (stream >> 8) & 0xff,
    stream & 0xff,
    ...payload,
  ];
}

/**
 * Reads the client's frames up to its first HEADERS frame and answers that
 * stream with 505. `rest`: the bytes after the preface's first line.
 * Resolves when done (the caller closes the connection).
 */
export async function refuseHttp2(conn: Deno.Conn, rest: Uint8Array): Promise<void> {
  let buf = rest;
  const more = async (): Promise<boolean> => {
    if (buf.length >= MAX_BYTES) return false;
    const chunk = new Uint8Array(16 * 1024);
    const n = await conn.read(chunk);
    if (n === null) return false;
    const next = new Uint8Array(buf.length + n);
    next.set(buf);
    next.set(chunk.subarray(0, n), buf.length);
    buf = next;
    return true;
  };
  const write = async (bytes: number[]) => {
    const out = new Uint8Array(bytes);
    for (let off = 0; off < out.length;) off += await conn.write(out.subarray(off));
  };
  while (buf.length < PREFACE_REST.length) if (!await more()) return;
  if (PREFACE_REST.some((b, i) => buf[i] !== b)) return;
  // A client sends its first request only once it has the server's settings.
  await write([...frame(FRAME.SETTINGS, 0, 0), ...frame(FRAME.SETTINGS, ACK, 0)]);
  let at = PREFACE_REST.length;
  let stream = 0;
  while (stream === 0) {
    while (buf.length < at + 9) if (!await more()) return;
    const length = (buf[at] << 16) | (buf[at + 1] << 8) | buf[at + 2];
    if (buf[at + 3] === FRAME.HEADERS) {
      stream = ((buf[at + 5] & 0x7f) << 24) | (buf[at + 6] << 16) | (buf[at + 7] << 8) |
        buf[at + 8];
    }
    at += 9 + length;
  }
  await write([
    ...frame(FRAME.HEADERS, END_STREAM | END_HEADERS, stream, STATUS_505),
    // GOAWAY: the last stream seen, error code 0 (no error).
    ...frame(FRAME.GOAWAY, 0, 0, [...frame(0, 0, stream).slice(5, 9), 0, 0, 0, 0]),
  ]);
  // Let the client read it before the connection goes (the caller's timer bounds the wait).
  await conn.closeWrite();
  const discard = new Uint8Array(4096);
  for (let read = 0; read < MAX_BYTES;) {
    const n = await conn.read(discard);
    if (n === null) break;
    read += n;
  }
}
