/**
 * Password hashing for user accounts: scrypt from node:crypto (memory-hard,
 * and async, so the work runs in libuv's thread pool rather than blocking
 * the event loop) with OWASP's parameters. A hash is stored as the
 * self-describing string `scrypt$N$r$p$salt_b64$hash_b64`, so the
 * parameters can be raised later: `needsRehash()` tells the gate to store a
 * fresh hash at the user's next successful login.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
  saltBytes: number;
  keyBytes: number;
}

/** OWASP's recommendation for scrypt (N=2^17, r=8, p=1): about 128 MiB and 0.3 s per hash. */
export const SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({
  N: 2 ** 17,
  r: 8,
  p: 1,
  saltBytes: 16,
  keyBytes: 32,
});

export interface HashOptions {
  /** Cheaper parameters for tests; servers always use SCRYPT_PARAMS. */
  params?: ScryptParams;
}

const PREFIX = "scrypt";

/** scrypt needs 128·N·r·p bytes; node's default ceiling (32 MiB) is below OWASP's N. */
function maxmem(params: Pick<ScryptParams, "N" | "r" | "p">): number {
  return 128 * params.N * params.r * (params.p + 1) + 1024 * 1024;
}

function derive(
  password: string,
  salt: Uint8Array,
  params: Pick<ScryptParams, "N" | "r" | "p">,
  keyBytes: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // NFC: the same password typed on two systems that compose accents
    // differently must give the same hash.
    scrypt(
      password.normalize("NFC"),
      salt,
      keyBytes,
      { N: params.N, r: params.r, p: params.p, maxmem: maxmem(params) },
      (err, key) => err ? reject(err) : resolve(key),
    );
  });
}

/** Hashes `password` with a fresh random salt into `scrypt$N$r$p$salt$hash`. */
export async function hashPassword(password: string, options: HashOptions = {}): Promise<string> {
  const params = options.params ?? SCRYPT_PARAMS;
  const salt = randomBytes(params.saltBytes);
  const key = await derive(password, salt, params, params.keyBytes);
  return [PREFIX, params.N, params.r, params.p, salt.toString("base64"), key.toString("base64")]
    .join("$");
}

interface Decoded {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function decode(encoded: string): Decoded | null {
  const parts = encoded.split("$");
  if (parts.length !== 6 || parts[0] !== PREFIX) return null;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4], "base64");
  const hash = Buffer.from(parts[5], "base64");
  const powerOfTwo = Number.isSafeInteger(N) && N > 1 && (N & (N - 1)) === 0;
  // Bounds keep a corrupted row from asking scrypt for gigabytes.
  if (!powerOfTwo || N > 2 ** 20 || !(r >= 1 && r <= 32) || !(p >= 1 && p <= 16)) return null;
  if (!Number.isInteger(r) || !Number.isInteger(p)) return null;
  if (salt.length < 8 || hash.length < 16) return null;
  return { N, r, p, salt, hash };
}

/**
 * True if `password` matches `encoded`. A malformed hash is a mismatch, not
 * an error; the comparison takes the same time wherever the bytes differ.
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const d = decode(encoded);
  if (!d) return false;
  const key = await derive(password, d.salt, d, d.hash.length);
  return timingSafeEqual(key, d.hash);
}

/** True if `encoded` was made with other parameters than `params` (the production ones by default). */
export function needsRehash(encoded: string, options: HashOptions = {}): boolean {
  const params = options.params ?? SCRYPT_PARAMS;
  const d = decode(encoded);
  if (!d) return true;
  return d.N !== params.N || d.r !== params.r || d.p !== params.p ||
    d.salt.length !== params.saltBytes || d.hash.length !== params.keyBytes;
}
