import assert from "node:assert/strict";
import { connect } from "node:http2";
import { listen, type Timeouts } from "./listener.ts";

const SHORT: Timeouts = { headersMs: 800, bodyMs: 800, keepAliveMs: 500, checkEveryMs: 100 };
const enc = new TextEncoder();

/** Resolves with the ms until the server closed the connection (or `limitMs` if it did not). */
async function closedAfter(conn: Deno.TcpConn, started: number, limitMs: number): Promise<number> {
  const buf = new Uint8Array(4096);
  const timer = setTimeout(() => conn.close(), limitMs);
  try {
    while (await conn.read(buf) !== null) { /* replies are not the point */ }
  } catch { /* closed by us at the limit, or reset by the server */ }
  clearTimeout(timer);
  try {
    conn.close();
  } catch { /* already closed */ }
  return performance.now() - started;
}

Deno.test("listen() closes slowloris connections: silent, half a head, a trickle, an idle keep-alive", async () => {
  const server = await listen(
    async (req, env) => {
      if (req.method === "POST") await req.text();
      return Response.json({ ip: env.remoteAddr?.hostname });
    },
    { host: "127.0.0.1", port: 0, tls: null, timeouts: SHORT, onError: () => new Response(null) },
  );
  const limitMs = 6_000;
  const open = () => Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const write = (c: Deno.TcpConn, s: string) => c.write(enc.encode(s)).catch(() => 0);
  // Each kind of attacker, 40 times over.
  const kinds: Record<string, (c: Deno.TcpConn) => Promise<void>> = {
    silent: async () => {},
    halfHead: async (c) => void await write(c, "POST /x HTTP/1.1\r\nHost: gate\r\n"),
    trickledHead: async (c) => {
      for (const ch of "GET / HTTP/1.1\r\nHost: gate\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaa\r\n") {
        if (await write(c, ch) === 0) return;
        await sleep(100);
      }
    },
    trickledBody: async (c) => {
      await write(c, "POST / HTTP/1.1\r\nHost: gate\r\nContent-Length: 1000\r\n\r\n");
      for (let i = 0; i < 1000; i++) {
        if (await write(c, "a") === 0) return;
        await sleep(100);
      }
    },
    idleKeepAlive: async (c) => void await write(c, "GET / HTTP/1.1\r\nHost: gate\r\n\r\n"),
  };
  try {
    const runs = Object.entries(kinds).flatMap(([kind, act]) =>
      Array.from({ length: 40 }, async () => {
        const conn = await open();
        const started = performance.now();
        act(conn);
        return [kind, await closedAfter(conn, started, limitMs)] as const;
      })
    );
    // While they hang on, an honest client is served.
    const honest = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.deepEqual(await honest.json(), { ip: "127.0.0.1" });
    const results = await Promise.all(runs);
    const worst: Record<string, number> = {}, first: Record<string, number> = {};
    for (const [kind, ms] of results) {
      worst[kind] = Math.max(worst[kind] ?? 0, ms);
      first[kind] = Math.min(first[kind] ?? Infinity, ms);
    }
    for (const kind of Object.keys(kinds)) {
      // Closed by the server well before the test's own limit: within the
      // timeout plus one check interval, with room for a loaded machine...
      assert.ok(worst[kind] < 4_000, `${kind}: still open after ${Math.round(worst[kind])} ms`);
      // ...and by the timeout, not at once.
      assert.ok(first[kind] >= 400, `${kind}: closed after ${Math.round(first[kind])} ms`);
    }
  } finally {
    await server.close();
  }
});

Deno.test("listen() keeps a keep-alive connection that is in use, and close() ends idle ones", async () => {
  const server = await listen(() => new Response("ok"), {
    host: "127.0.0.1",
    port: 0,
    tls: null,
    timeouts: { ...SHORT, keepAliveMs: 5_000 },
    onError: () => new Response(null),
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const buf = new Uint8Array(4096);
  for (let i = 0; i < 3; i++) {
    await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: gate\r\n\r\n"));
    const n = await conn.read(buf);
    assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 200/);
  }
  const started = performance.now();
  await server.close();
  // close() did not wait for the idle connection's keep-alive to run out.
  assert.ok(performance.now() - started < 2_000);
  assert.equal(await conn.read(buf).catch(() => null), null);
  conn.close();
});

Deno.test("listen() answers HTTP/2 with prior knowledge (h2c) from the same app, as Deno.serve did", async () => {
  const server = await listen(
    (req, env) =>
      Response.json({ path: new URL(req.url).pathname, ip: env.remoteAddr?.hostname }, {
        status: 404,
      }),
    {
      host: "127.0.0.1",
      port: 0,
      tls: null,
      timeouts: SHORT,
      onError: () => new Response(null),
    },
  );
  const session = connect(`http://127.0.0.1:${server.port}`);
  // The server's close() below resets this session: expected, not an error of the test.
  session.on("error", () => {});
  try {
    const stream = session.request({ ":path": "/parley.Status/Nodes", ":method": "POST" });
    stream.end();
    const [status, body] = await new Promise<[number, string]>((resolve, reject) => {
      let status = 0, body = "";
      stream.on("response", (h) => status = Number(h[":status"]));
      stream.setEncoding("utf8");
      stream.on("data", (d: string) => body += d);
      stream.on("end", () => resolve([status, body]));
      stream.on("error", reject);
    });
    assert.equal(status, 404);
    assert.deepEqual(JSON.parse(body), { path: "/parley.Status/Nodes", ip: "127.0.0.1" });
    // close() does not wait for an HTTP/2 session that is still open.
    const started = performance.now();
    await server.close();
    assert.ok(performance.now() - started < 2_000);
  } finally {
    session.destroy();
    await server.close();
  }
});
