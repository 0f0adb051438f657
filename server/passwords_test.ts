import assert from "node:assert/strict";
import { randomBytes, scryptSync } from "node:crypto";
import {
  ARGON2_PARAMS,
  type Argon2Params,
  hashPassword,
  needsRehash,
  verifyPassword,
} from "./passwords.ts";

const CHEAP: Argon2Params = { memoryCost: 64, timeCost: 1, parallelism: 1, outputLen: 32 };

/** A hash in the format Parley stored before Argon2id, made here the way passwords.ts made it. */
function scryptHash(password: string, N = 2 ** 10): string {
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize("NFC"), salt, 32, { N, r: 8, p: 1 });
  return ["scrypt", N, 8, 1, salt.toString("base64"), key.toString("base64")].join("$");
}

Deno.test("hashPassword() makes Argon2id PHC strings with OWASP's parameters (19 MiB, t=2, p=1)", async () => {
  assert.deepEqual(
    { ...ARGON2_PARAMS },
    { memoryCost: 19456, timeCost: 2, parallelism: 1, outputLen: 32 },
  );
  const encoded = await hashPassword("correct horse battery staple");
  assert.match(
    encoded,
    /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/,
  );
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

Deno.test("verifyPassword() reads the parameters from the hash and normalizes to NFC", async () => {
  const encoded = await hashPassword("pässwörd", { params: CHEAP });
  assert.match(encoded, /m=64,t=1,p=1/);
  assert.equal(await verifyPassword("pässwörd", encoded), true);
  // The same text with combining accents (NFD) is the same password.
  assert.equal(await verifyPassword("pa\u0308sswo\u0308rd", encoded), true);
  assert.equal(await verifyPassword("passwort", encoded), false);
  assert.equal(await verifyPassword("", encoded), false);
});

Deno.test("verifyPassword() still accepts the scrypt hashes made before Argon2id", async () => {
  const old = scryptHash("pa\u0308sswort");
  assert.equal(await verifyPassword("pässwort", old), true);
  assert.equal(await verifyPassword("passwort", old), false);
  // ...and asks for a fresh hash at the next login.
  assert.equal(needsRehash(old), true);
});

Deno.test("verifyPassword() treats a malformed or hostile hash as a mismatch", async () => {
  const good = await hashPassword("pw-12345678", { params: CHEAP });
  const old = scryptHash("pw-12345678").split("$");
  const bad = [
    "",
    "plain text",
    good.replace("argon2id", "argon2i"),
    good.replace("m=64", "m=999999999"), // absurd memory
    good.replace("t=1", "t=500"), // absurd time
    good.replace(/\$[^$]+$/, "$AAAA"), // hash too short
    good + "$extra",
    "bcrypt$10$8$1$" + old[4] + "$" + old[5],
    ["scrypt", "1000", ...old.slice(2)].join("$"), // N not a power of two
    ["scrypt", String(2 ** 30), ...old.slice(2)].join("$"), // N absurdly large
    ["scrypt", "1024", "8", "1", "", old[5]].join("$"), // no salt
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
  assert.equal(needsRehash(cheap, { params: { ...CHEAP, timeCost: 2 } }), true);
  assert.equal(needsRehash(cheap, { params: { ...CHEAP, outputLen: 64 } }), true);
});

Deno.test("hashPassword() runs off the event loop, so timers keep firing while it works", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 2);
  const started = performance.now();
  try {
    await Promise.all(Array.from({ length: 6 }, (_, i) => hashPassword(`password-${i}`)));
  } finally {
    clearInterval(timer);
  }
  const ms = performance.now() - started;
  // Six production hashes take tens of ms; a blocked loop would tick about once.
  assert.ok(ticks >= Math.min(5, ms / 10), `only ${ticks} timer ticks in ${Math.round(ms)} ms`);
});
