/**
 * How a Parley gRPC server listens and stops: on a socket it owns (grpc-js's
 * connection injector instead of bindAsync), and, when closed, without ever
 * sending a GOAWAY. Why: see listenWithoutGoaway().
 */
import type * as grpc from "@grpc/grpc-js";
import type http2 from "node:http2";
import { createServer, type Socket } from "node:net";

/** Calls a server is running now, so that a shutdown can wait for them. */
export class CallCount {
  #n = 0;
  #idle: (() => void)[] = [];
  /** Set once the server is shutting down: new calls are refused at once. */
  closing = false;

  begin(): void {
    this.#n++;
  }

  /** After the reply was handed to grpc-js; a macrotask later, so its frames are written first. */
  end(): void {
    setTimeout(() => {
      if (--this.#n === 0) { for (const f of this.#idle.splice(0)) f(); }
    }, 0);
  }

  /** Resolves when no call is running, or after `ms`; false on the timeout. */
  idle(ms: number): Promise<boolean> {
    if (this.#n === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer);
        resolve(v);
      };
      const timer = setTimeout(() => done(false), ms);
      this.#idle.push(() => done(true));
    });
  }
}

/** The longest a shutdown waits for running calls before it cuts their connections. */
const SHUTDOWN_GRACE_MS = 2000;

/*
 * Why the server owns its listening socket (a grpc-js connection injector
 * instead of bindAsync), and never sends GOAWAY: Deno 2.9's node:http2 can
 * abort or crash the process that *receives* a GOAWAY (an nghttp2 assertion
 * in find_stream_on_goaway_func, exit 134, or a segfault, exit 139;
 * denoland/deno#36788) when that process's JavaScript reacts to it while
 * nghttp2 is still processing the frame, which grpc-js clients do. Measured
 * with grpc-js clients against a restarting server, 30 restarts x 6 clients:
 * tryShutdown 7 crashes, forceShutdown 10, the injector's drain 11; the same
 * connections ended by closing the TCP sockets: 0. proto/h2_guard.ts now
 * removes the cause in every process (teardown never runs inside nghttp2's
 * frame callback); this stays as a second line, since a Parley client may
 * run a Deno without the guard (an older build). So a server here stops
 * listening, lets running calls finish (at most SHUTDOWN_GRACE_MS), then
 * closes every connection's socket. Callers see a dropped connection
 * (UNAVAILABLE, peer_unavailable), exactly as if the process had died, and
 * their channel reconnects with backoff.
 */
export async function listenWithoutGoaway(
  server: grpc.Server,
  creds: grpc.ServerCredentials,
  host: string,
  port: number,
  calls: CallCount,
): Promise<{ port: number; close(): Promise<void> }> {
  const injector = server.createConnectionInjector(creds);
  const streams = openStreams(server);
  const sockets = new Set<Socket>();
  const listener = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => {/* the session reports it; a reset peer is not our error */});
    injector.injectConnection(socket);
  });
  const bound = await new Promise<number>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen({ host: host.replace(/^\[|\]$/g, ""), port }, () => {
      listener.off("error", reject);
      const addr = listener.address();
      resolve(typeof addr === "object" && addr ? addr.port : port);
    });
  });
  let closing: Promise<void> | null = null;
  const close = async () => {
    calls.closing = true;
    // Stops accepting; its callback comes once every connection has closed.
    const stopped = new Promise<void>((resolve) => listener.close(() => resolve()));
    const deadline = Date.now() + SHUTDOWN_GRACE_MS;
    await calls.idle(SHUTDOWN_GRACE_MS);
    // A reply's trailers follow a 'wantTrailers' event: cut only once every
    // HTTP/2 stream has closed, so the last call's status reached its socket.
    await streams.idle(Math.max(0, deadline - Date.now()));
    for (const s of sockets) s.destroy();
    await stopped;
    // Only now: the sessions are gone with their sockets, so this frees
    // grpc-js's bookkeeping without a GOAWAY reaching anyone.
    server.forceShutdown();
  };
  return { port: bound, close: () => (closing ??= close()) };
}

/**
 * The HTTP/2 streams open on the servers grpc-js made for `server` (its
 * private `http2Servers` map, grpc-js 1.14); with a grpc-js that has no such
 * map, it counts nothing and `idle` resolves at once.
 */
function openStreams(server: grpc.Server): { idle(ms: number): Promise<void> } {
  let open = 0;
  let waiters: (() => void)[] = [];
  const internals = server as unknown as { http2Servers?: Map<http2.Http2Server, unknown> };
  for (const h2 of internals.http2Servers?.keys() ?? []) {
    h2.on("stream", (stream: http2.ServerHttp2Stream) => {
      open++;
      stream.once("close", () => {
        if (--open === 0) { for (const f of waiters.splice(0)) f(); }
      });
    });
  }
  return {
    idle(ms) {
      if (open === 0) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((f) => f !== done);
          resolve();
        }, ms);
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        waiters.push(done);
      });
    },
  };
}
