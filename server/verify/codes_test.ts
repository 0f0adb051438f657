import assert from "node:assert/strict";
import { openEngine } from "../engine/mod.ts";
import { AppError } from "../../proto/errors.ts";
import { silentLogger } from "../log.ts";
import {
  checkCode,
  generateCode,
  issueCode,
  MAX_ATTEMPTS,
  normalizeEmail,
  parsePurpose,
} from "./codes.ts";

const isCode = (code: string) => (e: unknown) => e instanceof AppError && e.code === code;

Deno.test("generateCode() returns 6 digits spread evenly over every position", () => {
  const draws = 10_000;
  const counts = Array.from({ length: 6 }, () => new Array(10).fill(0));
  for (let i = 0; i < draws; i++) {
    const code = generateCode();
    assert.match(code, /^\d{6}$/);
    for (let p = 0; p < 6; p++) counts[p][Number(code[p])]++;
  }
  // Each digit is expected 1000 times per position (sd ~30); 800..1200 is
  // more than 6 sd either way, so a correct generator never fails this, while
  // a biased or zero-dropping one (e.g. no leading zeros) does.
  for (let p = 0; p < 6; p++) {
    for (let d = 0; d < 10; d++) {
      assert.ok(
        counts[p][d] > 800 && counts[p][d] < 1200,
        `digit ${d} at position ${p} came up ${counts[p][d]} times in ${draws}`,
      );
    }
  }
});

Deno.test("normalizeEmail() lower-cases and trims, and refuses what is not an address", () => {
  assert.equal(normalizeEmail("  Ann.Lee@Example.COM "), "ann.lee@example.com");
  for (const bad of ["", "ann", "ann@", "@example.com", "a b@example.com", 42, null]) {
    assert.throws(() => normalizeEmail(bad), isCode("invalid_email"), String(bad));
  }
  assert.throws(() => normalizeEmail(`${"a".repeat(250)}@example.com`), isCode("invalid_email"));
});

Deno.test("parsePurpose() knows register and reset_password only", () => {
  assert.equal(parsePurpose("register"), "register");
  assert.equal(parsePurpose("reset_password"), "reset_password");
  for (const bad of ["", "login", "REGISTER", undefined]) {
    assert.throws(() => parsePurpose(bad), isCode("invalid_purpose"));
  }
});

Deno.test("checkCode() lets only one of two concurrent correct checks succeed", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    const { code } = await issueCode(engine, "a@example.com", "register");
    const results = await Promise.allSettled([
      checkCode(engine, "a@example.com", "register", code),
      checkCode(engine, "a@example.com", "register", code),
    ]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assert.ok(isCode("code_expired")(failed.reason));
  } finally {
    await engine.close();
  }
});

Deno.test("checkCode() gives a burst of concurrent guesses no more than five comparisons", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    const { code } = await issueCode(engine, "b@example.com", "register");
    const wrong = code === "000000" ? "000001" : "000000";
    const guesses = await Promise.allSettled(
      Array.from({ length: 20 }, () => checkCode(engine, "b@example.com", "register", wrong)),
    );
    const reasons = guesses.map((g) => (g as PromiseRejectedResult).reason as AppError);
    assert.equal(reasons.filter((r) => r.code === "code_invalid").length, MAX_ATTEMPTS - 1);
    assert.equal(reasons.filter((r) => r.code === "code_attempts_exceeded").length, 16);
    await assert.rejects(
      checkCode(engine, "b@example.com", "register", code),
      isCode("code_attempts_exceeded"),
    );
  } finally {
    await engine.close();
  }
});

Deno.test("issueCode() keeps codes for different purposes apart", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    const reg = await issueCode(engine, "c@example.com", "register");
    const reset = await issueCode(engine, "c@example.com", "reset_password");
    if (reg.code !== reset.code) {
      await assert.rejects(
        checkCode(engine, "c@example.com", "register", reset.code),
        isCode("code_invalid"),
      );
    }
    await checkCode(engine, "c@example.com", "register", reg.code);
    await checkCode(engine, "c@example.com", "reset_password", reset.code);
  } finally {
    await engine.close();
  }
});

Deno.test("a revoked code is gone and a new one may be issued at once", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  try {
    const first = await issueCode(engine, "d@example.com", "register");
    await first.revoke();
    await assert.rejects(
      checkCode(engine, "d@example.com", "register", first.code),
      isCode("code_expired"),
    );
    const second = await issueCode(engine, "d@example.com", "register");
    await checkCode(engine, "d@example.com", "register", second.code);
  } finally {
    await engine.close();
  }
});
