import assert from "node:assert/strict";
import { AppError } from "../../proto/errors.ts";
import { type Engine, openEngine } from "../engine/mod.ts";
import { silentLogger } from "../log.ts";
import { eventually } from "../../testing/mod.ts";
import {
  admitChatNode,
  admitCodeRequest,
  admitReset,
  failureDelayMs,
  FREE_FAILURES,
  LIMITS,
  LoginLimits,
  sourceOf,
} from "./limits.ts";

const rateLimited = (e: unknown) => e instanceof AppError && e.code === "rate_limited";

async function withEngine(fn: (engine: Engine) => Promise<void>) {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    await fn(engine);
  } finally {
    await engine.close();
  }
}

async function refusal(p: Promise<unknown>): Promise<AppError> {
  const e = await p.then(() => null, (e) => e);
  assert.ok(rateLimited(e), `expected rate_limited, got ${e}`);
  return e as AppError;
}

Deno.test("sourceOf() counts an IPv4 address as itself and an IPv6 one by its /64", () => {
  assert.equal(sourceOf("192.0.2.7"), "192.0.2.7");
  assert.equal(sourceOf("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(sourceOf("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  assert.equal(sourceOf("2001:db8:1:2::9"), "2001:db8:1:2::/64");
  assert.equal(sourceOf("2001:0DB8:0001:0002:ffff::1"), "2001:db8:1:2::/64");
  assert.equal(sourceOf("2001:db8::1"), "2001:db8:0:0::/64");
  assert.equal(sourceOf("::1"), "0:0:0:0::/64");
  assert.equal(sourceOf("unknown"), "unknown");
});

Deno.test("failureDelayMs() is free for typos, then doubles from 1 s up to 15 minutes", () => {
  const calm = [1, 2, 3, 4, 5, 6, 7, 20].map((n) => failureDelayMs(n, n));
  assert.deepEqual(calm, [0, 0, 0, 1000, 2000, 4000, 8000, 900_000]);
  assert.equal(FREE_FAILURES, 3);
  // A login that many sources fail on: no free tries, a minute at least, doubling.
  const hot = LIMITS.loginFailuresPerAccount.limit;
  assert.deepEqual([1, 2, 3, 10].map((n) => failureDelayMs(n, hot)), [
    60_000,
    120_000,
    240_000,
    900_000,
  ]);
});

Deno.test("LoginLimits slows the failing source down and never refuses one that has not failed", async () => {
  await withEngine(async (engine) => {
    const guard = new LoginLimits(engine);
    const bob = LoginLimits.account("bob");
    for (let i = 0; i < FREE_FAILURES; i++) {
      await guard.admit(bob, "127.0.0.2");
      await guard.fail(bob, "127.0.0.2");
    }
    await guard.admit(bob, "127.0.0.2");
    await guard.fail(bob, "127.0.0.2");
    // The fourth failure costs the attacker a second, and only the attacker.
    const wait = await refusal(guard.admit(bob, "127.0.0.2"));
    assert.equal(wait.status, 429);
    assert.equal(wait.retryAfterS, 1);
    await guard.admit(bob, "127.0.0.3");
    // Once the second has passed the attacker may try again: slowed, not locked.
    await eventually(() => guard.admit(bob, "127.0.0.2").then(() => true, () => false), {
      intervalMs: 200,
    });
  });
});

Deno.test("LoginLimits lets a burst of parallel guesses through no faster than one by one", async () => {
  await withEngine(async (engine) => {
    const guard = new LoginLimits(engine);
    const bob = LoginLimits.account("bob");
    const burst = await Promise.all(
      Array.from({ length: 30 }, () => guard.admit(bob, "127.0.0.2").then(() => true, () => false)),
    );
    assert.equal(burst.filter(Boolean).length, FREE_FAILURES + 1);
    await guard.admit(bob, "127.0.0.3");
  });
});

Deno.test("LoginLimits: a login failed from many sources slows each failing source, not a clean one", async () => {
  await withEngine(async (engine) => {
    const guard = new LoginLimits(engine);
    const bob = LoginLimits.account("bob");
    const limit = LIMITS.loginFailuresPerAccount.limit;
    for (let i = 0; i < limit; i++) {
      await guard.admit(bob, `10.9.0.${i}`);
      await guard.fail(bob, `10.9.0.${i}`);
    }
    // The next failing source waits after its first failure...
    await guard.admit(bob, "10.9.1.1");
    await guard.fail(bob, "10.9.1.1");
    const wait = await refusal(guard.admit(bob, "10.9.1.1"));
    assert.ok(wait.retryAfterS! > 55 && wait.retryAfterS! <= 60, String(wait.retryAfterS));
    // ...while the owner's own network is let in.
    await guard.admit(bob, "10.9.2.1");
    // A success forgets that source's failures; the attacker's stay.
    await guard.succeed(bob, "10.9.1.1", 42);
    await guard.admit(bob, "10.9.1.1");
  });
});

Deno.test("LoginLimits counts a login as typed, so a name and its e-mail share nothing", async () => {
  assert.equal(LoginLimits.account(" Ann@Example.com "), "login:ann@example.com");
  await withEngine(async (engine) => {
    const guard = new LoginLimits(engine);
    for (let i = 0; i <= FREE_FAILURES; i++) {
      await guard.admit(LoginLimits.account("ann"), "10.0.0.1");
      await guard.fail(LoginLimits.account("ann"), "10.0.0.1");
    }
    await refusal(guard.admit(LoginLimits.account("ANN"), "10.0.0.1"));
    // The e-mail (known or not, the gate cannot say) is untouched by the name's failures.
    await guard.admit(LoginLimits.account("ann@example.com"), "10.0.0.1");
  });
});

Deno.test("LoginLimits refuses a source that fails on many logins, and caps tries per minute", async () => {
  await withEngine(async (engine) => {
    const guard = new LoginLimits(engine, {
      ...LIMITS,
      loginFailuresPerIp: { limit: 3, windowMs: 60_000 },
      loginsPerIp: { limit: 5, windowMs: 60_000 },
      loginsPerAccount: { limit: 2, windowMs: 60_000 },
    });
    for (const name of ["a1", "a2", "a3"]) await guard.fail(LoginLimits.account(name), "10.0.0.9");
    const spray = await refusal(guard.admit(LoginLimits.account("a4"), "10.0.0.9"));
    assert.match(spray.message, /failed logins from this address/);
    await guard.admit(LoginLimits.account("a4"), "10.0.0.10");
    // Every try counts against the source, success or not.
    for (let i = 0; i < 4; i++) await guard.admit(LoginLimits.account("a5"), "10.0.0.10");
    const flood = await refusal(guard.admit(LoginLimits.account("a5"), "10.0.0.10"));
    assert.match(flood.message, /logins from this address/);
    // Successful logins per account are capped too.
    await guard.succeed(LoginLimits.account("a6"), "10.0.0.11", 6);
    await guard.succeed(LoginLimits.account("a6"), "10.0.0.12", 6);
    await refusal(guard.succeed(LoginLimits.account("a6"), "10.0.0.13", 6));
  });
});

Deno.test("admitCodeRequest(): a flood from one source cannot use up the address's quota", async () => {
  await withEngine(async (engine) => {
    const victim = "victim@example.com";
    await admitCodeRequest(engine, "127.0.0.2", victim, "reset_password");
    // Ten more within the second: refused by the per-minute rule, counted nowhere.
    for (let i = 0; i < 10; i++) {
      const e = await refusal(admitCodeRequest(engine, "127.0.0.2", victim, "reset_password"));
      assert.match(e.message, /^a code was sent to this address recently; try again in \d+ s$/);
    }
    // The owner, from another network, is let through at once.
    await admitCodeRequest(engine, "127.0.0.3", victim, "reset_password");
  });
});

Deno.test("admitCodeRequest(): one source gets a small daily share of an address's quota", async () => {
  await withEngine(async (engine) => {
    const victim = "victim@example.com";
    const passMinute = (src: string) =>
      engine.del(`gate:code_block:reset_password:${victim}|${src}`);
    const perPair = LIMITS.codesPerEmailPerIp.limit;
    assert.ok(perPair < LIMITS.codesPerEmail.limit);
    for (let i = 0; i < perPair; i++) {
      await admitCodeRequest(engine, "127.0.0.2", victim, "reset_password");
      await passMinute("127.0.0.2");
    }
    const e = await refusal(admitCodeRequest(engine, "127.0.0.2", victim, "reset_password"));
    assert.match(e.message, /for this e-mail from this address/);
    assert.ok(e.retryAfterS! > 86_000);
    // Refused requests did not count against the address: the owner gets the rest.
    for (let i = 0; i < LIMITS.codesPerEmail.limit - perPair; i++) {
      await admitCodeRequest(engine, `127.0.1.${i}`, victim, "reset_password");
    }
    const full = await refusal(admitCodeRequest(engine, "127.0.2.1", victim, "reset_password"));
    assert.match(full.message, /code requests for this e-mail;/);
  });
});

Deno.test("admitCodeRequest() caps code requests per source per hour", async () => {
  await withEngine(async (engine) => {
    for (let i = 0; i < LIMITS.codesPerIp.limit; i++) {
      await admitCodeRequest(engine, "10.1.1.1", `u${i}@example.com`, "register");
    }
    const e = await refusal(admitCodeRequest(engine, "10.1.1.1", "x@example.com", "register"));
    assert.ok(e.retryAfterS! > 3500 && e.retryAfterS! <= 3600);
    await admitCodeRequest(engine, "10.1.1.2", "x@example.com", "register");
  });
});

Deno.test("admitReset() and admitChatNode() cap resets per source and lookups per user", async () => {
  await withEngine(async (engine) => {
    const limits = {
      ...LIMITS,
      resetsPerIp: { limit: 2, windowMs: 60_000 },
      chatNodePerUser: { limit: 2, windowMs: 60_000 },
    };
    await admitReset(engine, "10.0.0.1", limits);
    await admitReset(engine, "10.0.0.1", limits);
    await refusal(admitReset(engine, "10.0.0.1", limits));
    await admitReset(engine, "10.0.0.2", limits);
    await admitChatNode(engine, 7, limits);
    await admitChatNode(engine, 7, limits);
    await refusal(admitChatNode(engine, 7, limits));
    await admitChatNode(engine, 8, limits);
  });
});

Deno.test("admitCodeRequest(): a code that could not be sent does not hold the next try back", async () => {
  await withEngine(async (engine) => {
    const owner = "owner@example.com";
    const first = await admitCodeRequest(engine, "127.0.0.2", owner, "register");
    // Verify or the mail server was down: the gate releases the minute's block.
    await first.release();
    await admitCodeRequest(engine, "127.0.0.2", owner, "register");
    // And it counts against no quota: 30 failed sends leave a source its 20 an hour.
    let grant = await admitCodeRequest(engine, "127.0.0.9", "a@example.com", "register");
    for (let i = 0; i < 30; i++) {
      await grant.release();
      await grant.release(); // once is all it gives back
      grant = await admitCodeRequest(engine, "127.0.0.9", "a@example.com", "register");
    }
    for (let i = 0; i < 19; i++) {
      await admitCodeRequest(engine, "127.0.0.9", `b${i}@example.com`, "register");
    }
    const spent = await refusal(admitCodeRequest(engine, "127.0.0.9", "c@example.com", "register"));
    assert.match(spent.message, /from this address/);
    const e = await refusal(admitCodeRequest(engine, "127.0.0.2", owner, "register"));
    assert.match(e.message, /sent to this address recently/);
  });
});
