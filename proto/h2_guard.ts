/**
 * Keeps Deno's node:http2 from crashing the process when a peer ends an
 * HTTP/2 session: every session grpc-js opens or accepts here closes and
 * destroys itself a macrotask later, never while nghttp2 is processing a
 * frame. Imported for its effect by proto/grpc.ts, before any channel.
 *
 * Why: Deno 2.9 runs node:http2's JavaScript reaction to a received GOAWAY
 * (its own `session.close()`, and grpc-js's listeners, which close the
 * session too) synchronously inside nghttp2's frame callback. Tearing the
 * session down there corrupts nghttp2's stream list, and the frame's own
 * processing, which resumes right after, then aborts the process on the
 * assertion in find_stream_on_goaway_func (exit 134) or segfaults (exit 139):
 * denoland/deno#36788. Measured with a grpc-js client that made 13 calls and
 * then had its session ended by the server: 8 crashes in 12 runs without
 * this guard, 0 in 12 with it (and 0 in 8 each for a GOAWAY and a graceful
 * close). Deferring only the teardown keeps every event and every call
 * result as it was; a session is simply destroyed a few microseconds later.
 */
import http2 from "node:http2";

type Session = http2.Http2Session;

const GUARDED = Symbol("parley.h2Guarded");

/** Makes `close` and `destroy` of one session run on a later macrotask. */
function deferTeardown(session: Session): void {
  const s = session as Session & { [GUARDED]?: true };
  if (s[GUARDED]) return;
  s[GUARDED] = true;
  const close = session.close.bind(session);
  const destroy = session.destroy.bind(session);
  session.close = (callback?: () => void) => {
    setImmediate(() => close(callback));
  };
  session.destroy = (error?: Error, code?: number) => {
    setImmediate(() => destroy(error, code));
  };
}

/** Wraps http2.connect and the server factories once, so every session gets the guard. */
function install(): void {
  const mod = http2 as unknown as Record<string, unknown> & { [GUARDED]?: true };
  if (mod[GUARDED]) return;
  mod[GUARDED] = true;
  const connect = http2.connect;
  mod.connect = (...args: Parameters<typeof http2.connect>) => {
    const session = connect(...args);
    deferTeardown(session);
    return session;
  };
  for (const name of ["createServer", "createSecureServer"] as const) {
    const factory = http2[name] as (...a: unknown[]) => http2.Http2Server;
    mod[name] = (...args: unknown[]) => {
      const server = factory(...args);
      // Before any listener of the caller's (grpc-js adds its own after this returns).
      server.prependListener("session", (session: Session) => deferTeardown(session));
      return server;
    };
  }
}

install();

/** Whether `session` went through the guard (for tests). */
export function isGuarded(session: Session): boolean {
  return (session as Session & { [GUARDED]?: true })[GUARDED] === true;
}
