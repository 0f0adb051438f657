import assert from "node:assert/strict";
import {
  hashPassword,
  needsRehash,
  SCRYPT_PARAMS,
  type ScryptParams,
  verifyPassword,
} from "./passwords.ts";

const CHEAP: ScryptParams = { N: 2 ** 10, r: 8, p: 1, saltBytes: 16, keyBytes: 32 };

Deno.test("hashPassword() uses OWASP's scrypt parameters and a self-describing format", async () => {
  assert.deepEqual(
    { N: SCRYPT_PARAMS.N, r: SCRYPT_PARAMS.r, p: SCRYPT_PARAMS.p },
    { N: 131072, r: 8, p: 1 },
  );
  const encoded = await hashPassword("correct horse battery staple");
  const parts = encoded.split("$");
  assert.equal(parts.length, 6);
  assert.deepEqual(parts.slice(0, 4), ["scrypt", "131072", "8", "1"]);
  assert.equal(atob(parts[4]).length, 16);
  assert.equal(atob(parts[5]).length, 32);
  assert.equal(await verifyPassword("correct horse battery staple", encoded), true);
  assert.equal(await verifyPassword("correct horse battery stapler", encoded), false);
  assert.equal(needsRehash(encoded), false);
});

Deno.test("hashPassword() salts every hash, so equal passwords give different strings", async () => {
  const a = await hashPassword("same password", { params: CHEAP });
  const b = await hashPassword("same password", { params: CHEAP });
  assert.notEqual(a, b);
  assert.equal(await verifyPassword("same password", a), true);
  assert.equal(await verifyPassword("same password", b), true);
});

Deno.test("verifyPassword() reads the parameters from the hash, not from the defaults", async () => {
  const encoded = await hashPassword("pässwörd", { params: CHEAP });
  assert.ok(encoded.startsWith("scrypt$1024$8$1$"));
  assert.equal(await verifyPassword("pässwörd", encoded), true);
  // The same text in decomposed form (a + combining diaeresis) is the same password.
  assert.equal(await verifyPassword("pa\u0308sswo\u0308rd", encoded), true);
  assert.equal(await verifyPassword("passwort", encoded), false);
  assert.equal(await verifyPassword("", encoded), false);
});

Deno.test("verifyPassword() treats a malformed or hostile hash as a mismatch", async () => {
  const good = await hashPassword("pw-12345678", { params: CHEAP });
  const parts = good.split("$");
  const bad = [
    "",
    "plain text",
    "bcrypt$10$8$1$" + parts[4] + "$" + parts[5],
    ["scrypt", "1000", ...parts.slice(2)].join("$"), // N not a power of two
    ["scrypt", String(2 ** 30), ...parts.slice(2)].join("$"), // N absurdly large
    ["scrypt", "1024", "8", "1", "", parts[5]].join("$"), // no salt
    ["scrypt", "1024", "8", "1", parts[4], "AAAA"].join("$"), // hash too short
    good + "$extra",
  ];
  for (const encoded of bad) {
    assert.equal(await verifyPassword("pw-12345678", encoded), false, encoded);
    assert.equal(needsRehash(encoded), true, encoded);
  }
});

Deno.test("needsRehash() flags hashes made with other parameters than the current ones", async () => {
  const cheap = await hashPassword("pw-12345678", { params: CHEAP });
  assert.equal(needsRehash(cheap), true);
  assert.equal(needsRehash(cheap, { params: CHEAP }), false);
  assert.equal(needsRehash(cheap, { params: { ...CHEAP, keyBytes: 64 } }), true);
});

Deno.test("hashPassword() runs off the event loop, so timers keep firing while it works", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    await Promise.all([hashPassword("a-password"), hashPassword("b-password")]);
  } finally {
    clearInterval(timer);
  }
  // Two production hashes take a few hundred ms; a blocked loop would tick about once.
  assert.ok(ticks >= 5, `only ${ticks} timer ticks while hashing`);
});
