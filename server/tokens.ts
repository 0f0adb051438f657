/**
 * Session tokens: JWTs (HS256, jose) signed by the gate and verified by the
 * gate and the chat nodes. Whether a token still holds is durable state in
 * the store, never in the engine, so it survives the loss of Redis:
 *
 * - `ae` is the user's auth epoch, read together with the password hash at
 *   login. A password change or reset bumps the epoch in the statement that
 *   stores the new hash, so every token signed before it is refused, even
 *   one whose login read the old hash and was signed after the change.
 * - `jti` names the token; logout records it in `revoked_tokens`.
 *
 * The engine keeps only a label: why a user's sessions were ended (see
 * noteEndReason()), for the `kicked` event of a chat node that finds out
 * at its own re-check (chat/auth_watch.ts).
 */
import { errors, jwtVerify, SignJWT } from "jose";
import { AppError } from "../proto/errors.ts";
import type { Engine } from "./engine/types.ts";
import type { AuthStates, Store } from "./store/types.ts";

const ISSUER = "parley";
const AUDIENCE = "parley-chat";

export interface TokenClaims {
  userId: number;
  /** Unique id of this token, for logout. */
  jti: string;
  /** The user's auth epoch when the token was signed (`ae`; 0 when absent). */
  authEpoch: number;
  issuedAtMs: number;
  expiresAtMs: number;
}

/**
 * Signs a token for `userId` valid for `ttlS` seconds. `authEpoch` must be
 * the epoch read in the same statement as the password hash that was checked.
 */
export async function signToken(
  secret: Uint8Array,
  userId: number,
  ttlS: number,
  options: { authEpoch?: number } = {},
): Promise<{ token: string; claims: TokenClaims }> {
  const now = Date.now();
  const iat = Math.floor(now / 1000);
  const jti = crypto.randomUUID();
  const authEpoch = options.authEpoch ?? 0;
  const token = await new SignJWT({ ae: authEpoch })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(String(userId))
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setJti(jti)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlS)
    .sign(secret);
  return {
    token,
    claims: { userId, jti, authEpoch, issuedAtMs: now, expiresAtMs: (iat + ttlS) * 1000 },
  };
}

const invalid = () => new AppError("token_invalid", "the session token is not valid", 401);

/** Checks signature, expiry and shape only (not whether it was ended); AppError token_invalid / token_expired. */
export async function readToken(secret: Uint8Array, token: string): Promise<TokenClaims> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, secret, {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ["HS256"],
    }));
  } catch (e) {
    if (e instanceof errors.JWTExpired) {
      throw new AppError("token_expired", "the session token has expired; log in again", 401);
    }
    throw invalid();
  }
  const userId = Number(payload.sub);
  const ae = payload.ae === undefined ? 0 : payload.ae;
  if (
    !Number.isSafeInteger(userId) || userId <= 0 || !payload.jti || !payload.iat ||
    !payload.exp || typeof ae !== "number" || !Number.isSafeInteger(ae) || ae < 0
  ) {
    throw invalid();
  }
  return {
    userId,
    jti: payload.jti,
    authEpoch: ae,
    issuedAtMs: typeof payload.iat_ms === "number" ? payload.iat_ms : payload.iat * 1000,
    expiresAtMs: payload.exp * 1000,
  };
}

/** Why a token that reads well no longer holds, given the store's auth states; null if it holds. */
export function tokenEnded(
  claims: Pick<TokenClaims, "userId" | "jti" | "authEpoch">,
  states: AuthStates,
): "revoked" | "epoch" | "no_user" | null {
  const epoch = states.epochs.get(claims.userId);
  if (epoch === undefined) return "no_user";
  if (epoch !== claims.authEpoch) return "epoch";
  if (states.revoked.has(claims.jti)) return "revoked";
  return null;
}

/**
 * Checks signature, expiry, the user's auth epoch and logout, the last two
 * read from the store; AppError token_invalid / token_expired /
 * token_revoked. A store outage rejects with the store's error, never with
 * a token code: the token may be fine.
 */
export async function verifyToken(
  secret: Uint8Array,
  store: Pick<Store, "authStates">,
  token: string,
): Promise<TokenClaims> {
  return await checkClaims(store, await readToken(secret, token));
}

/**
 * The store's half of verifyToken(), for claims readToken() accepted (so a
 * forged or expired token never costs a database read): AppError
 * token_revoked if the epoch moved or the token was logged out,
 * token_invalid if the user is gone.
 */
export async function checkClaims(
  store: Pick<Store, "authStates">,
  claims: TokenClaims,
): Promise<TokenClaims> {
  const ended = tokenEnded(claims, await store.authStates([claims.userId], [claims.jti]));
  if (ended === "no_user") {
    throw new AppError("token_invalid", "this account no longer exists", 401);
  }
  if (ended !== null) {
    throw new AppError(
      "token_revoked",
      "the session token was revoked (logged out, or the password changed); log in again",
      401,
    );
  }
  return claims;
}

/** The `kicked` reasons of sessions ended by their token. */
export const END_REASONS = {
  loggedOut: "logged out",
  passwordChanged: "password changed",
  passwordReset: "password reset",
} as const;

/** How long the label of an ended epoch is kept: well beyond a chat node's re-check period. */
const END_REASON_TTL_MS = 15 * 60_000;
const endReasonKey = (userId: number) => `auth:end_reason:${userId}`;

/**
 * Notes why `userId`'s sessions are about to end (before the epoch moves),
 * so that a chat node that finds the moved epoch itself says the same as the
 * gate's kick would. Only a label: losing it (Redis restarted) makes the node
 * say "password changed", and ends nothing less.
 */
export async function noteEndReason(engine: Engine, userId: number, reason: string): Promise<void> {
  await engine.set(endReasonKey(userId), reason, { ttlMs: END_REASON_TTL_MS });
}

/** The labels noteEndReason() left for `userIds` (those it has), by user. */
export async function endReasons(engine: Engine, userIds: number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (userIds.length === 0) return out;
  const values = await engine.mget(userIds.map(endReasonKey));
  userIds.forEach((id, i) => {
    const v = values[i];
    if (v !== null) out.set(id, v);
  });
  return out;
}
