import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { AppError } from "../proto/errors.ts";
import { openEngine } from "./engine/mod.ts";
import { silentLogger } from "./log.ts";
import { openStore } from "./store/mod.ts";
import type { Store } from "./store/types.ts";
import { endReasons, noteEndReason, readToken, signToken, verifyToken } from "./tokens.ts";

const SECRET = new TextEncoder().encode("a-unit-test-secret-0123456789-0123456789");

const isCode = (code: string) => (e: unknown) => e instanceof AppError && e.code === code;

async function withStore(fn: (store: Store, userId: number) => Promise<void>) {
  const store = await openStore("sqlite::memory:", { log: silentLogger });
  try {
    await store.migrate();
    const u = await store.createUser({ email: "t@x.test", name: "t", passwordHash: "h" });
    await fn(store, u.id);
  } finally {
    await store.close();
  }
}

Deno.test("signToken() puts the auth epoch in the token and readToken() reads it back", async () => {
  const { token, claims } = await signToken(SECRET, 5, 60, { authEpoch: 3 });
  const read = await readToken(SECRET, token);
  assert.deepEqual(read, { ...claims, issuedAtMs: read.issuedAtMs });
  assert.equal(read.authEpoch, 3);
  assert.equal((await readToken(SECRET, (await signToken(SECRET, 5, 60)).token)).authEpoch, 0);
});

Deno.test("readToken() takes a token without ae as epoch 0 and refuses a malformed ae", async () => {
  const now = Math.floor(Date.now() / 1000);
  const sign = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject("5")
      .setIssuer("parley").setAudience("parley-chat").setJti("j").setIssuedAt(now)
      .setExpirationTime(now + 60).sign(SECRET);
  assert.equal((await readToken(SECRET, await sign({}))).authEpoch, 0);
  for (const ae of [-1, 1.5, "2", null]) {
    await assert.rejects(readToken(SECRET, await sign({ ae })), isCode("token_invalid"));
  }
});

Deno.test("verifyToken() refuses a token once the user's epoch moved, and a logged-out one", async () => {
  await withStore(async (store, id) => {
    const old = await signToken(SECRET, id, 60, { authEpoch: 0 });
    const other = await signToken(SECRET, id, 60, { authEpoch: 0 });
    assert.equal((await verifyToken(SECRET, store, old.token)).userId, id);

    await store.revokeToken(other.claims.jti, id, other.claims.expiresAtMs);
    await assert.rejects(verifyToken(SECRET, store, other.token), isCode("token_revoked"));
    assert.equal((await verifyToken(SECRET, store, old.token)).jti, old.claims.jti);

    assert.equal(await store.setPasswordHash(id, "h2", { endSessions: true }), 1);
    await assert.rejects(verifyToken(SECRET, store, old.token), isCode("token_revoked"));
    // A token from before that carries a later epoch is as wrong as an earlier one.
    const ahead = await signToken(SECRET, id, 60, { authEpoch: 2 });
    await assert.rejects(verifyToken(SECRET, store, ahead.token), isCode("token_revoked"));
    const fresh = await signToken(SECRET, id, 60, { authEpoch: 1 });
    assert.equal((await verifyToken(SECRET, store, fresh.token)).authEpoch, 1);

    const nobody = await signToken(SECRET, id + 100, 60);
    await assert.rejects(verifyToken(SECRET, store, nobody.token), isCode("token_invalid"));
    const expired = await signToken(SECRET, id, -5, { authEpoch: 1 });
    await assert.rejects(verifyToken(SECRET, store, expired.token), isCode("token_expired"));
  });
});

Deno.test("verifyToken() rejects with the store's own error when the store cannot answer", async () => {
  const { token } = await signToken(SECRET, 5, 60);
  const down = {
    authStates: () => Promise.reject(new AppError("store_unavailable", "down", 503)),
  };
  await assert.rejects(verifyToken(SECRET, down, token), isCode("store_unavailable"));
});

Deno.test("noteEndReason() labels a user's ended sessions; endReasons() reads the labels", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    await noteEndReason(engine, 1, "password reset");
    await noteEndReason(engine, 3, "password changed");
    assert.deepEqual(
      await endReasons(engine, [1, 2, 3]),
      new Map([[1, "password reset"], [3, "password changed"]]),
    );
    assert.deepEqual(await endReasons(engine, []), new Map());
  } finally {
    await engine.close();
  }
});
