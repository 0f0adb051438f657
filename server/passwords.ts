/**
 * Password hashing for user accounts: Argon2id (OWASP's first choice, at
 * its parameters m = 19 MiB, t = 2, p = 1) through npm:@node-rs/argon2, a
 * native addon whose async calls run on libuv's thread pool, not on the
 * event loop. A hash is the standard PHC string
 * `$argon2id$v=19$m=19456,t=2,p=1$salt$hash`, so the parameters can be
 * raised later.
 *
 * Hashes made before Argon2id (`scrypt$N$r$p$salt_b64$hash_b64`, scrypt at
 * N=2^17 from node:crypto) still verify; `needsRehash()` is true for them,
 * and the gate stores a fresh Argon2id hash at the user's next login.
 */
import { hash as argon2Hash, verify as argon2Verify } from "@node-rs/argon2";
import { scrypt, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";

export interface Argon2Params {
  /** Memory in KiB (`m=`). */
  memoryCost: number;
  /** Passes over the memory (`t=`). */
  timeCost: number;
  /** Lanes (`p=`). */
  parallelism: number;
  /** Bytes of output. */
  outputLen: number;
}

/** OWASP's first recommendation for Argon2id: 19 MiB, 2 passes, 1 lane. */
export const ARGON2_PARAMS: Readonly<Argon2Params> = Object.freeze({
  memoryCost: 19 * 1024,
  timeCost: 2,
  parallelism: 1,
  outputLen: 32,
});

export interface HashOptions {
  /** Cheaper parameters for tests; servers always use ARGON2_PARAMS. */
  params?: Argon2Params;
}

/** @node-rs/argon2's `Algorithm.Argon2id` (a const enum, which cannot be imported at run time). */
const ARGON2ID = 2;

// NFC: the same password typed on two systems that compose accents
// differently must give the same hash.
const normal = (password: string) => password.normalize("NFC");

/** Hashes `password` with a fresh random salt into an Argon2id PHC string. */
export async function hashPassword(password: string, options: HashOptions = {}): Promise<string> {
  const p = options.params ?? ARGON2_PARAMS;
  return await argon2Hash(normal(password), { ...p, algorithm: ARGON2ID });
}

interface Argon2Decoded {
  kind: "argon2id";
  params: Argon2Params;
}

const PHC =
  /^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,2})\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{22,})$/;

function decodeArgon2(encoded: string): Argon2Decoded | null {
  const m = PHC.exec(encoded);
  if (!m) return null;
  const [memoryCost, timeCost, parallelism] = [m[1], m[2], m[3]].map(Number);
  // Bounds keep a corrupted row from asking for gigabytes or minutes.
  if (memoryCost < 8 * parallelism || memoryCost > 1024 * 1024) return null;
  if (timeCost < 1 || timeCost > 20 || parallelism < 1 || parallelism > 16) return null;
  const outputLen = Buffer.from(m[5], "base64").length;
  return { kind: "argon2id", params: { memoryCost, timeCost, parallelism, outputLen } };
}

// --- scrypt: verified, never made any more ---

interface ScryptDecoded {
  kind: "scrypt";
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function decodeScrypt(encoded: string): ScryptDecoded | null {
  const parts = encoded.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return null;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4], "base64");
  const hash = Buffer.from(parts[5], "base64");
  const powerOfTwo = Number.isSafeInteger(N) && N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N > 2 ** 20 || !(r >= 1 && r <= 32) || !(p >= 1 && p <= 16)) return null;
  if (!Number.isInteger(r) || !Number.isInteger(p)) return null;
  if (salt.length < 8 || hash.length < 16) return null;
  return { kind: "scrypt", N, r, p, salt, hash };
}

function scryptVerify(password: string, d: ScryptDecoded): Promise<boolean> {
  // scrypt needs 128·N·r·p bytes; node's default ceiling (32 MiB) is below N=2^17.
  const maxmem = 128 * d.N * d.r * (d.p + 1) + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(
      normal(password),
      d.salt,
      d.hash.length,
      { N: d.N, r: d.r, p: d.p, maxmem },
      (err, key) => err ? reject(err) : resolve(timingSafeEqual(key, d.hash)),
    );
  });
}

/**
 * True if `password` matches `encoded` (Argon2id, or a legacy scrypt hash).
 * A malformed hash is a mismatch, not an error; the comparison takes the
 * same time wherever the bytes differ.
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  if (decodeArgon2(encoded)) {
    try {
      return await argon2Verify(encoded, normal(password));
    } catch {
      return false;
    }
  }
  const legacy = decodeScrypt(encoded);
  return legacy ? await scryptVerify(password, legacy) : false;
}

/**
 * True unless `encoded` is Argon2id with exactly `params` (the production
 * ones by default): legacy scrypt hashes, older parameters and malformed
 * strings all want a fresh hash.
 */
export function needsRehash(encoded: string, options: HashOptions = {}): boolean {
  const want = options.params ?? ARGON2_PARAMS;
  const d = decodeArgon2(encoded);
  if (!d) return true;
  const p = d.params;
  return p.memoryCost !== want.memoryCost || p.timeCost !== want.timeCost ||
    p.parallelism !== want.parallelism || p.outputLen !== want.outputLen;
}
