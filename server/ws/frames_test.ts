import assert from "node:assert/strict";
import {
  encodeClose,
  encodeText,
  FrameReader,
  IDLE_BUFFER,
  type Message,
  OPCODE,
} from "./frames.ts";

const enc = new TextEncoder();

/** A client frame: masked (unless told), FIN set (unless told). */
function frame(
  op: number,
  payload: Uint8Array | string,
  o: { fin?: boolean; masked?: boolean; rsv?: number; length?: number } = {},
): Uint8Array {
  const data = typeof payload === "string" ? enc.encode(payload) : payload;
  const len = o.length ?? data.length;
  const head: number[] = [((o.fin ?? true) ? 0x80 : 0) | (o.rsv ?? 0) | op];
  const m = (o.masked ?? true) ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 255);
  else {
    const high = Math.floor(len / 2 ** 32);
    head.push(m | 127, high >>> 24, (high >>> 16) & 255, (high >>> 8) & 255, high & 255);
    head.push(len >>> 24, (len >>> 16) & 255, (len >>> 8) & 255, len & 255);
  }
  const mask = (o.masked ?? true) ? [0x12, 0x34, 0x56, 0x78] : [];
  const body = data.map((b, i) => (o.masked ?? true) ? b ^ mask[i % 4] : b);
  return new Uint8Array([...head, ...mask, ...body]);
}

/** Feeds `bytes` through the reader in chunks of `chunk` bytes; every message that came out. */
function feed(reader: FrameReader, bytes: Uint8Array, chunk = bytes.length): Message[] {
  const out: Message[] = [];
  for (let at = 0; at < bytes.length;) {
    const space = reader.space();
    const n = Math.min(space.length, chunk, bytes.length - at);
    space.set(bytes.subarray(at, at + n));
    reader.filled(n);
    at += n;
    for (let m = reader.next(); m; m = reader.next()) {
      out.push(m);
      if (m.kind === "fail") return out;
    }
  }
  return out;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

Deno.test("FrameReader reads masked text frames fed one byte at a time", () => {
  const bytes = concat(frame(OPCODE.TEXT, "hello"), frame(OPCODE.TEXT, "wörld 😀"));
  assert.deepEqual(feed(new FrameReader(1024), bytes, 1), [
    { kind: "text", text: "hello" },
    { kind: "text", text: "wörld 😀" },
  ]);
});

Deno.test("FrameReader joins fragments, with a ping between them and UTF-8 split across them", () => {
  const text = enc.encode("a€b"); // € is 3 bytes: cut it in the middle
  const bytes = concat(
    frame(OPCODE.TEXT, text.subarray(0, 2), { fin: false }),
    frame(OPCODE.PING, "p"),
    frame(OPCODE.CONTINUATION, text.subarray(2, 4), { fin: false }),
    frame(OPCODE.CONTINUATION, text.subarray(4)),
    frame(OPCODE.BINARY, new Uint8Array(300)),
  );
  const got = feed(new FrameReader(1024), bytes, 7);
  assert.deepEqual(got.map((m) => m.kind), ["ping", "text", "binary"]);
  assert.deepEqual(got[1], { kind: "text", text: "a€b" });
  assert.deepEqual(got[2], { kind: "binary", bytes: 300 });
});

Deno.test("FrameReader unmasks payloads of every length at every alignment", () => {
  const texts: string[] = [];
  for (let n = 0; n < 140; n++) texts.push("abcdefghijklmnopqrstuvwxyz".repeat(6).slice(0, n));
  texts.push("q".repeat(4097), "€".repeat(1500));
  // Back to back, so each payload starts at a different offset of the read buffer.
  const bytes = concat(...texts.map((t) => frame(OPCODE.TEXT, t)));
  for (const chunk of [bytes.length, 1000, 3]) {
    const got = feed(new FrameReader(8192), bytes, chunk);
    assert.deepEqual(got.map((m) => (m as { text: string }).text), texts, `chunks of ${chunk}`);
  }
});

Deno.test("FrameReader accepts a message of exactly the limit and refuses one byte more by its header", () => {
  const limit = 70_000;
  const ok = feed(new FrameReader(limit), frame(OPCODE.TEXT, "x".repeat(limit)), 5000);
  assert.equal(ok.length, 1);
  assert.equal((ok[0] as { text: string }).text.length, limit);
  // Only the header of the larger frame is fed: the refusal needs no payload.
  const header = frame(OPCODE.TEXT, "", { length: limit + 1 });
  assert.deepEqual(feed(new FrameReader(limit), header), [
    { kind: "fail", code: 1009, reason: "frame too large", announced: limit + 1 },
  ]);
  const huge = frame(OPCODE.BINARY, "", { length: 2 ** 40 });
  assert.deepEqual(feed(new FrameReader(limit), huge), [
    { kind: "fail", code: 1009, reason: "frame too large", announced: 2 ** 40 },
  ]);
});

Deno.test("FrameReader counts every fragment of a message against the limit", () => {
  const bytes = concat(
    frame(OPCODE.TEXT, "x".repeat(600), { fin: false }),
    frame(OPCODE.CONTINUATION, "x".repeat(400), { fin: false }),
    frame(OPCODE.CONTINUATION, "", { length: 25 }),
  );
  assert.deepEqual(feed(new FrameReader(1024), bytes), [
    { kind: "fail", code: 1009, reason: "frame too large", announced: 1025 },
  ]);
});

Deno.test("FrameReader holds about one frame: the buffer grows for a large one and shrinks after", () => {
  const limit = 64 * 1024;
  const reader = new FrameReader(limit);
  assert.ok(reader.held <= 4096);
  const big = frame(OPCODE.TEXT, "y".repeat(limit));
  feed(reader, big.subarray(0, big.length - 1), 1000);
  assert.ok(reader.held <= limit + 14 + 4096, `held ${reader.held}`);
  const last = feed(reader, big.subarray(big.length - 1));
  assert.equal(last[0].kind, "text");
  assert.ok(reader.held <= 4096, `held ${reader.held} after the frame`);
});

Deno.test("FrameReader keeps a small buffer while idle, a larger one while reads fill it, and gives it back", () => {
  const reader = new FrameReader(64 * 1024);
  assert.equal(reader.held, IDLE_BUFFER);
  // An auth-sized frame and pings: the idle buffer holds them.
  const auth = frame(OPCODE.TEXT, JSON.stringify({ type: "auth", token: "t".repeat(300) }));
  assert.equal(feed(reader, auth)[0].kind, "text");
  assert.equal(reader.held, IDLE_BUFFER);
  // A burst that fills each read: the busy room.
  const burst = concat(...Array.from({ length: 40 }, () => frame(OPCODE.TEXT, "m".repeat(120))));
  assert.equal(feed(reader, burst).length, 40);
  assert.equal(reader.held, 4096);
  // Quiet again: after a run of short reads (pings), the idle buffer.
  const ping = frame(OPCODE.TEXT, '{"type":"ping"}');
  for (let i = 0; i < 9; i++) assert.equal(feed(reader, ping)[0].kind, "text");
  assert.equal(reader.held, IDLE_BUFFER);
  // A frame over the idle room still arrives whole, read in pieces.
  const text = "z".repeat(3000);
  assert.deepEqual(feed(reader, frame(OPCODE.TEXT, text), 700), [{ kind: "text", text }]);
});

Deno.test("FrameReader fails the connection on protocol errors with 1002", () => {
  const cases: [string, Uint8Array][] = [
    ["unmasked", frame(OPCODE.TEXT, "x", { masked: false })],
    ["reserved bits", frame(OPCODE.TEXT, "x", { rsv: 0x40 })],
    ["unknown data opcode", frame(0x3, "x")],
    ["unknown control opcode", frame(0xb, "x")],
    ["continuation first", frame(OPCODE.CONTINUATION, "x")],
    [
      "new message inside another",
      concat(frame(OPCODE.TEXT, "a", { fin: false }), frame(OPCODE.TEXT, "b")),
    ],
    ["long ping", frame(OPCODE.PING, "p".repeat(126))],
    ["fragmented ping", frame(OPCODE.PING, "p", { fin: false })],
    ["one-byte close", frame(OPCODE.CLOSE, new Uint8Array([3]))],
    ["close code 1005", frame(OPCODE.CLOSE, new Uint8Array([0x03, 0xed]))],
  ];
  for (const [name, bytes] of cases) {
    const got = feed(new FrameReader(1024), bytes);
    assert.equal(got.at(-1)?.kind, "fail", name);
    assert.equal((got.at(-1) as { code: number }).code, 1002, name);
  }
});

Deno.test("FrameReader fails text that is not UTF-8 with 1007, and reads close frames", () => {
  const bad = feed(new FrameReader(1024), frame(OPCODE.TEXT, new Uint8Array([0x7b, 0xff, 0x7d])));
  assert.deepEqual(bad, [{ kind: "fail", code: 1007, reason: "a text frame that is not UTF-8" }]);
  const close = new Uint8Array([0x0f, 0xa3, ...enc.encode("bye")]); // 4003
  assert.deepEqual(feed(new FrameReader(1024), frame(OPCODE.CLOSE, close)), [
    { kind: "close", code: 4003, reason: "bye" },
  ]);
  assert.deepEqual(feed(new FrameReader(1024), frame(OPCODE.CLOSE, "")), [
    { kind: "close", code: 1005, reason: "" },
  ]);
});

Deno.test("FrameReader starts with the bytes that came with the upgrade request", () => {
  const reader = new FrameReader(1024, frame(OPCODE.TEXT, "early"));
  assert.deepEqual(reader.next(), { kind: "text", text: "early" });
  assert.equal(reader.next(), null);
});

Deno.test("encodeText picks the length form by the UTF-8 size", () => {
  for (const [text, header] of [["a".repeat(125), 2], ["a".repeat(126), 4], ["€".repeat(42), 4]]) {
    const f = encodeText(text as string);
    const size = enc.encode(text as string).length;
    assert.equal(f.length, (header as number) + size);
    assert.equal(f[0], 0x81);
    assert.equal(new TextDecoder().decode(f.subarray(header as number)), text);
  }
  const big = encodeText("b".repeat(70_000));
  assert.deepEqual([...big.subarray(0, 10)], [0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
});

Deno.test("encodeClose keeps the reason within 123 bytes without splitting a character", () => {
  const f = encodeClose(1009, "€".repeat(60));
  assert.equal(f[1], f.length - 2);
  assert.ok(f.length - 2 <= 125);
  assert.deepEqual([f[2], f[3]], [0x03, 0xf1]);
  assert.equal(new TextDecoder("utf-8", { fatal: true }).decode(f.subarray(4)), "€".repeat(41));
});
