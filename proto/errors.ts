/**
 * The error every Parley program shares: a stable snake_case `code` that
 * clients may switch on, a human message, and the HTTP status it maps to.
 * Roles throw it; the edges (HTTP handlers, the WebSocket frame loop, the
 * gRPC wrappers in grpc.ts) turn it into a response, and gRPC clients turn
 * a failed call back into one, so a code survives a hop between roles.
 */

export class AppError extends Error {
  override name = "AppError";
  constructor(
    readonly code: string,
    message: string,
    /** HTTP status this error maps to at the gate. */
    readonly status = 400,
    /** Seconds a client should wait before trying again (429, 503). */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** Anything that is not an AppError is a bug or an outage: shown as `internal`. */
export function toAppError(e: unknown): AppError {
  if (e instanceof AppError) return e;
  return new AppError("internal", "internal error", 500);
}
