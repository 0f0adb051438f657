/**
 * The KDF alone: how many password checks per second this machine does
 * with Parley's production Argon2id parameters (server/passwords.ts), with
 * `concurrency` checks in flight, as the gate does them during a login
 * storm. Run as its own process so it gets the same thread pool a gate
 * process has. Prints `{"hashes": N, "ms": M}`.
 *
 * Usage: deno run --allow-env --allow-read --allow-ffi bench/load/kdf.ts CONCURRENCY DURATION_MS
 * (--allow-ffi: Argon2id is a native addon.)
 */
import { hashPassword, verifyPassword } from "../../server/passwords.ts";

export async function kdfRate(
  concurrency: number,
  durationMs: number,
): Promise<{ hashes: number; ms: number }> {
  const encoded = await hashPassword("bench-password-0");
  const start = performance.now();
  const end = start + durationMs;
  let hashes = 0;
  let last = start;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      if (!(await verifyPassword("bench-password-0", encoded))) throw new Error("KDF mismatch");
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
  const [c, d] = Deno.args.map(Number);
  console.log(JSON.stringify(await kdfRate(c || 4, d || 5000)));
}
