/**
 * What every gate handler works with: the Hono environment type, the
 * services a handler may use, reading and validating a JSON body against a
 * schema of proto/http.ts, the client's IP, Bearer-token authentication,
 * the user as replies show it, and turning an error into the JSON error
 * reply `{"error": {"code", "message"}}`.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { z } from "zod";
import { AppError } from "../../proto/errors.ts";
import type { ResolvedConfig } from "../config.ts";
import type { Engine } from "../engine/types.ts";
import type { Logger } from "../log.ts";
import type { Store, User } from "../store/types.ts";
import type { SelfUser } from "../../proto/http.ts";
import { checkClaims, readToken, type TokenClaims } from "../tokens.ts";
import type { StatusMethods, VerifyMethods } from "../../proto/services.ts";
import type { GateMetrics } from "./telemetry.ts";

/** What the gate's handlers work with; app.ts gets it from mod.ts (or a test). */
export interface Services {
  config: Pick<ResolvedConfig, "roles" | "jwtSecret" | "tokenTtlS" | "gate" | "adminToken">;
  log: Logger;
  store(): Promise<Store>;
  engine(): Promise<Engine>;
  verify: Pick<VerifyMethods, "SendCode" | "CheckCode">;
  status: Pick<StatusMethods, "PickNode" | "Kick">;
  metrics: GateMetrics;
}

/** The connection's peer, which mod.ts passes as Hono's `c.env`; absent in app.request() tests. */
export interface ConnInfo {
  remoteAddr?: { hostname?: string };
}

export interface GateEnv {
  Bindings: ConnInfo;
  Variables: { claims: TokenClaims };
}

export type GateContext = Context<GateEnv>;

/** Bodies are small JSON objects; anything bigger is refused before it is read in full. */
export const MAX_BODY_BYTES = 16 * 1024;

/** The JSON error body every failure gets. */
export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/** The reply for an AppError, with Retry-After when it says when to retry. */
export function errorResponse(c: Context, e: AppError): Response {
  if (e.retryAfterS !== undefined && e.retryAfterS > 0) {
    c.header("Retry-After", String(Math.ceil(e.retryAfterS)));
  }
  if (e.status === 401) c.header("WWW-Authenticate", 'Bearer realm="parley"');
  // deno-lint-ignore no-explicit-any
  return c.json(errorBody(e.code, e.message), e.status as any);
}

function isJsonType(header: string | undefined): boolean {
  if (!header) return false;
  const type = header.split(";")[0].trim().toLowerCase();
  return type === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

const ORDER: Record<string, number> = { unrecognized_keys: 0, invalid_type: 1 };

function describe(issue: z.core.$ZodIssue): AppError {
  const path = issue.path.join(".");
  if (issue.code === "unrecognized_keys") {
    const names = issue.keys.map((k) => `"${k}"`).join(", ");
    const s = issue.keys.length === 1 ? "" : "s";
    return new AppError("invalid_request", `unknown field${s} ${names}`, 400);
  }
  if (issue.code === "invalid_type" && path === "") {
    return new AppError("invalid_request", `the body must be a JSON ${issue.expected}`, 400);
  }
  const code = issue.code === "custom" && typeof issue.params?.code === "string"
    ? issue.params.code
    : "invalid_request";
  const message = issue.code === "invalid_type" && issue.message.startsWith("Invalid input")
    ? `must be a ${issue.expected}`
    : issue.message;
  return new AppError(code, `${path}: ${message}`, 400);
}

/**
 * Reads the request body as JSON and validates it: 415 unsupported_media_type
 * unless it is sent as JSON, 400 invalid_json if it does not parse, and
 * 400 invalid_request (or the field's own code) naming the first bad field.
 * The size limit is enforced before, by the bodyLimit middleware.
 */
export async function parseBody<S extends z.ZodType>(
  c: GateContext,
  schema: S,
): Promise<z.output<S>> {
  if (!isJsonType(c.req.header("content-type"))) {
    throw new AppError("unsupported_media_type", "send the body as application/json", 415);
  }
  let data: unknown;
  try {
    data = JSON.parse(await c.req.text());
  } catch {
    throw new AppError("invalid_json", "the body is not valid JSON", 400);
  }
  const parsed = schema.safeParse(data, {
    error: (issue) => issue.input === undefined ? "is required" : undefined,
  });
  if (parsed.success) return parsed.data;
  const first =
    [...parsed.error.issues].sort((a, b) => (ORDER[a.code] ?? 2) - (ORDER[b.code] ?? 2))[0];
  throw describe(first);
}

/**
 * The client's IP: the connection's peer, or, behind a trusted proxy, the
 * last X-Forwarded-For entry (the one the proxy itself appended; the ones
 * before it are whatever the client sent).
 */
export function clientIp(c: GateContext, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header("x-forwarded-for");
    const last = forwarded?.split(",").map((s) => s.trim()).filter(Boolean).pop();
    if (last) return last;
  }
  return c.env?.remoteAddr?.hostname ?? "unknown";
}

/**
 * Requires `Authorization: Bearer <token>` with a valid, unexpired token
 * that is still good by the store (its auth epoch current, not logged out)
 * and puts its claims in `c.var.claims`. 401 unauthorized without one;
 * token_invalid / token_expired / token_revoked otherwise.
 */
export function requireAuth(s: Services): MiddlewareHandler<GateEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
    if (!m) {
      throw new AppError("unauthorized", "send Authorization: Bearer <token> from /login", 401);
    }
    // Signature and expiry first: a forged or expired token costs no database read.
    const claims = await readToken(s.config.jwtSecret, m[1]);
    c.set("claims", await checkClaims(await s.store(), claims));
    await next();
  };
}

/** A user as the gate's replies show them (the chat protocol's SelfUser); times are Unix ms. */
export function selfUser(u: User): SelfUser {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    display_name: u.displayName,
    bio: u.bio,
    created_at: u.createdAt,
    findable_by_email: u.findableByEmail,
  };
}
