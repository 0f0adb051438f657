/**
 * `GET /api/v1/names/:name`: whether a user name is free, so that a client
 * can say "taken" before a verification code is mailed rather than after
 * it was typed. Names are public anyway (user.search finds them), so this
 * reveals nothing new; it is rate-limited per client IP like the gate's
 * other lookups, with the engine's shared counter.
 */
import type { Hono } from "hono";
import { AppError } from "../../proto/errors.ts";
import { hit } from "../engine/mod.ts";
import { clientIp, type GateEnv, type Services } from "./request.ts";
import { rateLimited } from "./limits.ts";
import { NAME_PATTERN } from "../../proto/http.ts";

export const NAMES_PATH = "/api/v1/names/:name";
/** Lookups per client IP: plenty for people picking a name, little for a crawler. */
export const NAME_LOOKUPS_PER_IP = { limit: 60, windowMs: 60_000 };

export function nameRoutes(app: Hono<GateEnv>, s: Services): void {
  app.get(NAMES_PATH, async (c) => {
    const name = c.req.param("name");
    if (!NAME_PATTERN.test(name)) {
      throw new AppError(
        "invalid_name",
        "a name is 3 to 32 letters, digits, '_', '.' or '-'",
        400,
      );
    }
    const ip = clientIp(c, s.config.gate.trustProxy);
    const counted = await hit(await s.engine(), `gate:names:ip:${ip}`, NAME_LOOKUPS_PER_IP);
    if (!counted.allowed) throw rateLimited(counted.retryAfterMs, "name lookups from this address");
    const user = await (await s.store()).userByName(name);
    return c.json({ available: user === null });
  });
}
