/**
 * The chat node's HTTP edge from outside (one process, sqlite + memory):
 * every valid spelling of the subprotocol list is accepted (issue 12, item
 * 1), with the npm `ws` client and with upgrades written by hand; what is
 * not an upgrade gets its documented code; and clients that never finish
 * their request head are closed while WebSockets live on (issue 8, 8).
 */
import assert from "node:assert/strict";
import WebSocket from "ws";
import { type Account, login, type Parley, register, startSingle, withLogs } from "./cluster.ts";
import { ChatClient, connect, sleep } from "../testing/mod.ts";
import { HTTP_LIMITS } from "../server/http1.ts";

interface RawAnswer {
  status: number;
  headers: Map<string, string[]>;
  body: string;
}

/** Sends a request head written by hand; the status, headers and body of the answer. */
async function rawRequest(wsUrl: string, lines: string[]): Promise<RawAnswer> {
  const u = new URL(wsUrl);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  try {
    const head = [`GET ${u.pathname} HTTP/1.1`, `Host: ${u.host}`, ...lines, "", ""].join("\r\n");
    await conn.write(new TextEncoder().encode(head));
    let text = "";
    const buf = new Uint8Array(4096);
    while (!text.includes("\r\n\r\n") || /^HTTP\/1\.1 [^1]/.test(text)) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const [top, body = ""] = text.split("\r\n\r\n");
    const [statusLine, ...headerLines] = top.split("\r\n");
    const headers = new Map<string, string[]>();
    for (const l of headerLines) {
      const [name, ...value] = l.split(":");
      const key = name.toLowerCase();
      headers.set(key, [...headers.get(key) ?? [], value.join(":").trim()]);
    }
    return { status: Number(statusLine.split(" ")[1]), headers, body };
  } finally {
    conn.close();
  }
}

const UPGRADE = [
  "Upgrade: websocket",
  "Connection: Upgrade",
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version: 13",
];

/** An npm `ws` client's first frames: resolves with the welcome (or rejects on close). */
function wsWelcome(ws: WebSocket): Promise<{ type: string; user: { id: number } }> {
  return new Promise((resolve, reject) => {
    ws.on("message", (data: Buffer) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === "welcome") resolve(frame);
      if (frame.type === "error") reject(new Error(JSON.stringify(frame)));
    });
    ws.on("close", (code: number) => reject(new Error(`closed with ${code}`)));
    ws.on("error", reject);
  });
}

Deno.test({
  name: "every valid spelling of Sec-WebSocket-Protocol is accepted; malformed upgrades say why",
  async fn(t) {
    const parley: Parley = await startSingle();
    const wsUrl = parley.nodes.get("solo")!.wsUrl;
    try {
      await t.step("the npm ws client with the token as a subprotocol (no space)", async () => {
        const ann = await register(parley, "ann");
        const { token } = await login(parley, ann);
        const ws = new WebSocket(wsUrl, ["parley.v1", `parley.auth.${token}`]);
        try {
          const welcome = await wsWelcome(ws);
          assert.equal(ws.protocol, "parley.v1");
          assert.equal(welcome.user.id, ann.id);
        } finally {
          ws.close();
        }
      });

      await t.step("the npm ws client offering chat,parley.v1, then an auth frame", async () => {
        const ben: Account = await register(parley, "ben");
        const { token } = await login(parley, ben);
        const ws = new WebSocket(wsUrl, ["chat", "parley.v1"]);
        try {
          await new Promise((resolve, reject) => ws.on("open", resolve).on("error", reject));
          assert.equal(ws.protocol, "parley.v1");
          const welcome = wsWelcome(ws);
          ws.send(JSON.stringify({ type: "auth", token }));
          assert.equal((await welcome).user.id, ben.id);
        } finally {
          ws.close();
        }
      });

      await t.step("raw upgrades: commas with or without spaces, repeated headers", async () => {
        const spellings: string[][] = [
          ["Sec-WebSocket-Protocol: parley.v1,parley.auth.x.y-z"],
          ["Sec-WebSocket-Protocol: chat,parley.v1"],
          ["Sec-WebSocket-Protocol: parley.v1 ,chat"],
          ["Sec-WebSocket-Protocol:  chat\t,  parley.v1 "],
          ["Sec-WebSocket-Protocol: , parley.v1,,"],
          ["Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: parley.v1"],
          ["sec-websocket-protocol: parley.v1", "SEC-WEBSOCKET-PROTOCOL: parley.v1"],
        ];
        for (const lines of spellings) {
          const a = await rawRequest(wsUrl, [...UPGRADE, ...lines]);
          assert.equal(a.status, 101, lines.join(" | "));
          assert.deepEqual(a.headers.get("sec-websocket-protocol"), ["parley.v1"]);
          assert.deepEqual(a.headers.get("sec-websocket-accept"), [
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
          ]);
        }
        // Without parley.v1 the node selects none (docs/protocol.md §1).
        for (const lines of [[], ["Sec-WebSocket-Protocol: chat"]]) {
          const a = await rawRequest(wsUrl, [...UPGRADE, ...lines]);
          assert.equal(a.status, 101);
          assert.equal(a.headers.get("sec-websocket-protocol"), undefined);
        }
      });

      await t.step("malformed upgrades get bad_upgrade with the reason", async () => {
        const cases: [string[], number, RegExp][] = [
          [[...UPGRADE, "Sec-WebSocket-Protocol: parley.v1, not a token"], 400, /tokens/],
          [[...UPGRADE, "Sec-WebSocket-Protocol: parley.v1;q=1"], 400, /tokens/],
          [UPGRADE.filter((l) => !l.startsWith("Sec-WebSocket-Key")), 400, /Key/],
          [UPGRADE.filter((l) => !l.startsWith("Connection")), 400, /Connection/],
          [[...UPGRADE.slice(0, 3), "Sec-WebSocket-Version: 8"], 426, /version 13/],
          [["Upgrade: h2c", "Connection: Upgrade"], 400, /websocket/],
        ];
        for (const [lines, status, message] of cases) {
          const a = await rawRequest(wsUrl, lines);
          assert.equal(a.status, status, lines.join(" | "));
          const body = JSON.parse(a.body);
          assert.equal(body.error.code, "bad_upgrade");
          assert.match(body.error.message, message);
          if (status === 426) assert.deepEqual(a.headers.get("sec-websocket-version"), ["13"]);
        }
        const plain = await rawRequest(wsUrl, []);
        assert.equal(plain.status, 426);
        assert.equal(JSON.parse(plain.body).error.code, "upgrade_required");
      });
    } catch (e) {
      throw withLogs(e, parley);
    } finally {
      await parley.close();
    }
  },
});

Deno.test({
  name: "slow request heads are closed at the deadline; WebSockets follow the auth timeout",
  async fn() {
    const authTimeoutMs = HTTP_LIMITS.headTimeoutMs + 6000;
    const parley: Parley = await startSingle({ chat: { authTimeoutMs } });
    const wsUrl = parley.nodes.get("solo")!.wsUrl;
    const u = new URL(wsUrl);
    const slow: Deno.TcpConn[] = [];
    try {
      const cat = await register(parley, "cat");
      const started = Date.now();
      const live = await connect(wsUrl, (await login(parley, cat)).token);
      const unauth = await ChatClient.open(wsUrl);
      // 2,000 clients each send part of a head, then a header byte every second.
      const head = new TextEncoder().encode("GET /ws HTTP/1.1\r\nHost: x\r\nX-Slow: ");
      for (let i = 0; i < 20; i++) {
        slow.push(
          ...await Promise.all(Array.from({ length: 100 }, async () => {
            const c = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
            await c.write(head);
            return c;
          })),
        );
      }
      const trickle = setInterval(() => {
        for (const c of slow) c.write(new TextEncoder().encode("a")).catch(() => {});
      }, 1000);
      const ended = await Promise.all(slow.map(async (c) => {
        const n = await c.read(new Uint8Array(64)).catch(() => null);
        return { n, at: Date.now() - started };
      }));
      clearInterval(trickle);
      const last = Math.max(...ended.map((e) => e.at));
      assert.ok(ended.every((e) => e.n === null), "closed without an answer");
      assert.ok(last < HTTP_LIMITS.headTimeoutMs + 5000, `the last closed after ${last} ms`);
      // The sockets did not follow the head deadline, and the node kept serving.
      assert.ok(last > HTTP_LIMITS.headTimeoutMs - 500);
      assert.deepEqual([live.closeInfo, unauth.closeInfo], [null, null], "both still open");
      live.send({ type: "ping", id: "still" });
      assert.equal((await live.next("pong")).id, "still");
      const dan = await register(parley, "dan");
      const fresh = await connect(wsUrl, (await login(parley, dan)).token);
      // The unauthenticated one is closed by the auth timeout instead.
      assert.equal((await unauth.closed).code, 4002);
      const took = Date.now() - started;
      assert.ok(took >= authTimeoutMs - 500, `4002 after ${took} ms`);
      await Promise.all([live.close(), fresh.close()]);
    } catch (e) {
      throw withLogs(e, parley);
    } finally {
      for (const c of slow) {
        try {
          c.close();
        } catch { /* closed by the node */ }
      }
      await sleep(0);
      await parley.close();
    }
  },
});
