/**
 * The account endpoints: verification codes, register, login, logout,
 * password reset and change. Each handler validates its body (schemas.ts),
 * applies its rate limits (limits.ts), and answers so that nobody can learn
 * from the answer whether an e-mail address has an account (decoy.ts),
 * except where the product needs it (a taken e-mail or name at register).
 */
import type { Hono } from "hono";
import { AppError, isAppError } from "../../proto/errors.ts";
import { ConflictError, type User } from "../store/types.ts";
import { revokeToken, revokeUserTokens } from "../engine/mod.ts";
import { signToken } from "../tokens.ts";
import { hashPassword, needsRehash, verifyPassword } from "../passwords.ts";
import { clientIp, type GateEnv, parseBody, requireAuth, type Services } from "./http.ts";
import { limitCodeRequest, LoginFailures } from "./limits.ts";
import { pickNode } from "./chat_node.ts";
import { Decoys } from "./decoy.ts";
import {
  ChangePasswordRequest,
  CodeRequest,
  LoginRequest,
  RegisterRequest,
  ResetPasswordRequest,
  userJson,
} from "./schemas.ts";

const invalidCredentials = () =>
  new AppError("invalid_credentials", "wrong login or password", 401);

/**
 * The hash of a random password nobody kept, with the production
 * parameters: an unknown login is checked against it, so that it takes as
 * long as a known one. Made afresh (once) if the parameters ever change.
 */
const DUMMY_HASH =
  "scrypt$131072$8$1$wyyYadpd7VsnUPd4929uqQ==$lGQ/QuXyIRJ0WOar4BWqJFkqUoQl1dbYwHvt9Mb3A3g=";
let freshDummy: Promise<string> | null = null;
function dummyHash(): Promise<string> {
  if (!needsRehash(DUMMY_HASH)) return Promise.resolve(DUMMY_HASH);
  return freshDummy ??= hashPassword(crypto.randomUUID());
}

/** verify's resend rule, under the gate's one name for every rate limit. */
function asRateLimited(e: unknown): unknown {
  if (isAppError(e) && e.code === "code_rate_limited") {
    return new AppError("rate_limited", e.message, 429, e.retryAfterS);
  }
  return e;
}

export function accountRoutes(app: Hono<GateEnv>, s: Services): void {
  const auth = requireAuth(s);
  let decoys: Decoys | null = null;
  const getDecoys = async () => decoys ??= new Decoys(await s.engine());
  const ip = (c: Parameters<typeof clientIp>[0]) => clientIp(c, s.config.gate.trustProxy);

  app.post("/api/v1/codes", async (c) => {
    const body = await parseBody(c, CodeRequest);
    const [store, engine] = await Promise.all([s.store(), s.engine()]);
    await limitCodeRequest(engine, ip(c), body.email, s.config.gate.limits);
    const user = await store.userByEmail(body.email);
    const real = body.purpose === "register" ? user === null : user !== null;
    const decoy = await getDecoys();
    let reply;
    if (real) {
      const started = Date.now();
      try {
        reply = await s.verify.SendCode({ email: body.email, purpose: body.purpose });
      } catch (e) {
        throw asRateLimited(e);
      }
      decoy.observe(reply, started);
    } else {
      reply = await decoy.send(body.email, body.purpose);
    }
    s.metrics.codes.inc({ purpose: body.purpose });
    return c.json({ expires_at: reply.expires_at_ms, resend_after_s: reply.resend_after_s }, 202);
  });

  app.post("/api/v1/register", async (c) => {
    const body = await parseBody(c, RegisterRequest);
    const store = await s.store();
    // Before the code is checked: a taken name must not burn the user's code.
    if (await store.userByEmail(body.email)) throw emailTaken();
    if (await store.userByName(body.name)) throw nameTaken();
    await s.verify.CheckCode({ email: body.email, purpose: "register", code: body.code });
    const passwordHash = await hashPassword(body.password);
    let user: User;
    try {
      user = await store.createUser({ email: body.email, name: body.name, passwordHash });
    } catch (e) {
      if (e instanceof ConflictError) throw e.field === "email" ? emailTaken() : nameTaken();
      throw e;
    }
    s.metrics.registrations.inc();
    s.log.info("account created", { userId: user.id });
    return c.json({ user: userJson(user) }, 201);
  });

  app.post("/api/v1/login", async (c) => {
    const body = await parseBody(c, LoginRequest);
    const [store, engine] = await Promise.all([s.store(), s.engine()]);
    const failures = new LoginFailures(engine, s.config.gate.limits);
    const found = await store.userForLogin(body.login);
    const account = LoginFailures.account(found?.user ?? null, body.login);
    try {
      await failures.check(account, ip(c));
    } catch (e) {
      s.metrics.logins.inc({ result: "rate_limited" });
      throw e;
    }
    const ok = found
      ? await verifyPassword(body.password, found.passwordHash)
      : (await verifyPassword(body.password, await dummyHash()), false);
    if (!found || !ok) {
      await failures.fail(account, ip(c));
      s.metrics.logins.inc({ result: "failed" });
      throw invalidCredentials();
    }
    await failures.clear(account);
    const node = await pickNode(s);
    const { token, claims } = await signToken(
      s.config.jwtSecret,
      found.user.id,
      s.config.tokenTtlS,
    );
    if (needsRehash(found.passwordHash)) {
      // Parameters were raised since this hash was made; the password is at hand now.
      await store.setPasswordHash(found.user.id, await hashPassword(body.password));
    }
    s.metrics.logins.inc({ result: "ok" });
    return c.json({
      token,
      expires_at: claims.expiresAtMs,
      user: userJson(found.user),
      chat_url: node.ws_url,
    });
  });

  app.post("/api/v1/logout", auth, async (c) => {
    const claims = c.get("claims");
    await revokeToken(await s.engine(), claims.jti, claims.expiresAtMs);
    await endLiveSession(s, claims.userId, "logged out", claims.jti);
    return c.body(null, 204);
  });

  app.post("/api/v1/password/reset", async (c) => {
    const body = await parseBody(c, ResetPasswordRequest);
    const [store, engine] = await Promise.all([s.store(), s.engine()]);
    const user = await store.userByEmail(body.email);
    const check = { email: body.email, purpose: "reset_password" as const, code: body.code };
    if (!user) {
      // No account: answer as verify would for a wrong or expired code.
      try {
        await s.verify.CheckCode(check);
      } catch (e) {
        if (isAppError(e)) throw await (await getDecoys()).check(body.email, e);
        throw e;
      }
      throw new AppError(
        "code_expired",
        "this code has expired or was already used; request a new one",
        400,
      );
    }
    await s.verify.CheckCode(check);
    await store.setPasswordHash(user.id, await hashPassword(body.new_password));
    await revokeUserTokens(engine, user.id, Date.now(), s.config.tokenTtlS * 1000);
    await new LoginFailures(engine, s.config.gate.limits).clear(LoginFailures.account(user, ""));
    await endLiveSession(s, user.id, "password reset");
    s.log.info("password reset", { userId: user.id });
    return c.body(null, 204);
  });

  app.post("/api/v1/password/change", auth, async (c) => {
    const body = await parseBody(c, ChangePasswordRequest);
    const [store, engine] = await Promise.all([s.store(), s.engine()]);
    const claims = c.get("claims");
    const user = await store.userById(claims.userId);
    if (!user) throw new AppError("token_invalid", "the session token is not valid", 401);
    const found = await store.userForLogin(user.name);
    if (!found) throw new AppError("token_invalid", "the session token is not valid", 401);
    // A stolen token must not become a way to guess the password: wrong old
    // passwords count as failed logins of the account.
    const failures = new LoginFailures(engine, s.config.gate.limits);
    const account = LoginFailures.account(user, "");
    await failures.check(account, ip(c));
    if (!await verifyPassword(body.old_password, found.passwordHash)) {
      await failures.fail(account, ip(c));
      throw new AppError("wrong_password", "the current password is wrong", 403);
    }
    await store.setPasswordHash(user.id, await hashPassword(body.new_password));
    // Every session ends, this one included: whoever knew the old password
    // is out, and the client logs in again with the new one.
    await revokeUserTokens(engine, user.id, Date.now(), s.config.tokenTtlS * 1000);
    await endLiveSession(s, user.id, "password changed");
    s.log.info("password changed", { userId: user.id });
    return c.body(null, 204);
  });
}

/**
 * A chat node checks the token only when a session starts, so a revoked
 * token's live session is ended here: the status role kicks it wherever it
 * is (the user gets `kicked` with `reason`). With `tokenId` (logout) only a
 * session opened with that token is ended; without it (password reset or
 * change) whatever session the user has. The revocation already holds, so a
 * failure here is logged, not returned.
 */
async function endLiveSession(
  s: Services,
  userId: number,
  reason: string,
  tokenId = "",
): Promise<void> {
  try {
    // The cluster secret is enough for Kick: the gate never holds the admin token.
    await s.status.Kick({ user: { id: userId, login: "" }, reason, token_id: tokenId }, {
      deadlineMs: 3000,
    });
  } catch (e) {
    s.log.warn("could not end the live session", { userId, reason, error: e });
  }
}

function emailTaken(): AppError {
  return new AppError("email_taken", "an account with this e-mail already exists", 409);
}

function nameTaken(): AppError {
  return new AppError("name_taken", "this name is taken", 409);
}
