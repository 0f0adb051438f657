import assert from "node:assert/strict";
import { AppError } from "../../proto/errors.ts";
import { openEngine } from "../engine/mod.ts";
import { silentLogger } from "../log.ts";
import { limitCodeRequest, LIMITS, LoginFailures } from "./limits.ts";

const rateLimited = (e: unknown) => e instanceof AppError && e.code === "rate_limited";

Deno.test("LoginFailures blocks an account after 10 failures for the rest of 15 minutes", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    const f = new LoginFailures(engine);
    const account = LoginFailures.account({ id: 7 }, "ann");
    for (let i = 0; i < 10; i++) {
      await f.check(account, "10.0.0.1");
      await f.fail(account, "10.0.0.1");
    }
    const e = await f.check(account, "10.0.0.2").catch((e) => e);
    assert.ok(rateLimited(e), String(e));
    assert.equal(e.status, 429);
    assert.ok(e.retryAfterS > 890 && e.retryAfterS <= 900, String(e.retryAfterS));
    // Another account from the same address is not blocked.
    await f.check(LoginFailures.account({ id: 8 }, "bob"), "10.0.0.1");
    // A success clears the account's count.
    await f.clear(account);
    await f.check(account, "10.0.0.1");
  } finally {
    await engine.close();
  }
});

Deno.test("LoginFailures blocks an address that fails on many accounts", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    const f = new LoginFailures(engine, {
      ...LIMITS,
      loginFailuresPerIp: { limit: 3, windowMs: 60_000 },
    });
    for (const name of ["a1", "a2", "a3"]) {
      await f.fail(LoginFailures.account(null, name), "10.0.0.9");
    }
    await assert.rejects(f.check(LoginFailures.account(null, "a4"), "10.0.0.9"), rateLimited);
    await f.check(LoginFailures.account(null, "a4"), "10.0.0.10");
  } finally {
    await engine.close();
  }
});

Deno.test("LoginFailures.account() counts an unknown login by its text, case-insensitively", () => {
  assert.equal(LoginFailures.account(null, "Ann@Example.com"), "login:ann@example.com");
  assert.equal(LoginFailures.account({ id: 3 }, "Ann@Example.com"), "uid:3");
});

Deno.test("limitCodeRequest() allows 20 code requests per address per hour", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    for (let i = 0; i < 20; i++) await limitCodeRequest(engine, "10.1.1.1", `u${i}@example.com`);
    const e = await limitCodeRequest(engine, "10.1.1.1", "x@example.com").catch((e) => e);
    assert.ok(rateLimited(e));
    assert.ok(e.retryAfterS > 3500 && e.retryAfterS <= 3600);
    await limitCodeRequest(engine, "10.1.1.2", "x@example.com");
  } finally {
    await engine.close();
  }
});

Deno.test("limitCodeRequest() allows 10 code requests per e-mail per day, from any address", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    for (let i = 0; i < 10; i++) await limitCodeRequest(engine, `10.2.0.${i}`, "ann@example.com");
    await assert.rejects(limitCodeRequest(engine, "10.2.1.1", "ann@example.com"), rateLimited);
    await limitCodeRequest(engine, "10.2.1.1", "bob@example.com");
  } finally {
    await engine.close();
  }
});
