/**
 * Token revocation, checked by the chat node at every login (tokens.ts):
 * logout revokes one token by its id; a password reset revokes every token
 * of the user issued up to that moment. Both are keys that live only as
 * long as the tokens they revoke could, so nothing needs cleaning up, and
 * the check reads both keys in one MGET.
 */
import type { Engine } from "./types.ts";

const jtiKey = (jti: string) => `revoked:jti:${jti}`;
const userKey = (userId: number) => `revoked:user:${userId}`;

/** Revokes the token `jti` until it would have expired anyway. */
export async function revokeToken(engine: Engine, jti: string, expiresAtMs: number): Promise<void> {
  const ttlMs = expiresAtMs - Date.now();
  if (ttlMs <= 0) return; // expired: verification already refuses it
  await engine.set(jtiKey(jti), "1", { ttlMs });
}

/**
 * Revokes every token of `userId` issued at or before `beforeMs`. The mark
 * lives until the last such token has expired (`beforeMs + maxTokenTtlMs`,
 * i.e. `maxTokenTtlMs` from now for `beforeMs` = now). A later mark wins
 * over an earlier one; two revocations racing within the same moment may
 * keep either, which differ only by the tokens issued in between.
 */
export async function revokeUserTokens(
  engine: Engine,
  userId: number,
  beforeMs: number,
  maxTokenTtlMs: number,
): Promise<void> {
  const ttlMs = beforeMs + maxTokenTtlMs - Date.now();
  if (ttlMs <= 0) return; // every token issued by then has expired
  const key = userKey(userId);
  const old = Number(await engine.get(key));
  if (old >= beforeMs) return;
  await engine.set(key, String(beforeMs), { ttlMs });
}

/** True if this token was revoked by id or by a user-wide revocation after it was issued. */
export async function isRevoked(
  engine: Engine,
  token: { jti: string; userId: number; issuedAtMs: number },
): Promise<boolean> {
  const [byJti, before] = await engine.mget([jtiKey(token.jti), userKey(token.userId)]);
  if (byJti !== null) return true;
  return before !== null && token.issuedAtMs <= Number(before);
}
