/**
 * What a client can make a chat node hold in memory (issue 8, finding 5):
 * sockets that announce frames far over the 64 KiB limit and stream them,
 * and sockets that trickle a frame up to the limit and then stall. The node
 * runs as a child process (every role, sqlite + memory); its resident size
 * is read from /proc while the sockets do their worst.
 */
import assert from "node:assert/strict";
import {
  type Account,
  befriend,
  type ChatTuning,
  login,
  loginAndConnect,
  type Parley,
  register,
  startSingle,
  withLogs,
} from "./cluster.ts";
import { sleep } from "../testing/mod.ts";

const MIB = 1024 * 1024;

/** The child's resident size. Deno lets only --allow-all read /proc, so cat reads it. */
async function rssMiB(pid: number): Promise<number> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/status`] }).output();
  const status = new TextDecoder().decode(out.stdout);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** Samples the node's RSS about every 50 ms until stopped; the highest seen. */
function sampleRss(pid: number): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await rssMiB(pid));
      await sleep(50);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return Math.max(peak, await rssMiB(pid));
    },
  };
}

/** An open WebSocket on a raw TCP connection: the handshake done by hand, nothing read yet. */
async function rawSocket(
  wsUrl: string,
  protocols: string[] = ["parley.v1"],
): Promise<Deno.TcpConn> {
  const u = new URL(wsUrl);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await writeAll(
    conn,
    new TextEncoder().encode(
      `GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
        `Sec-WebSocket-Protocol: ${protocols.join(",")}\r\n\r\n`,
    ),
  );
  let head = "";
  const buf = new Uint8Array(1); // byte by byte: leave the frames after the head unread
  while (!head.endsWith("\r\n\r\n")) {
    if (await conn.read(buf) === null) throw new Error(`closed during the handshake: ${head}`);
    head += String.fromCharCode(buf[0]);
  }
  if (!head.startsWith("HTTP/1.1 101")) throw new Error(`refused: ${head.split("\r\n")[0]}`);
  return conn;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

/** A masked (zero mask) text frame header announcing `length` bytes. */
function frameHeader(length: number): Uint8Array {
  const h = new Uint8Array(14);
  h[0] = 0x81;
  if (length < 65536) {
    h[1] = 0x80 | 126;
    h[2] = length >> 8;
    h[3] = length & 0xff;
    return h.subarray(0, 8);
  }
  h[1] = 0x80 | 127;
  new DataView(h.buffer).setBigUint64(2, BigInt(length));
  return h;
}

/**
 * The server's frames up to its close frame: the texts and the close code
 * (null if the connection ended, or nothing came within `ms`, without one).
 */
async function readServer(
  conn: Deno.Conn,
  ms = 20_000,
): Promise<{ texts: string[]; close: number | null }> {
  const texts: string[] = [];
  const deadline = setTimeout(() => conn.close(), ms);
  let buf = new Uint8Array();
  const chunk = new Uint8Array(65536);
  try {
    for (;;) {
      const n = await conn.read(chunk).catch(() => null);
      if (n === null) return { texts, close: null };
      const next = new Uint8Array(buf.length + n);
      next.set(buf);
      next.set(chunk.subarray(0, n), buf.length);
      buf = next;
      // Whole frames off the front (the server's frames here are all under 64 KiB).
      for (;;) {
        let len = buf.length >= 2 ? buf[1] & 0x7f : 0;
        let head = 2;
        if (len === 126) [len, head] = [(buf[2] << 8) | buf[3], 4];
        if (buf.length < 2 || buf.length < head + len) break;
        const payload = buf.subarray(head, head + len);
        if ((buf[0] & 0x0f) === 8) return { texts, close: (payload[0] << 8) | payload[1] };
        texts.push(new TextDecoder().decode(payload));
        buf = buf.slice(head + len);
      }
    }
  } finally {
    clearTimeout(deadline);
  }
}

/**
 * Announces a `length`-byte frame and streams its payload as fast as the
 * node takes it; resolves when the node closed, with how much got through.
 */
async function streamHugeFrame(conn: Deno.TcpConn, length: number) {
  const reply = readServer(conn);
  const chunk = new Uint8Array(MIB).fill(0x20);
  let sent = 0;
  try {
    await writeAll(conn, frameHeader(length));
    while (sent < length) sent += await conn.write(chunk.subarray(0, Math.min(MIB, length - sent)));
  } catch { /* the node closed the connection */ }
  const got = await reply;
  try {
    conn.close();
  } catch { /* closed */ }
  return { sent, ...got };
}

/** Announces a `length`-byte frame, trickles all of it but the last byte, and stalls. */
async function trickleFrame(conn: Deno.TcpConn, length: number): Promise<void> {
  await writeAll(conn, frameHeader(length));
  const piece = new Uint8Array(512).fill(0x20);
  for (let sent = 0; sent < length - 1;) {
    const n = Math.min(piece.length, length - 1 - sent);
    await writeAll(conn, piece.subarray(0, n));
    sent += n;
    if (sent % 8192 === 0) await sleep(5);
  }
}

async function withNode(
  fn: (p: Parley, pid: number) => Promise<void>,
  chat: ChatTuning = {},
): Promise<void> {
  const parley = await startSingle({ chat: { authTimeoutMs: 30_000, ...chat } });
  try {
    await fn(parley, parley.nodes.get("solo")!.child!.proc.pid);
  } catch (e) {
    throw withLogs(e, parley);
  } finally {
    await parley.close();
  }
}

/** Lets the node settle after start-up so the baseline is not still growing. */
async function settledRss(pid: number): Promise<number> {
  let last = await rssMiB(pid);
  for (let i = 0; i < 20; i++) {
    await sleep(100);
    const now = await rssMiB(pid);
    if (Math.abs(now - last) < 0.5) return now;
    last = now;
  }
  return last;
}

Deno.test("unauthenticated sockets streaming 63 MiB frames are cut off at the header", async () => {
  await withNode(async (parley, pid) => {
    const wsUrl = parley.nodes.get("solo")!.wsUrl;
    const before = await settledRss(pid);
    const sockets = await Promise.all(Array.from({ length: 8 }, () => rawSocket(wsUrl)));
    const rss = sampleRss(pid);
    const results = await Promise.all(sockets.map((s) => streamHugeFrame(s, 63 * MIB)));
    const peak = await rss.stop();
    const growth = peak - before;
    console.log(
      `8 × 63 MiB unauthenticated: RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MiB`,
    );
    assert.ok(growth < 16, `RSS grew by ${growth.toFixed(1)} MiB`);
    for (const r of results) {
      assert.equal(r.close, 1009, "closed with 1009");
      assert.equal(JSON.parse(r.texts[0]).error.code, "frame_too_large");
      // The node stopped reading: what got through is kernel buffers and the linger.
      assert.ok(r.sent < 16 * MIB, `sent ${(r.sent / MIB).toFixed(1)} MiB before the close`);
    }
  });
});

Deno.test("sockets trickling a frame up to the limit hold about the limit each", async () => {
  await withNode(async (parley, pid) => {
    const wsUrl = parley.nodes.get("solo")!.wsUrl;
    const count = 100;
    const open = () => Promise.all(Array.from({ length: count }, () => rawSocket(wsUrl)));
    // The first sockets also compile the session's code: open and close a round first.
    for (const s of await open()) s.close();
    const sockets = await open();
    // The baseline holds the open sockets, so the growth is what their frames cost.
    const before = await settledRss(pid);
    const rss = sampleRss(pid);
    await Promise.all(sockets.map((s) => trickleFrame(s, 65_536)));
    await sleep(300);
    const peak = await rss.stop();
    const growth = peak - before;
    console.log(
      `${count} sockets × 64 KiB trickled: RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MiB`,
    );
    // Each holds its frame (64 KiB); 4 MiB for whatever else moves in the process meanwhile.
    const bound = (count * 65_536) / MIB + 4;
    assert.ok(growth < bound, `RSS grew by ${growth.toFixed(1)} MiB (bound ${bound} MiB)`);
    // The frames were held, not refused: the sockets are still open.
    for (const s of sockets) assert.equal(await readOrWait(s, 50), "open");
    for (const s of sockets) s.close();
  });
});

/** "open" if nothing arrives within `ms`, "closed" if the node closed the connection. */
async function readOrWait(conn: Deno.Conn, ms: number): Promise<"open" | "closed" | "data"> {
  const read = conn.read(new Uint8Array(1024)).then((n) => n === null ? "closed" : "data")
    .catch(() => "closed" as const);
  return await Promise.race([read, sleep(ms).then(() => "open" as const)]);
}

Deno.test("an authenticated socket's 63 MiB frame is cut off at the header too", async () => {
  await withNode(async (parley, pid) => {
    const wsUrl = parley.nodes.get("solo")!.wsUrl;
    const accounts: Account[] = [];
    for (const name of ["mem1", "mem2", "mem3", "mem4"]) {
      accounts.push(await register(parley, name));
    }
    const tokens = await Promise.all(accounts.map(async (a) => (await login(parley, a)).token));
    const sockets = await Promise.all(
      tokens.map((t) => rawSocket(wsUrl, ["parley.v1", `parley.auth.${t}`])),
    );
    // Authenticated: the welcome and the end of the sync came first.
    await Promise.all(sockets.map(async (s) => {
      let seen = "";
      const buf = new Uint8Array(4096);
      while (!seen.includes('"done":true')) {
        const n = await s.read(buf);
        if (n === null) throw new Error(`closed before the sync: ${seen}`);
        seen += new TextDecoder().decode(buf.subarray(0, n));
      }
    }));
    const before = await settledRss(pid);
    const rss = sampleRss(pid);
    const results = await Promise.all(sockets.map((s) => streamHugeFrame(s, 63 * MIB)));
    const peak = await rss.stop();
    const growth = peak - before;
    console.log(`4 × 63 MiB authenticated: RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MiB`);
    assert.ok(growth < 16, `RSS grew by ${growth.toFixed(1)} MiB`);
    for (const r of results) {
      assert.equal(r.close, 1009);
      assert.equal(JSON.parse(r.texts.at(-1)!).error.code, "frame_too_large");
      assert.ok(r.sent < 16 * MIB, `sent ${(r.sent / MIB).toFixed(1)} MiB before the close`);
    }
  });
});

/** Writes `frames` copies of `frame` until done or `ms` passed (a node that stopped reading). */
async function flood(conn: Deno.TcpConn, frame: Uint8Array, frames: number, ms: number) {
  let sent = 0;
  const writing = (async () => {
    for (let i = 0; i < frames; i++) {
      await writeAll(conn, frame);
      sent += frame.length;
    }
  })().catch(() => {});
  await Promise.race([writing, sleep(ms)]);
  return sent;
}

/** A masked (zero mask) text frame of `size` bytes: a ping padded with JSON whitespace. */
function paddedPing(size: number): Uint8Array {
  const ping = JSON.stringify({ type: "ping", id: "pad" });
  const text = new TextEncoder().encode(ping.slice(0, -1) + " ".repeat(size - ping.length) + "}");
  const header = frameHeader(size);
  const out = new Uint8Array(header.length + text.length);
  out.set(header);
  out.set(text, header.length);
  return out;
}

Deno.test("an authenticated socket whose frames wait stops being read at about one frame", async () => {
  await withNode(async (parley, pid) => {
    const wsUrl = parley.nodes.get("solo")!.wsUrl;
    const [ann, ben] = await Promise.all([register(parley, "ann"), register(parley, "ben")]);
    const a = await loginAndConnect(parley, ann);
    const b = await loginAndConnect(parley, ben);
    await befriend({ client: a.client, account: ann }, { client: b.client, account: ben });
    await b.client.close();
    // ~8 MB of messages wait for ben: more than the kernel buffers a client that does not read.
    const text = "€".repeat(4000);
    for (let i = 0; i < 700; i += 50) {
      await Promise.all(
        Array.from(
          { length: 50 },
          (_, k) => a.client.request("msg.send", { to: ben.id, text, client_id: `m${i + k}` }),
        ),
      );
    }
    // ben logs in and reads nothing: his sync stalls, and with it every frame he sends after.
    const token = (await login(parley, ben)).token;
    const conn = await rawSocket(wsUrl, ["parley.v1", `parley.auth.${token}`]);
    await sleep(1000);
    const before = await settledRss(pid);
    const rss = sampleRss(pid);
    // 800 frames of 60 KiB (valid pings, 47 MiB in all) that the node cannot handle yet.
    const sent = await flood(conn, paddedPing(60 * 1024), 800, 4000);
    const peak = await rss.stop();
    const growth = peak - before;
    console.log(
      `an authenticated socket flooding 60 KiB frames while its frames wait: RSS ` +
        `${before.toFixed(0)} → peak ${peak.toFixed(0)} MiB, ${(sent / MIB).toFixed(1)} MiB sent`,
    );
    assert.ok(growth < 16, `RSS grew by ${growth.toFixed(1)} MiB`);
    // What it could send is what the kernel buffers took, not 47 MiB.
    assert.ok(sent < 16 * MIB, `${(sent / MIB).toFixed(1)} MiB sent`);
    conn.close();
    await a.client.close();
  }, { msgRate: 10_000, msgBurst: 10_000 });
});
