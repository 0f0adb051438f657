import assert from "node:assert/strict";
import { OPCODE, RawSocket } from "../../testing/mod.ts";
import { serveHttp1, Upgrade } from "../http1.ts";
import { readHandshake, switchingHeaders } from "./handshake.ts";
import { ServerSocket, type SocketEvents } from "./socket.ts";

const enc = new TextEncoder();

interface Served {
  url: string;
  /** The server side of the next connection. */
  next(): Promise<{ socket: ServerSocket; seen: string[]; closed: Promise<number> }>;
  close(): Promise<void>;
}

/** A server whose sockets record what they get; `onText` may answer. */
function serve(
  maxMessage: number,
  on: Partial<{ text(s: ServerSocket, t: string): void; tooBig(s: ServerSocket, n: number): void }>,
): Served {
  const ac = new AbortController();
  const accepted: PromiseWithResolvers<Awaited<ReturnType<Served["next"]>>>[] = [
    Promise.withResolvers(),
  ];
  const server = serveHttp1({ hostname: "127.0.0.1", port: 0, signal: ac.signal }, async (req) => {
    const h = await readHandshake(req.headers);
    if (!h.ok) return new Response(null, { status: h.status });
    return new Upgrade(switchingHeaders(h.accept, "parley.v1"), (conn, head) => {
      const socket = new ServerSocket(conn, head, { maxMessage, closeTimeoutMs: 500 });
      const seen: string[] = [];
      const closed = Promise.withResolvers<number>();
      const events: SocketEvents = {
        text: (t) => {
          seen.push(t);
          on.text?.(socket, t);
        },
        binary: (n) => seen.push(`binary ${n}`),
        tooBig: (n) => {
          seen.push(`too big ${n}`);
          on.tooBig?.(socket, n);
        },
        closed: (code) => closed.resolve(code),
      };
      socket.start(events);
      accepted.at(-1)!.resolve({ socket, seen, closed: closed.promise });
      accepted.push(Promise.withResolvers());
    });
  });
  let taken = 0;
  return {
    url: `ws://127.0.0.1:${server.addr.port}/ws`,
    next: () => accepted[taken++].promise,
    close: async () => {
      ac.abort();
      await server.finished;
    },
  };
}

Deno.test("ServerSocket answers pings, passes texts on and echoes the peer's close code", async () => {
  const s = serve(1024, { text: (socket, t) => socket.send(`echo ${t}`) });
  try {
    const raw = await RawSocket.open(s.url);
    const server = await s.next();
    await raw.sendFrame(OPCODE.PING, enc.encode("hi"));
    const pong = await raw.readFrame();
    assert.deepEqual([pong?.opcode, new TextDecoder().decode(pong?.payload)], [OPCODE.PONG, "hi"]);
    await raw.sendText("one");
    assert.equal(new TextDecoder().decode((await raw.readFrame())?.payload), "echo one");
    await raw.sendFrame(OPCODE.CLOSE, new Uint8Array([0x03, 0xe8])); // 1000
    assert.equal((await raw.readUntilClose())?.code, 1000);
    assert.equal(await server.closed, 1000);
    assert.deepEqual(server.seen, ["one"]);
    raw.close();
  } finally {
    await s.close();
  }
});

Deno.test("ServerSocket's close sends what was queued, then the close frame, and waits for the peer", async () => {
  const s = serve(1024, {});
  try {
    const raw = await RawSocket.open(s.url);
    const server = await s.next();
    server.socket.send("last words");
    server.socket.close(4003, "kicked");
    server.socket.send("never sent");
    const texts: string[] = [];
    const close = await raw.readUntilClose(texts);
    assert.deepEqual([texts, close?.code, close?.reason], [["last words"], 4003, "kicked"]);
    assert.equal(server.socket.open, false);
    await raw.sendFrame(OPCODE.CLOSE, new Uint8Array([0x0f, 0xa3]));
    assert.equal(await server.closed, 4003);
    raw.close();
    // A peer that never answers the close frame is dropped after the close timeout.
    const mute = await RawSocket.open(s.url);
    const other = await s.next();
    const started = Date.now();
    other.socket.close(1001, "going away");
    assert.equal(await other.closed, 1006);
    const took = Date.now() - started;
    assert.ok(took >= 450 && took < 2000, `${took} ms`);
    mute.close();
  } finally {
    await s.close();
  }
});

Deno.test("ServerSocket refuses a frame over the limit by its header, and the client reads why", async () => {
  const s = serve(1000, { tooBig: (socket, n) => socket.send(`too big: ${n}`) });
  try {
    const raw = await RawSocket.open(s.url);
    const server = await s.next();
    // The header announces 1001 bytes; the payload keeps coming after the refusal.
    const payload = new Uint8Array(1001).fill(0x20);
    await raw.sendFrame(OPCODE.TEXT, payload).catch(() => {});
    const texts: string[] = [];
    const close = await raw.readUntilClose(texts);
    assert.deepEqual(texts, ["too big: 1001"]);
    assert.equal(close?.code, 1009);
    assert.equal(await server.closed, 1006);
    assert.deepEqual(server.seen, ["too big 1001"]);
    raw.close();
  } finally {
    await s.close();
  }
});

Deno.test("ServerSocket counts what waits for a client that does not read as buffered", async () => {
  const s = serve(1024, {});
  try {
    const raw = await RawSocket.open(s.url);
    const server = await s.next();
    const text = "z".repeat(60_000);
    for (let i = 0; i < 200; i++) server.socket.send(text);
    // 12 MB cannot all fit in the socket buffers of an idle client.
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(server.socket.buffered > 1_000_000, `buffered ${server.socket.buffered}`);
    raw.close();
    assert.equal(await server.closed, 1006);
    assert.equal(server.socket.buffered, 0);
  } finally {
    await s.close();
  }
});

Deno.test("ServerSocket sends a turn's frames in order, small ones joined and a huge one alone", async () => {
  const s = serve(1024, {});
  try {
    const raw = await RawSocket.open(s.url);
    const server = await s.next();
    const huge = "h€".repeat(150_000); // 600,000 bytes: more than a joined write holds
    const texts = ["a", "b€", huge, ...Array.from({ length: 500 }, (_, i) => `small ${i}`), "z"];
    for (const t of texts) server.socket.send(t);
    const got: string[] = [];
    while (got.length < texts.length) {
      const f = await raw.readFrame();
      assert.equal(f?.opcode, OPCODE.TEXT);
      got.push(new TextDecoder().decode(f!.payload));
    }
    assert.deepEqual(got, texts);
    raw.close();
  } finally {
    await s.close();
  }
});
