/**
 * The signed-in user's own account: GET /api/v1/me and PATCH /api/v1/me
 * (display name, bio, and whether an exact e-mail search finds them;
 * e-mail, name and password change elsewhere or not at all).
 */
import type { Hono } from "hono";
import { AppError } from "../../proto/errors.ts";
import { ProfilePatch } from "../../proto/http.ts";
import { type GateEnv, parseBody, requireAuth, selfUser, type Services } from "./request.ts";

export function profileRoutes(app: Hono<GateEnv>, s: Services): void {
  const auth = requireAuth(s);

  app.get("/api/v1/me", auth, async (c) => {
    const user = await (await s.store()).userById(c.get("claims").userId);
    if (!user) throw gone();
    return c.json({ user: selfUser(user) });
  });

  app.patch("/api/v1/me", auth, async (c) => {
    const body = await parseBody(c, ProfilePatch);
    const store = await s.store();
    const userId = c.get("claims").userId;
    const patch = {
      displayName: body.display_name,
      bio: body.bio,
      findableByEmail: body.findable_by_email,
    };
    const user = Object.values(patch).every((v) => v === undefined)
      ? await store.userById(userId)
      : await store.updateProfile(userId, patch);
    if (!user) throw gone();
    return c.json({ user: selfUser(user) });
  });
}

/** A valid token for a user that no longer exists. */
function gone(): AppError {
  return new AppError("token_invalid", "the session token is not valid", 401);
}
