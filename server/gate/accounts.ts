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
import { ConflictError, type Store, type User } from "../store/types.ts";
import type { SendCodeReply } from "../../proto/services.ts";
import type { Engine } from "../engine/types.ts";
import {
  ChangePasswordRequest,
  CodeRequest,
  LoginRequest,
  RegisterRequest,
  ResetPasswordRequest,
} from "../../proto/http.ts";
import { END_REASONS, noteEndReason, signToken } from "../tokens.ts";
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

/** What the account handlers share: the services and the state made once per gate. */
interface Accounts {
  s: Services;
  limits: Services["config"]["gate"]["limits"];
  decoys(): Promise<Decoys>;
  ip(c: GateContext): string;
  /**
   * An unknown login is checked against this hash of a password nobody
   * kept (Argon2id, production parameters), so it takes as long as a known
   * one; made at start, so that not even the first unknown login pays for it.
   */
  dummy: Promise<string>;
  pruneRevoked(store: Store): void;
  /** A code check with no real code behind it: answered as verify would, from a decoy. */
  checkDecoy(check: CodeCheck): Promise<AppError | null>;
}

export function accountRoutes(app: Hono<GateEnv>, s: Services): void {
  const auth = requireAuth(s);
  const a = accounts(s);
  app.post("/api/v1/codes", (c) => sendCodeRoute(a, c));
  app.post("/api/v1/register", (c) => register(a, c));
  app.post("/api/v1/login", (c) => login(a, c));
  app.post("/api/v1/logout", auth, (c) => logout(a, c));
  app.post("/api/v1/password/reset", (c) => resetPassword(a, c));
  app.post("/api/v1/password/change", auth, (c) => changePassword(a, c));
}

function accounts(s: Services): Accounts {
  let decoys: Decoys | null = null;
  const getDecoys = async () => decoys ??= new Decoys(await s.engine());
  const dummy = hashPassword(crypto.randomUUID());
  dummy.catch((error) => s.log.error("cannot make the dummy password hash", { error }));
  return {
    s,
    limits: s.config.gate.limits,
    decoys: getDecoys,
    ip: (c) => clientIp(c, s.config.gate.trustProxy),
    dummy,
    pruneRevoked: revokedTokenPruner(s),
    checkDecoy: async (check) => {
      try {
        await s.verify.CheckCode(check);
      } catch (e) {
        if (isAppError(e)) return await (await getDecoys()).check(check.email, check.purpose, e);
        throw e;
      }
      return null;
    },
  };
}

async function sendCodeRoute({ s, limits, decoys, ip }: Accounts, c: GateContext) {
  const body = await parseBody(c, CodeRequest);
  const [store, engine] = await Promise.all([s.store(), s.engine()]);
  const admitted = await admitCodeRequest(engine, ip(c), body.email, body.purpose, limits);
  let reply;
  try {
    const user = await store.userByEmail(body.email);
    const real = body.purpose === "register" ? user === null : user !== null;
    const decoy = await decoys();
    reply = real ? await sendCode(s, decoy, body) : await decoy.send(body.email, body.purpose);
  } catch (e) {
    await admitted.release();
    throw e;
  }
  s.metrics.codes.inc({ purpose: body.purpose });
  return c.json({ expires_at: reply.expires_at_ms, resend_after_s: reply.resend_after_s }, 202);
}

async function register({ s, checkDecoy }: Accounts, c: GateContext) {
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
}

async function login({ s, limits, ip, dummy, pruneRevoked }: Accounts, c: GateContext) {
  const body = await parseBody(c, LoginRequest);
  const [store, engine] = await Promise.all([s.store(), s.engine()]);
  const guard = new LoginLimits(engine, limits);
  const account = LoginLimits.account(body.login);
  const counted = async (step: Promise<void>) => {
    try {
      await step;
    } catch (e) {
      if (isAppError(e) && e.code === "rate_limited") {
        s.metrics.logins.inc({ result: "rate_limited" });
      }
      throw e;
    }
  };
  await counted(guard.admit(account, ip(c)));
  const found = await store.userForLogin(body.login);
  const ok = found
    ? await verifyPassword(body.password, found.passwordHash)
    : (await verifyPassword(body.password, await dummy), false);
  if (!found || !ok) {
    await guard.fail(account, ip(c));
    s.metrics.logins.inc({ result: "failed" });
    throw invalidCredentials();
  }
  await counted(guard.succeed(account, ip(c), found.user.id));
  const node = await pickNode(s);
  // The epoch read with the hash that was checked: should the password
  // change after that read, the change moved the epoch and this token is
  // refused everywhere, even though it is signed after the change.
  const { token, claims } = await signToken(
    s.config.jwtSecret,
    found.user.id,
    s.config.tokenTtlS,
    { authEpoch: found.authEpoch },
  );
  if (needsRehash(found.passwordHash)) await rehash(s, store, found, body.password);
  pruneRevoked(store);
  s.metrics.logins.inc({ result: "ok" });
  return c.json({
    token,
    expires_at: claims.expiresAtMs,
    user: selfUser(found.user),
    chat_url: node.ws_url,
  });
}

async function logout({ s, pruneRevoked }: Accounts, c: GateContext) {
  const claims = c.get("claims");
  const store = await s.store();
  await store.revokeToken(claims.jti, claims.userId, claims.expiresAtMs);
  await endLiveSession(s, claims.userId, END_REASONS.loggedOut, claims.jti);
  pruneRevoked(store);
  return c.body(null, 204);
}

async function resetPassword({ s, limits, ip, checkDecoy }: Accounts, c: GateContext) {
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
  const hash = await hashPassword(body.new_password);
  await noteReason(s, engine, user.id, END_REASONS.passwordReset);
  await store.setPasswordHash(user.id, hash, { endSessions: true });
  // The owner's failed guesses from here (the reason for a reset) are forgiven.
  const guard = new LoginLimits(engine, limits);
  for (const login of [user.name, user.email]) {
    await guard.forget(LoginLimits.account(login), ip(c));
  }
  await endLiveSession(s, user.id, END_REASONS.passwordReset);
  s.log.info("password reset", { userId: user.id });
  return c.body(null, 204);
}

async function changePassword({ s, limits, ip }: Accounts, c: GateContext) {
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
  const hash = await hashPassword(body.new_password);
  // Every session ends, this one included: whoever knew the old password
  // is out, and the client logs in again with the new one.
  await noteReason(s, engine, user.id, END_REASONS.passwordChanged);
  await store.setPasswordHash(user.id, hash, { endSessions: true });
  await endLiveSession(s, user.id, END_REASONS.passwordChanged);
  s.log.info("password changed", { userId: user.id });
  return c.body(null, 204);
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
 * Ends the live sessions of a token just revoked, at once: the status role
 * kicks them wherever they are (the user gets `kicked` with `reason`). With
 * `tokenId` (logout) only sessions opened with that token end; without it
 * (password reset or change) every session of the user. The revocation is
 * already in the store, and every chat node re-checks its sessions against
 * the store at its sweeps (chat/auth_watch.ts), so a failed kick only
 * delays the end: it is logged, not returned.
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

/**
 * Labels the end of the user's sessions for a chat node that finds the new
 * epoch itself (tokens.ts). Only a label, so an engine failure is logged:
 * the node then says "password changed".
 */
async function noteReason(s: Services, engine: Engine, userId: number, reason: string) {
  await noteEndReason(engine, userId, reason).catch((error) =>
    s.log.warn("could not note why the sessions end", { userId, reason, error })
  );
}

/**
 * Stores the password again under the current KDF (an older one, scrypt
 * before Argon2id, was checked). Only if the epoch read with the checked
 * hash still holds: every password change moves it, and a rehash of the
 * old password must never undo a change that landed since the read.
 */
async function rehash(
  s: Services,
  store: Store,
  found: { user: User; authEpoch: number },
  password: string,
): Promise<void> {
  const epoch = await store.setPasswordHash(found.user.id, await hashPassword(password), {
    ifEpoch: found.authEpoch,
  });
  if (epoch !== found.authEpoch) {
    s.log.info("rehash skipped: the password changed meanwhile", { userId: found.user.id });
  }
}

/** How often a gate forgets revocations of tokens that have expired anyway. */
const PRUNE_EVERY_MS = 60 * 60_000;

/**
 * Forgets expired revocations at most once an hour per gate, in the
 * background of a login or logout (a revocation outliving its token
 * refuses nothing more).
 */
function revokedTokenPruner(s: Services): (store: Store) => void {
  let next = 0;
  return (store) => {
    const now = Date.now();
    if (now < next) return;
    next = now + PRUNE_EVERY_MS;
    store.pruneRevokedTokens(now).then(
      (n) => n > 0 && s.log.info("forgot expired token revocations", { count: n }),
      (error) => {
        next = now + 60_000; // try again in a minute
        s.log.warn("could not prune expired token revocations", { error });
      },
    );
  };
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
