/**
 * The gate's HTTP listener: the Hono app served by node:http (or
 * node:https) through @hono/node-server, with timeouts that hold against
 * slowloris clients.
 *
 * Why not Deno.serve: measured on Deno 2.9.6, it has no header, body or
 * idle timeout at all — a connection that sends nothing, half a request
 * head, a head and a trickle of body, or that stays idle after a reply,
 * was still open after 70 s, and Deno.ServeOptions has no setting for it.
 * Deno's node:http does enforce `headersTimeout` (checked every
 * `connectionsCheckingInterval`, 30 s by default in Node, so it is set
 * here), `keepAliveTimeout` and TLS's `handshakeTimeout`; it does not
 * enforce `requestTimeout`, so a per-request timer here destroys the
 * socket of a request whose body has not arrived in time. The cost is a
 * slower HTTP path (~30% fewer trivial requests per second than
 * Deno.serve on this machine), which the gate, whose requests each cost a
 * database round trip or a password hash, does not notice.
 *
 * Deno.serve also spoke HTTP/2 with prior knowledge (h2c) on a plain port;
 * so does this listener: a connection that opens with the HTTP/2 preface
 * goes to a node:http2 server with the same app, so an h2c client — gRPC
 * pointed at the wrong port, say — gets an HTTP answer (404), not a broken
 * connection.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createH2Server, type Http2ServerRequest } from "node:http2";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import { getRequestListener, type HttpBindings } from "@hono/node-server";
import type { TlsConfig } from "../config.ts";
import type { ConnInfo } from "./request.ts";

export interface Timeouts {
  /** From connection (or the end of the last reply) to the end of a request head. */
  headersMs: number;
  /** From the end of a request head to the end of its body. */
  bodyMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveMs: number;
  /** How often node:http checks headersMs (so a late head is cut within this much). */
  checkEveryMs: number;
}

export const TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  headersMs: 10_000,
  bodyMs: 10_000,
  keepAliveMs: 5_000,
  checkEveryMs: 1_000,
});

export interface Listener {
  port: number;
  close(): Promise<void>;
}

type Fetch = (request: Request, env: ConnInfo) => Response | Promise<Response>;

/** Serves `fetch` on host:port (TLS with `tls`); resolves once listening. */
export async function listen(
  fetch: Fetch,
  options: {
    host: string;
    port: number;
    tls: TlsConfig | null;
    timeouts?: Timeouts;
    onError: (error: unknown) => Response;
  },
): Promise<Listener> {
  const t = options.timeouts ?? TIMEOUTS;
  const handler = getRequestListener(
    // The app sees only the peer's address, as it would under any server.
    (request, env) => {
      const incoming = (env as HttpBindings).incoming;
      return fetch(request, { remoteAddr: { hostname: incoming.socket?.remoteAddress } });
    },
    // Deno's Request and Response stay as they are.
    { overrideGlobalObjects: false, errorHandler: options.onError },
  );
  const common = {
    headersTimeout: t.headersMs,
    requestTimeout: t.headersMs + t.bodyMs,
    keepAliveTimeout: t.keepAliveMs,
    connectionsCheckingInterval: t.checkEveryMs,
  };
  const server: Server = options.tls
    ? createHttpsServer({
      ...common,
      cert: options.tls.cert,
      key: options.tls.key,
      handshakeTimeout: t.headersMs,
    })
    : createHttpServer(common);
  server.on("request", (req: IncomingMessage) => bodyDeadline(req, t.bodyMs));
  server.on("request", handler);
  const http2Sockets = new Set<Socket>();
  if (!options.tls) {
    const h2 = createH2Server();
    h2.setTimeout(t.headersMs + t.bodyMs); // an idle HTTP/2 session is closed
    h2.on("request", (req: Http2ServerRequest) => bodyDeadline(req, t.bodyMs));
    h2.on("request", handler);
    sniffHttp2(server, h2, t.headersMs, http2Sockets);
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : options.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive connections would hold close() for keepAliveMs.
        server.closeAllConnections();
        for (const socket of http2Sockets) socket.destroy();
      }),
  };
}

/**
 * Puts a look at each connection's first bytes before node:http's own
 * connection handler: the HTTP/2 preface ("PRI * HTTP/2.0") goes to `h2`,
 * anything else on to HTTP/1 as usual. A connection that sends nothing is
 * closed after `ms`.
 */
function sniffHttp2(
  server: Server,
  h2: { emit(event: "connection", socket: Socket): boolean },
  ms: number,
  handedOver: Set<Socket>,
): void {
  const [http1] = server.listeners("connection") as ((socket: Socket) => void)[];
  server.removeListener("connection", http1);
  server.on("connection", (socket: Socket) => {
    const timer = setTimeout(() => socket.destroy(), ms);
    // A reset by the client must never be an unhandled "error" event (it
    // would end the process): not while the first bytes are awaited, and
    // not after, whatever the server that takes the socket listens to.
    socket.on("error", () => socket.destroy());
    socket.once("close", () => clearTimeout(timer));
    socket.once("readable", () => {
      clearTimeout(timer);
      const head: Uint8Array | null = socket.read();
      if (head) socket.unshift(head);
      const preface = head !== null && new TextDecoder().decode(head.subarray(0, 4)) === "PRI ";
      if (!preface) return http1.call(server, socket);
      handedOver.add(socket);
      socket.once("close", () => handedOver.delete(socket));
      h2.emit("connection", socket);
    });
  });
}

/**
 * Destroys the connection if the request's body has not fully arrived
 * `ms` after its head. A body the app never reads is drained by node:http
 * after the reply, which also ends it, so only a trickle is cut.
 */
function bodyDeadline(req: IncomingMessage | Http2ServerRequest, ms: number): void {
  const socket = req.socket;
  const timer = setTimeout(() => socket.destroy(), ms);
  const done = () => {
    clearTimeout(timer);
    socket.off("close", done);
  };
  req.once("end", done);
  req.once("close", done);
  socket.once("close", done);
}
