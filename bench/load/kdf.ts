/**
 * The KDF alone: how many password checks per second this machine does
 * with Parley's production Argon2id parameters (server/passwords.ts), with
 * `concurrency` checks in flight, as the gate does them during a login
 * storm. Run as its own process so it gets the same thread pool a gate
 * process has. Prints `{"hashes": N, "ms": M}`.
 *
 * `scrypt` times the KDF Parley used before Argon2id instead (scrypt at
 * OWASP's N=2^17, r=8, p=1, checked through the same verifyPassword as a
 * legacy hash): logins then ran at the rate of that hash, so it is what
 * "five times today's login rate" is measured against on the same machine.
 *
 * Usage: deno run --allow-env --allow-read --allow-ffi bench/load/kdf.ts CONCURRENCY DURATION_MS [argon2id|scrypt]
 * (--allow-ffi: Argon2id is a native addon.)
 */
import { Buffer } from "node:buffer";
import { randomBytes, scryptSync } from "node:crypto";
import { hashPassword, verifyPassword } from "../../server/passwords.ts";

export type Kdf = "argon2id" | "scrypt";

const PASSWORD = "bench-password-0";

/** A legacy scrypt hash of `password`, in the format server/passwords.ts still verifies. */
function scryptHash(password: string): string {
  const [N, r, p] = [2 ** 17, 8, 1];
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, { N, r, p, maxmem: 256 * N * r });
  return ["scrypt", N, r, p, salt.toString("base64"), Buffer.from(hash).toString("base64")]
    .join("$");
}

export async function kdfRate(
  concurrency: number,
  durationMs: number,
  kdf: Kdf = "argon2id",
): Promise<{ hashes: number; ms: number }> {
  const encoded = kdf === "scrypt" ? scryptHash(PASSWORD) : await hashPassword(PASSWORD);
  const start = performance.now();
  const end = start + durationMs;
  let hashes = 0;
  let last = start;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      if (!(await verifyPassword(PASSWORD, encoded))) throw new Error("KDF mismatch");
      const t = performance.now();
      if (t <= end) {
        hashes++;
        last = t;
      }
    }
  }));
  return { hashes, ms: Math.max(1, last - start) };
}

if (import.meta.main) {
  const [c, d] = Deno.args.slice(0, 2).map(Number);
  const kdf: Kdf = Deno.args[2] === "scrypt" ? "scrypt" : "argon2id";
  console.log(JSON.stringify(await kdfRate(c || 4, d || 5000, kdf)));
}
