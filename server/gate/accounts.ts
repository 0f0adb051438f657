/**
 * The account endpoints: verification codes, register, login, logout,
 * password reset and change. Each handler validates its body (the schemas
 * of proto/http.ts), applies its rate limits (limits.ts), and answers so
 * that nobody can learn from the answer whether an e-mail address has an
 * account (decoy.ts): a taken e-mail at register is told only to whoever
 * holds a valid code for it. A taken name is told at once (names are
 * public, and a taken name must not burn the user's code).
 */
import type { Hono } from "hono";
import { AppError, isAppError } from "../../proto/errors.ts";
import { ConflictError, type User } from "../store/types.ts";
import { revokeToken, revokeUserTokens } from "../engine/mod.ts";
import type { SendCodeReply } from "../../proto/services.ts";
import {
  ChangePasswordRequest,
  CodeRequest,
  LoginRequest,
  RegisterRequest,
  ResetPasswordRequest,
} from "../../proto/http.ts";
import { signToken } from "../tokens.ts";
import { hashPassword, needsRehash, verifyPassword } from "../passwords.ts";
import {
  clientIp,
  type GateContext,
  type GateEnv,
  parseBody,
  requireAuth,
  selfUser,
  type Services,
} from "./request.ts";
import { admitCodeRequest, admitReset, LoginLimits } from "./limits.ts";
import { pickNode } from "./chat_node.ts";
import { ageFromBlock, Decoys, pendingReply } from "./decoy.ts";

const invalidCredentials = () =>
  new AppError("invalid_credentials", "wrong login or password", 401);

export function accountRoutes(app: Hono<GateEnv>, s: Services): void {
  const auth = requireAuth(s);
  const limits = s.config.gate.limits;
  let decoys: Decoys | null = null;
  const getDecoys = async () => decoys ??= new Decoys(await s.engine());
  const ip = (c: GateContext) => clientIp(c, s.config.gate.trustProxy);
  // An unknown login is checked against this hash of a password nobody
  // kept (Argon2id, production parameters), so it takes as long as a known
  // one; made now, so that not even the first unknown login pays for it.
  const dummy = hashPassword(crypto.randomUUID());
  dummy.catch((error) => s.log.error("cannot make the dummy password hash", { error }));

  /** A code check with no real code behind it: answered as verify would, from a decoy. */
  const checkDecoy = async (check: CodeCheck) => {
    try {
      await s.verify.CheckCode(check);
    } catch (e) {
      if (isAppError(e)) return await (await getDecoys()).check(check.email, check.purpose, e);
      throw e;
    }
    return null;
  };

  app.post("/api/v1/codes", async (c) => {
    const body = await parseBody(c, CodeRequest);
    const [store, engine] = await Promise.all([s.store(), s.engine()]);
    const admitted = await admitCodeRequest(engine, ip(c), body.email, body.purpose, limits);
    let reply;
    try {
      const user = await store.userByEmail(body.email);
      const real = body.purpose === "register" ? user === null : user !== null;
      const decoy = await getDecoys();
      reply = real ? await sendCode(s, decoy, body) : await decoy.send(body.email, body.purpose);
    } catch (e) {
      await admitted.release();
      throw e;
    }
    s.metrics.codes.inc({ purpose: body.purpose });
    return c.json({ expires_at: reply.expires_at_ms, resend_after_s: reply.resend_after_s }, 202);
  });

  app.post("/api/v1/register", async (c) => {
    const body = await parseBody(c, RegisterRequest);
    const store = await s.store();
    if (await store.userByName(body.name)) throw nameTaken();
    const check: CodeCheck = { email: body.email, purpose: "register", code: body.code };
    if (await store.userByEmail(body.email)) {
      // Answered like a free address with a wrong code, unless the code is
      // right: then the caller reads this address's mail and may know.
      throw await checkDecoy(check) ?? emailTaken();
    }
    await s.verify.CheckCode(check);
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
    return c.json({ user: selfUser(user) }, 201);
  });

  app.post("/api/v1/login", async (c) => {
    const body = await parseBody(c, LoginRequest);
    const [store, engine] = await Promise.all([s.store(), s.engine()]);
    const guard = new LoginLimits(engine, limits);
    const account = LoginLimits.account(body.login);
    try {
      await guard.admit(account, ip(c));
    } catch (e) {
      if (isAppError(e) && e.code === "rate_limited") {
        s.metrics.logins.inc({ result: "rate_limited" });
      }
      throw e;
    }
    const found = await store.userForLogin(body.login);
    const ok = found
      ? await verifyPassword(body.password, found.passwordHash)
      : (await verifyPassword(body.password, await dummy), false);
    if (!found || !ok) {
      await guard.fail(account, ip(c));
      s.metrics.logins.inc({ result: "failed" });
      throw invalidCredentials();
    }
    try {
      await guard.succeed(account, ip(c), found.user.id);
    } catch (e) {
      if (isAppError(e) && e.code === "rate_limited") {
        s.metrics.logins.inc({ result: "rate_limited" });
      }
      throw e;
    }
    const node = await pickNode(s);
    const { token, claims } = await signToken(
      s.config.jwtSecret,
      found.user.id,
      s.config.tokenTtlS,
    );
    if (needsRehash(found.passwordHash)) {
      // An older KDF or parameters (scrypt before Argon2id); the password is at hand now.
      await store.setPasswordHash(found.user.id, await hashPassword(body.password));
    }
    s.metrics.logins.inc({ result: "ok" });
    return c.json({
      token,
      expires_at: claims.expiresAtMs,
      user: selfUser(found.user),
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
    await admitReset(engine, ip(c), limits);
    const user = await store.userByEmail(body.email);
    const check: CodeCheck = { email: body.email, purpose: "reset_password", code: body.code };
    if (!user) {
      // No account: answer as verify would for a wrong or expired code.
      throw await checkDecoy(check) ?? codeExpired();
    }
    await s.verify.CheckCode(check);
    await store.setPasswordHash(user.id, await hashPassword(body.new_password));
    await revokeUserTokens(engine, user.id, Date.now(), s.config.tokenTtlS * 1000);
    // The owner's failed guesses from here (the reason for a reset) are forgiven.
    const guard = new LoginLimits(engine, limits);
    for (const login of [user.name, user.email]) {
      await guard.forget(LoginLimits.account(login), ip(c));
    }
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
    // passwords are slowed down like failed logins.
    const guard = new LoginLimits(engine, limits);
    const account = `uid:${user.id}`;
    await guard.admit(account, ip(c));
    if (!await verifyPassword(body.old_password, found.passwordHash)) {
      await guard.fail(account, ip(c));
      throw new AppError("wrong_password", "the current password is wrong", 403);
    }
    await guard.forget(account, ip(c));
    await store.setPasswordHash(user.id, await hashPassword(body.new_password));
    // Every session ends, this one included: whoever knew the old password
    // is out, and the client logs in again with the new one.
    await revokeUserTokens(engine, user.id, Date.now(), s.config.tokenTtlS * 1000);
    await endLiveSession(s, user.id, "password changed");
    s.log.info("password changed", { userId: user.id });
    return c.body(null, 204);
  });
}

type CodeCheck = { email: string; purpose: "register" | "reset_password"; code: string };

/**
 * A real code: verify mails it. Within verify's minute for this address
 * (a code was sent from another client just now), no second code is made:
 * the reply names the pending one, which is in the owner's mailbox.
 */
async function sendCode(
  s: Services,
  decoy: Decoys,
  body: { email: string; purpose: "register" | "reset_password" },
): Promise<SendCodeReply> {
  const started = Date.now();
  try {
    const reply = await s.verify.SendCode({ email: body.email, purpose: body.purpose });
    decoy.observe(started);
    return reply;
  } catch (e) {
    if (!isAppError(e) || e.code !== "code_rate_limited") throw e;
    return pendingReply(ageFromBlock((e.retryAfterS ?? 0) * 1000), started);
  }
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

function codeExpired(): AppError {
  return new AppError(
    "code_expired",
    "this code has expired or was already used; request a new one",
    400,
  );
}
