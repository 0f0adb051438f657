/**
 * Test-only: a chat node stand-in on a real socket for the ChatClient tests
 * (chat_client_test.ts, chat_client_inbox_test.ts): it answers `auth` with
 * a welcome (protocol 1 unless told otherwise), refuses the token "bad",
 * and hands every other frame to the test.
 */
import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export const welcome = {
  type: "welcome",
  session_id: "s",
  node: "n1",
  heartbeat_ms: 30_000,
  user: { id: 1, name: "me", display_name: "", email: "me@x", bio: "", created_at: 0 },
  unread: [],
  pending_requests: 0,
  protocol: 1,
};

/**
 * A chat node stand-in: answers auth with a welcome (with `extra.welcome`'s
 * fields over the default's) and hands every other frame to `onFrame`; the
 * auth frame goes to `extra.onAuth`.
 */
export function scriptedNode(
  port: number,
  onFrame: (frame: Record<string, unknown>, ws: WebSocket) => void,
  node = "n1",
  extra: {
    welcome?: Record<string, unknown>;
    onAuth?: (frame: Record<string, unknown>, ws: WebSocket) => void;
  } = {},
): Deno.HttpServer {
  return Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "parley.v1" });
    socket.onmessage = (e) => {
      const frame = JSON.parse(e.data);
      if (frame.type === "auth") {
        extra.onAuth?.(frame, socket);
        if (frame.token === "bad") {
          socket.send(JSON.stringify({
            type: "error",
            id: null,
            error: { code: "token_revoked", message: "revoked" },
          }));
          socket.close(4001, "auth failed");
        } else socket.send(JSON.stringify({ ...welcome, node, ...extra.welcome }));
      } else onFrame(frame, socket);
    };
    return response;
  });
}

export function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (pred()) return resolve();
      if (Date.now() > end) return reject(new Error("condition not met in time"));
      setTimeout(tick, 10);
    };
    tick();
  });
}
