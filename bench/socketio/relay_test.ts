import { deepStrictEqual } from "node:assert/strict";
import { startSocketIoRelay } from "../baselines.ts";
import { type Client, connect, type Handlers } from "../load/clients.ts";

Deno.test("the Socket.IO relay pushes a message to its recipient and acks the sender", async () => {
  const relay = await startSocketIoRelay(); // installs socket.io on first use
  const acks: number[] = [], got: unknown[] = [];
  const { promise: done, resolve } = Promise.withResolvers<void>();
  const h = (onMessage: Handlers["onMessage"]): Handlers => ({
    onAck: (seq) => {
      acks.push(seq);
      if (got.length) resolve();
    },
    onError: () => {},
    onMessage,
    onClose: () => {},
  });
  const clients: Client[] = [];
  try {
    clients.push(await connect("socketio", { user: 1, url: relay.url }, h(() => {})));
    clients.push(
      await connect(
        "socketio",
        { user: 2, url: relay.url },
        h((from, text) => {
          got.push({ from, text });
          if (acks.length) resolve();
        }),
      ),
    );
    // socket.io runs the server's connection handler before the client sees "connect".
    clients[0].send(2, 0, 1.5, "r|0|1.5|");
    await done;
    deepStrictEqual(got, [{ from: 1, text: "r|0|1.5|" }]);
    deepStrictEqual(acks[0], 0);
  } finally {
    for (const c of clients) c.close();
    await relay.close();
  }
});
