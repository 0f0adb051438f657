/**
 * The runtime's ceiling: a minimal WebSocket relay on Deno.serve with no
 * auth and no storage, driven with Parley's load shape. A client connects
 * to `/?user=N` and sends `{to, text, seq, t}`; the relay pushes
 * `{type:"msg", from, text, seq, t}` to the recipient's socket (if it has
 * one) and answers the sender `{type:"ack", seq}` — the same work as
 * Parley's `msg.send` → `result` + `msg.new`, minus everything that makes
 * Parley a chat service.
 *
 * Run alone: `deno run --allow-net bench/relay_deno.ts --port 9100`; it
 * prints `{"listening": PORT}` on stdout once bound.
 */
import { parseArgs } from "node:util";

interface SendFrame {
  to: number;
  text: string;
  seq: number;
  t: number;
}

export interface Relay {
  port: number;
  /** Open sockets, for tests. */
  size(): number;
  close(): Promise<void>;
}

export function startRelay(options: { port?: number; hostname?: string } = {}): Relay {
  const sockets = new Map<number, WebSocket>();
  const server = Deno.serve({
    port: options.port ?? 0,
    hostname: options.hostname ?? "0.0.0.0",
    onListen() {},
  }, (req) => {
    const user = Number(new URL(req.url).searchParams.get("user"));
    if (!Number.isSafeInteger(user) || user <= 0) {
      return new Response("?user=N required\n", { status: 400 });
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onopen = () => {
      // A newer socket of the same user replaces the old one, as a login would.
      sockets.get(user)?.close(1000, "replaced");
      sockets.set(user, socket);
    };
    socket.onclose = () => {
      if (sockets.get(user) === socket) sockets.delete(user);
    };
    socket.onmessage = (e) => {
      let f: SendFrame;
      try {
        f = JSON.parse(e.data as string);
      } catch {
        socket.close(1008, "bad frame");
        return;
      }
      const peer = sockets.get(f.to);
      if (peer && peer.readyState === WebSocket.OPEN) {
        peer.send(JSON.stringify({ type: "msg", from: user, text: f.text, seq: f.seq, t: f.t }));
      }
      socket.send(JSON.stringify({ type: "ack", seq: f.seq }));
    };
    return response;
  });
  return {
    port: server.addr.port,
    size: () => sockets.size,
    async close() {
      for (const s of sockets.values()) s.close(1001, "relay closing");
      await server.shutdown();
    },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string" } } });
  const relay = startRelay({ port: Number(values.port ?? 0) });
  console.log(JSON.stringify({ listening: relay.port }));
  const stop = async () => {
    await relay.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}
