/**
 * The chat node's HTTP endpoints as a plain handler from `Request` to a
 * `Response` (or, for `GET /ws`, the socket's Upgrade): the WebSocket,
 * `GET /healthz` and `GET /metrics`. Served by server/http1.ts.
 */
import { Upgrade } from "../http1.ts";
import type { ChatContext } from "./chat_context.ts";
import { Session } from "./session.ts";
import { upgrade } from "./transport.ts";

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

const error = (status: number, code: string, message: string, headers?: Record<string, string>) =>
  json(status, { error: { code, message } }, headers);

export function httpHandler(
  ctx: ChatContext,
  sockets: Set<Session>,
): (req: Request) => Promise<Response | Upgrade> {
  return async (req) => {
    const path = new URL(req.url).pathname;
    if (req.method !== "GET") return error(405, "method_not_allowed", "only GET is served here");
    switch (path) {
      case "/ws": {
        if (!req.headers.has("upgrade")) {
          return error(426, "upgrade_required", "open a WebSocket here (see docs/protocol.md)");
        }
        if (ctx.state.draining) {
          return error(503, "draining", "this chat node is shutting down; log in again");
        }
        const answer = await upgrade(req, (conn, info) => {
          const s: Session = new Session(ctx, conn, info, () => sockets.delete(s));
          sockets.add(s);
          return s;
        });
        if (answer instanceof Upgrade) return answer;
        return error(answer.status, "bad_upgrade", answer.message, answer.headers);
      }
      case "/healthz":
        return json(ctx.state.draining ? 503 : 200, {
          ok: !ctx.state.draining,
          node: ctx.node,
          state: ctx.state.draining ? "draining" : "up",
          sessions: ctx.sessions.size,
        });
      case "/metrics":
        return new Response(await ctx.metrics.registry.text(), {
          headers: { "content-type": ctx.metrics.registry.contentType },
        });
      default:
        return error(404, "not_found", "no such endpoint");
    }
  };
}
