import assert from "node:assert/strict";
import { AppError } from "../proto/errors.ts";
import { statusClient } from "../proto/services.ts";
import {
  type Http1Handler,
  type Http1Server,
  type HttpLimits,
  serveHttp1,
  Upgrade,
} from "./http1.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function withServer(
  limits: Partial<HttpLimits>,
  handler: Http1Handler,
  fn: (server: Http1Server) => Promise<void>,
): Promise<void> {
  const ac = new AbortController();
  const server = serveHttp1({ hostname: "127.0.0.1", port: 0, signal: ac.signal, limits }, handler);
  try {
    await fn(server);
  } finally {
    ac.abort();
    await server.finished;
  }
}

const hello: Http1Handler = (req) =>
  new Response(`hello ${new URL(req.url).pathname}`, { headers: { "x-test": "1" } });

function connect(server: Http1Server): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
}

/** Everything the server sends until it closes, and how long after `since` it closed. */
async function readToEnd(
  conn: Deno.Conn,
  since = Date.now(),
): Promise<{ text: string; ms: number }> {
  const buf = new Uint8Array(4096);
  let text = "";
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    text += dec.decode(buf.subarray(0, n));
  }
  try {
    conn.close();
  } catch { /* closed */ }
  return { text, ms: Date.now() - since };
}

async function request(server: Http1Server, head: string): Promise<string> {
  const conn = await connect(server);
  await conn.write(enc.encode(head));
  return (await readToEnd(conn)).text;
}

Deno.test("serveHttp1() answers a GET with a length, and closes the connection after it", async () => {
  await withServer({}, hello, async (server) => {
    const text = await request(server, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /\r\nx-test: 1\r\n/);
    assert.match(text, /\r\ncontent-length: 14\r\n/);
    assert.match(text, /\r\nconnection: close\r\n\r\nhello \/healthz$/);
    const head = await request(server, "HEAD /x HTTP/1.1\r\n\r\n");
    assert.match(head, /content-length: 0\r\nconnection: close\r\n\r\n$/);
    // fetch() reads the same answers.
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/metrics?x=1`);
    assert.equal(await res.text(), "hello /metrics");
  });
});

Deno.test("serveHttp1() refuses malformed and oversized request heads", async () => {
  await withServer({ maxHeadBytes: 1024 }, hello, async (server) => {
    const status = async (head: string) => (await request(server, head)).split("\r\n")[0];
    assert.equal(await status("GET /\r\n\r\n"), "HTTP/1.1 400 Bad Request");
    assert.equal(await status("GET / HTTP/2.0\r\n\r\n"), "HTTP/1.1 400 Bad Request");
    assert.equal(await status("GET / HTTP/1.1\r\nno colon\r\n\r\n"), "HTTP/1.1 400 Bad Request");
    assert.equal(
      await status("GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n"),
      "HTTP/1.1 400 Bad Request",
    );
    assert.equal(await status("CONNECT x:1 HTTP/1.1\r\n\r\n"), "HTTP/1.1 400 Bad Request");
    assert.equal(
      await status(`GET / HTTP/1.1\r\nX-Big: ${"b".repeat(2000)}\r\n\r\n`),
      "HTTP/1.1 431 Request Header Fields Too Large",
    );
    assert.equal(await status("GET / HTTP/1.1\r\n\r\n"), "HTTP/1.1 200 OK");
  });
});

Deno.test("serveHttp1() answers 500 when the handler throws, and says so through onError", async () => {
  const errors: unknown[] = [];
  const ac = new AbortController();
  const server = serveHttp1({
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
    onError: (e) => errors.push(e),
  }, () => {
    throw new Error("handler bug");
  });
  try {
    const text = await request(server, "GET / HTTP/1.1\r\n\r\n");
    assert.match(text, /^HTTP\/1\.1 500 Internal Server Error\r\n/);
    assert.deepEqual(errors.map((e) => (e as Error).message), ["handler bug"]);
  } finally {
    ac.abort();
    await server.finished;
  }
});

Deno.test("serveHttp1() closes slow-header connections at the head deadline, however they trickle", async () => {
  const headTimeoutMs = 600;
  await withServer({ headTimeoutMs }, hello, async (server) => {
    const conns = await Promise.all(Array.from({ length: 200 }, () => connect(server)));
    const started = Date.now();
    const stop = AbortSignal.timeout(5000);
    // Half of them send a byte of header every 50 ms, the other half nothing at all.
    const trickling = conns.slice(0, 100).map(async (c) => {
      await c.write(enc.encode("GET / HTTP/1.1\r\nX-Slow: ")).catch(() => {});
      while (!stop.aborted) {
        await new Promise((r) => setTimeout(r, 50));
        if (await c.write(enc.encode("a")).catch(() => null) === null) return;
      }
    });
    const ends = await Promise.all(conns.map((c) => readToEnd(c, started)));
    await Promise.all(trickling);
    const slowest = Math.max(...ends.map((e) => e.ms));
    assert.ok(!stop.aborted, "every connection was closed by the server");
    assert.ok(slowest >= headTimeoutMs - 50 && slowest < headTimeoutMs + 1000, `${slowest} ms`);
    assert.ok(ends.every((e) => e.text === ""), "nothing was answered");
    // The server still answers a client that sends its head in time.
    assert.match(await request(server, "GET / HTTP/1.1\r\n\r\n"), /^HTTP\/1\.1 200/);
  });
});

Deno.test("serveHttp1() drops the oldest pending connection past maxPendingHeads", async () => {
  await withServer({ maxPendingHeads: 5, headTimeoutMs: 10_000 }, hello, async (server) => {
    const slow: Deno.TcpConn[] = [];
    for (let i = 0; i < 8; i++) {
      const c = await connect(server);
      await c.write(enc.encode("GET / HTTP/1.1\r\n"));
      slow.push(c);
      // Accepted in this order: let the server see each before the next.
      await new Promise((r) => setTimeout(r, 20));
    }
    const started = Date.now();
    const oldest = await Promise.all(slow.slice(0, 3).map((c) => readToEnd(c, started)));
    assert.ok(oldest.every((e) => e.ms < 2000), "the three oldest were dropped at once");
    // A fresh client is served while five slow ones hold their places.
    assert.match(await request(server, "GET / HTTP/1.1\r\n\r\n"), /^HTTP\/1\.1 200/);
    for (const c of slow.slice(3)) c.close();
  });
});

Deno.test("serveHttp1() hands an upgrade over with the bytes after the head, past the deadline", async () => {
  const taken = Promise.withResolvers<{ conn: Deno.Conn; head: string }>();
  const handler: Http1Handler = () =>
    new Upgrade(
      { upgrade: "test", connection: "Upgrade" },
      (conn, head) => taken.resolve({ conn, head: dec.decode(head) }),
    );
  await withServer({ headTimeoutMs: 300 }, handler, async (server) => {
    const c = await connect(server);
    await c.write(enc.encode("GET /ws HTTP/1.1\r\nUpgrade: test\r\n\r\nearly bytes"));
    const { conn, head } = await taken.promise;
    assert.equal(head, "early bytes");
    const buf = new Uint8Array(1024);
    const n = await c.read(buf);
    assert.equal(
      dec.decode(buf.subarray(0, n!)),
      "HTTP/1.1 101 Switching Protocols\r\nupgrade: test\r\nconnection: Upgrade\r\n\r\n",
    );
    // The head deadline no longer applies: the connection is its new owner's.
    await new Promise((r) => setTimeout(r, 700));
    await conn.write(enc.encode("still here"));
    const m = await c.read(buf);
    assert.equal(dec.decode(buf.subarray(0, m!)), "still here");
    conn.close();
    c.close();
  });
});

Deno.test("serveHttp1() stops on abort: pending connections closed, finished resolves", async () => {
  const ac = new AbortController();
  const server = serveHttp1({ hostname: "127.0.0.1", port: 0, signal: ac.signal }, hello);
  const c = await connect(server);
  await c.write(enc.encode("GET / HTTP/1.1\r\n"));
  await new Promise((r) => setTimeout(r, 50));
  ac.abort();
  await server.finished;
  assert.equal((await readToEnd(c)).text, "");
  await assert.rejects(connect(server));
});

Deno.test("serveHttp1() answers an HTTP/2 client with 505, so a gRPC client knows it is not gRPC", async () => {
  await withServer({}, hello, async (server) => {
    const client = statusClient(`127.0.0.1:${server.addr.port}`);
    try {
      const e = await client.ListNodes({}, { deadlineMs: 5000 }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(e instanceof AppError);
      assert.equal(e.code, "peer_not_parley", e.message);
      assert.match(e.message, /505/);
    } finally {
      client.close();
    }
    // The listener still serves HTTP/1.1 afterwards.
    assert.match(await request(server, "GET / HTTP/1.1\r\n\r\n"), /^HTTP\/1\.1 200/);
  });
});

/** A self-signed certificate for 127.0.0.1, made with openssl for this test. */
async function selfSigned(): Promise<{ cert: string; key: string }> {
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command("openssl", {
      args: [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
        ...["-nodes", "-days", "1", "-subj", "/CN=localhost"],
        ...["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        ...["-addext", "basicConstraints=critical,CA:FALSE"],
        ...["-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`],
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    return {
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("serveHttp1() serves TLS with the configured certificate, upgrades included", async () => {
  const { cert, key } = await selfSigned();
  const taken = Promise.withResolvers<Uint8Array>();
  const handler: Http1Handler = (req) =>
    req.headers.has("upgrade")
      ? new Upgrade({ upgrade: "test" }, (conn, head) => {
        taken.resolve(head);
        conn.close();
      })
      : hello(req, { remoteAddr: { transport: "tcp", hostname: "", port: 0 } });
  const ac = new AbortController();
  const server = serveHttp1(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, cert, key },
    handler,
  );
  try {
    const open = () =>
      Deno.connectTls({ hostname: "127.0.0.1", port: server.addr.port, caCerts: [cert] });
    const c = await open();
    await c.write(enc.encode("GET /secure HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.match((await readToEnd(c)).text, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nhello \/secure$/);
    const u = await open();
    await u.write(enc.encode("GET /ws HTTP/1.1\r\nUpgrade: test\r\n\r\nafter"));
    assert.equal(dec.decode(await taken.promise), "after");
    assert.match((await readToEnd(u)).text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  } finally {
    ac.abort();
    await server.finished;
  }
});
