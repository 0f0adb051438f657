import assert from "node:assert/strict";
import { acceptKey, readHandshake, readProtocols } from "./handshake.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

function upgradeHeaders(extra: [string, string][] = []): Headers {
  const h = new Headers([
    ["upgrade", "websocket"],
    ["connection", "Upgrade"],
    ["sec-websocket-key", KEY],
    ["sec-websocket-version", "13"],
  ]);
  for (const [name, value] of extra) h.append(name, value);
  return h;
}

Deno.test("acceptKey() gives RFC 6455's example answer", async () => {
  assert.equal(await acceptKey(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

Deno.test("readProtocols() takes commas with or without whitespace, and empty elements", () => {
  assert.deepEqual(readProtocols("parley.v1,parley.auth.a.b-c_d"), [
    "parley.v1",
    "parley.auth.a.b-c_d",
  ]);
  assert.deepEqual(readProtocols("chat,parley.v1"), ["chat", "parley.v1"]);
  assert.deepEqual(readProtocols("parley.v1 ,chat"), ["parley.v1", "chat"]);
  assert.deepEqual(readProtocols(" parley.v1\t,\tchat ,, "), ["parley.v1", "chat"]);
  assert.deepEqual(readProtocols(null), []);
  assert.deepEqual(readProtocols(""), []);
  assert.equal(readProtocols("parley v1"), null, "a space inside a name");
  assert.equal(readProtocols("parley.v1,a/b"), null, "a separator inside a name");
});

Deno.test("readHandshake() accepts repeated Sec-WebSocket-Protocol headers as one list", async () => {
  const h = await readHandshake(upgradeHeaders([
    ["sec-websocket-protocol", "chat"],
    ["sec-websocket-protocol", "parley.v1,parley.auth.x"],
  ]));
  assert.deepEqual(h, {
    ok: true,
    accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    protocols: ["chat", "parley.v1", "parley.auth.x"],
  });
});

Deno.test("readHandshake() takes Upgrade and Connection as case-insensitive lists", async () => {
  const h = new Headers(upgradeHeaders());
  h.set("upgrade", "WebSocket");
  h.set("connection", "keep-alive, Upgrade");
  assert.equal((await readHandshake(h)).ok, true);
});

Deno.test("readHandshake() refuses what RFC 6455 §4.2.1 does not allow, saying why", async () => {
  const refused = async (change: (h: Headers) => void) => {
    const h = upgradeHeaders();
    change(h);
    const r = await readHandshake(h);
    assert.equal(r.ok, false);
    return r as Extract<typeof r, { ok: false }>;
  };
  assert.match((await refused((h) => h.set("upgrade", "h2c"))).message, /websocket/);
  assert.match((await refused((h) => h.set("connection", "keep-alive"))).message, /Connection/);
  assert.match((await refused((h) => h.delete("sec-websocket-key"))).message, /Key/);
  assert.match((await refused((h) => h.set("sec-websocket-key", "c2hvcnQ="))).message, /16 bytes/);
  assert.match((await refused((h) => h.set("content-length", "5"))).message, /no body/);
  const proto = await refused((h) => h.set("sec-websocket-protocol", "parley.v1, not a token"));
  assert.equal(proto.status, 400);
  assert.match(proto.message, /tokens/);
  const version = await refused((h) => h.set("sec-websocket-version", "8"));
  assert.equal(version.status, 426);
  assert.deepEqual(version.headers, { "sec-websocket-version": "13" });
});
