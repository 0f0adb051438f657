import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { startRelay } from "./relay_deno.ts";
import { type Client, connect, type Handlers } from "./load/clients.ts";

function recorder() {
  const events: unknown[] = [];
  const { promise: got, resolve } = Promise.withResolvers<void>();
  const h: Handlers = {
    onAck: (seq) => {
      events.push({ ack: seq });
      resolve();
    },
    onError: (seq, code) => events.push({ error: code, seq }),
    onMessage: (from, text) => {
      events.push({ from, text });
      resolve();
    },
    onClose: () => {},
  };
  return { events, h, got };
}

Deno.test("the Deno relay pushes a message to its recipient and acks the sender", async () => {
  const relay = startRelay({ hostname: "127.0.0.1" });
  const url = `ws://127.0.0.1:${relay.port}`;
  const a = recorder(), b = recorder();
  const clients: Client[] = [];
  try {
    clients.push(await connect("relay", { user: 1, url }, a.h));
    clients.push(await connect("relay", { user: 2, url }, b.h));
    while (relay.size() < 2) await new Promise((r) => setTimeout(r, 5));
    clients[0].send(2, 0, 123.5, "r|0|123.5|x");
    await Promise.all([a.got, b.got]);
    deepStrictEqual(a.events, [{ ack: 0 }]);
    deepStrictEqual(b.events, [{ from: 1, text: "r|0|123.5|x" }]);
  } finally {
    for (const c of clients) c.close();
    await relay.close();
  }
});

Deno.test("the Deno relay refuses a socket without ?user=N", async () => {
  const relay = startRelay({ hostname: "127.0.0.1" });
  try {
    const res = await fetch(`http://127.0.0.1:${relay.port}/?user=zero`);
    strictEqual(res.status, 400);
    await res.body?.cancel();
  } finally {
    await relay.close();
  }
});
