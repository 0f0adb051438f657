import assert from "node:assert/strict";
import { AppError } from "../../proto/errors.ts";
import { openEngine } from "../engine/mod.ts";
import { silentLogger } from "../log.ts";
import { Decoys } from "./decoy.ts";

const expired = () =>
  new AppError("code_expired", "this code has expired or was already used; request a new one", 400);

Deno.test("Decoys.send() answers like SendCode and keeps its one-per-minute rule", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    const d = new Decoys(engine);
    const before = Date.now();
    const reply = await d.send("ann@example.com", "register");
    assert.equal(reply.resend_after_s, 60);
    assert.ok(
      reply.expires_at_ms >= before + 600_000 && reply.expires_at_ms <= Date.now() + 600_000,
    );
    const e = await d.send("ann@example.com", "register").catch((e) => e);
    assert.ok(e instanceof AppError);
    assert.equal(e.code, "rate_limited");
    assert.equal(e.status, 429);
    assert.ok(e.retryAfterS! > 55 && e.retryAfterS! <= 60);
    // Purposes and addresses are separate.
    await d.send("ann@example.com", "reset_password");
    await d.send("bob@example.com", "register");
  } finally {
    await engine.close();
  }
});

Deno.test("Decoys learns the reply's times and the delay from real SendCode calls", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    const d = new Decoys(engine);
    const t0 = Date.now() - 40;
    d.observe({ expires_at_ms: t0 + 300_000, resend_after_s: 30 }, t0);
    const started = Date.now();
    const reply = await d.send("ann@example.com", "register");
    const took = Date.now() - started;
    assert.equal(reply.resend_after_s, 30);
    assert.ok(Math.abs(reply.expires_at_ms - (started + 300_000)) < 50);
    // About as long as the observed call (40 ms, give or take a quarter).
    assert.ok(took >= 25 && took < 200, `took ${took} ms`);
  } finally {
    await engine.close();
  }
});

Deno.test("Decoys.check() counts guesses at a decoy reset code like verify counts real ones", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    const d = new Decoys(engine);
    // No decoy pending: verify's own answer stands.
    assert.equal((await d.check("ann@example.com", expired())).code, "code_expired");
    await d.send("ann@example.com", "reset_password");
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await d.check("ann@example.com", expired()));
    assert.deepEqual(answers.map((a) => [a.code, a.status]), [
      ["code_invalid", 400],
      ["code_invalid", 400],
      ["code_invalid", 400],
      ["code_invalid", 400],
      ["code_attempts_exceeded", 429],
      ["code_attempts_exceeded", 429],
    ]);
    assert.equal(answers[0].message, "wrong code; 4 tries left");
    assert.equal(answers[3].message, "wrong code; 1 try left");
    assert.ok(answers[4].retryAfterS! > 0 && answers[4].retryAfterS! <= 60);
    // A malformed code is answered by verify and costs no try.
    const malformed = new AppError("code_invalid", "the code is the 6 digits from the e-mail", 400);
    assert.equal(await d.check("ann@example.com", malformed), malformed);
    // A decoy register code is never pending for a reset.
    await d.send("bob@example.com", "register");
    assert.equal((await d.check("bob@example.com", expired())).code, "code_expired");
  } finally {
    await engine.close();
  }
});
