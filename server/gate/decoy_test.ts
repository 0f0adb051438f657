import assert from "node:assert/strict";
import { AppError } from "../../proto/errors.ts";
import { CODE_RULES } from "../../proto/http.ts";
import { openEngine } from "../engine/mod.ts";
import { silentLogger } from "../log.ts";
import { Decoys } from "./decoy.ts";

const expired = () =>
  new AppError("code_expired", "this code has expired or was already used; request a new one", 400);

Deno.test("Decoys.send() answers like SendCode, and within the minute names the pending code", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    const d = new Decoys(engine);
    const before = Date.now();
    const reply = await d.send("ann@example.com", "register");
    assert.equal(reply.resend_after_s, CODE_RULES.resendAfterS);
    assert.ok(
      reply.expires_at_ms >= before + CODE_RULES.ttlMs &&
        reply.expires_at_ms <= Date.now() + CODE_RULES.ttlMs,
    );
    // Again within the minute: the same pending code (to the second), no new one.
    const again = await d.send("ann@example.com", "register");
    assert.ok(Math.abs(again.expires_at_ms - reply.expires_at_ms) <= 1000, JSON.stringify(again));
    // Purposes and addresses are separate.
    const reset = await d.send("ann@example.com", "reset_password");
    assert.ok(reset.expires_at_ms >= reply.expires_at_ms);
  } finally {
    await engine.close();
  }
});

Deno.test("Decoys takes about as long as the real SendCode calls it observed", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    const d = new Decoys(engine);
    d.observe(Date.now() - 40);
    const started = Date.now();
    await d.send("ann@example.com", "register");
    const took = Date.now() - started;
    // About as long as the observed call (40 ms, give or take a quarter).
    assert.ok(took >= 25 && took < 200, `took ${took} ms`);
  } finally {
    await engine.close();
  }
});

Deno.test("Decoys.check() counts guesses at a decoy code like verify counts real ones", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    const d = new Decoys(engine);
    for (const purpose of ["reset_password", "register"] as const) {
      const email = `ann-${purpose}@example.com`;
      // No decoy pending: verify's own answer stands.
      assert.equal((await d.check(email, purpose, expired())).code, "code_expired");
      await d.send(email, purpose);
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push(await d.check(email, purpose, expired()));
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
      const malformed = new AppError(
        "code_invalid",
        "the code is the 6 digits from the e-mail",
        400,
      );
      assert.equal(await d.check(email, purpose, malformed), malformed);
    }
    // A decoy register code is never pending for a reset.
    await d.send("bob@example.com", "register");
    const bob = await d.check("bob@example.com", "reset_password", expired());
    assert.equal(bob.code, "code_expired");
  } finally {
    await engine.close();
  }
});
