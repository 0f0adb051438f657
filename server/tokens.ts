/**
 * Session tokens: JWTs (HS256, jose) signed by the gate and verified by the
 * chat nodes, with a per-token id so that logout can revoke one token and a
 * password reset every token of a user (see engine/revocation.ts).
 */
import { errors, jwtVerify, SignJWT } from "jose";
import { AppError } from "../proto/errors.ts";
import type { Engine } from "./engine/types.ts";
import { isRevoked } from "./engine/revocation.ts";

const ISSUER = "parley";
const AUDIENCE = "parley-chat";

export interface TokenClaims {
  userId: number;
  /** Unique id of this token, for revocation. */
  jti: string;
  issuedAtMs: number;
  expiresAtMs: number;
}

export async function signToken(
  secret: Uint8Array,
  userId: number,
  ttlS: number,
): Promise<{ token: string; claims: TokenClaims }> {
  const now = Date.now();
  const iat = Math.floor(now / 1000);
  const jti = crypto.randomUUID();
  const token = await new SignJWT({ iat_ms: now })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(String(userId))
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setJti(jti)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlS)
    .sign(secret);
  // iat has second precision; revocation needs to order a token against a
  // password reset in the same second, hence the iat_ms claim.
  return { token, claims: { userId, jti, issuedAtMs: now, expiresAtMs: (iat + ttlS) * 1000 } };
}

/** Checks signature, expiry and revocation; AppError token_invalid / token_expired / token_revoked. */
export async function verifyToken(
  secret: Uint8Array,
  engine: Engine,
  token: string,
): Promise<TokenClaims> {
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
    throw new AppError("token_invalid", "the session token is not valid", 401);
  }
  const userId = Number(payload.sub);
  if (
    !Number.isSafeInteger(userId) || userId <= 0 || !payload.jti || !payload.iat || !payload.exp
  ) {
    throw new AppError("token_invalid", "the session token is not valid", 401);
  }
  const claims: TokenClaims = {
    userId,
    jti: payload.jti,
    issuedAtMs: typeof payload.iat_ms === "number" ? payload.iat_ms : payload.iat * 1000,
    expiresAtMs: payload.exp * 1000,
  };
  if (await isRevoked(engine, claims)) {
    throw new AppError("token_revoked", "the session token was revoked; log in again", 401);
  }
  return claims;
}
