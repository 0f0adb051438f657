/**
 * The gate's HTTP application as a plain `(Request) => Response` (Hono's
 * `app.fetch`), so that it can be tested with `app.request()` and no
 * socket. Around the routes of accounts.ts, profile.ts and chat_node.ts it
 * adds what every request gets: CORS for web clients, the body size limit,
 * one log line and metrics per request, JSON errors for everything (404,
 * 405, 413, 415, 500), and the cheap /healthz and /metrics endpoints.
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { AppError, isAppError } from "../../proto/errors.ts";
import {
  errorBody,
  errorResponse,
  type GateEnv,
  MAX_BODY_BYTES,
  type Services,
} from "./request.ts";
import { accountRoutes } from "./accounts.ts";
import { profileRoutes } from "./profile.ts";
import { CHAT_NODE_PATH, chatNodeRoutes } from "./chat_node.ts";
import { nameRoutes } from "./names.ts";

/** Every route and its methods, for 405 answers and as the metrics' route label. */
export const ROUTES: Record<string, string[]> = {
  "/api/v1/codes": ["POST"],
  "/api/v1/register": ["POST"],
  "/api/v1/login": ["POST"],
  "/api/v1/logout": ["POST"],
  "/api/v1/password/reset": ["POST"],
  "/api/v1/password/change": ["POST"],
  "/api/v1/me": ["GET", "PATCH"],
  [CHAT_NODE_PATH]: ["POST"],
  "/healthz": ["GET"],
  "/metrics": ["GET"],
};

export function createApp(s: Services): Hono<GateEnv> {
  const app = new Hono<GateEnv>();

  app.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    const ms = performance.now() - started;
    // Unknown paths share one label, so a scanner cannot blow up the series count.
    const route = c.req.path in ROUTES ? c.req.path : "other";
    const status = c.res.status;
    s.metrics.requests.inc({ method: c.req.method, route, status: String(status) });
    s.metrics.duration.observe({ method: c.req.method, route }, ms / 1000);
    s.log.debug("request", {
      method: c.req.method,
      path: c.req.path,
      status,
      ms: Math.round(ms * 10) / 10,
    });
  });

  app.use(
    "*",
    cors({
      origin: "*",
      allowMethods: ["GET", "POST", "PATCH", "OPTIONS"],
      allowHeaders: ["Content-Type", "Authorization"],
      exposeHeaders: ["Retry-After"],
      maxAge: 600,
    }),
  );

  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        errorResponse(
          c,
          new AppError("body_too_large", `the body must be at most ${MAX_BODY_BYTES} bytes`, 413),
        ),
    }),
  );

  app.get("/healthz", (c) => c.json({ ok: true, roles: s.config.roles }));
  app.get("/metrics", async (c) => {
    const text = await s.metrics.registry.text();
    return c.body(text, 200, { "Content-Type": s.metrics.registry.contentType });
  });
  accountRoutes(app, s);
  profileRoutes(app, s);
  chatNodeRoutes(app, s);
  nameRoutes(app, s);

  app.notFound((c) => {
    const allowed = ROUTES[c.req.path];
    if (allowed) {
      c.header("Allow", [...allowed, "OPTIONS"].join(", "));
      return c.json(
        errorBody("method_not_allowed", `${c.req.path} accepts ${allowed.join(", ")}`),
        405,
      );
    }
    return c.json(errorBody("not_found", `no such endpoint: ${c.req.method} ${c.req.path}`), 404);
  });

  app.onError((e, c) => {
    if (isAppError(e)) {
      if (e.status >= 500) s.log.warn("request failed", { path: c.req.path, code: e.code });
      return errorResponse(c, e);
    }
    if (e instanceof HTTPException && e.status < 500) {
      return errorResponse(c, new AppError("bad_request", e.message || "bad request", e.status));
    }
    s.log.error("request crashed", { method: c.req.method, path: c.req.path, error: e });
    return errorResponse(c, new AppError("internal", "internal error", 500));
  });

  return app;
}
