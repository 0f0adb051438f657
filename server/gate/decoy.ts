/**
 * Answers for code requests and code checks that must not involve a real
 * code, shaped so that they cannot be told apart from real ones: a
 * registration code for an e-mail that already has an account, or a reset
 * code for an e-mail that has none. Telling the two apart would let anyone
 * probe which addresses have accounts.
 *
 * A decoy follows the rules of a real code (CODE_RULES in proto/http.ts):
 * the same reply, about the same delay (a running average of real SendCode
 * calls), the same "one per minute" answer (the pending code's expiry, no
 * new code), and the same sequence of answers to guesses: "N tries left",
 * then code_attempts_exceeded — with verify's wording, which the cross-role
 * test (tests/accounts_test.ts) checks against the real thing.
 */
import { AppError } from "../../proto/errors.ts";
import type { Engine } from "../engine/types.ts";
import { CODE_RULES, type CodePurpose } from "../../proto/http.ts";
import type { SendCodeReply } from "../../proto/services.ts";

const blockKey = (purpose: string, email: string) => `gate:decoy_block:${purpose}:${email}`;
const decoyKey = (purpose: string, email: string) => `gate:decoy:${purpose}:${email}`;
const triesKey = (nonce: string) => `gate:decoy_tries:${nonce}`;

/**
 * The reply while a code sent `ageMs` ago is pending: the same code stays
 * valid, and no new one is made until the resend interval has passed.
 */
export function pendingReply(ageMs: number, now = Date.now()): SendCodeReply {
  return {
    expires_at_ms: now - ageMs + CODE_RULES.ttlMs,
    resend_after_s: CODE_RULES.resendAfterS,
  };
}

/** How long ago a code was sent, from the ms left on its resend block. */
export function ageFromBlock(leftMs: number): number {
  return Math.max(0, CODE_RULES.resendAfterS * 1000 - Math.max(0, leftMs));
}

export class Decoys {
  #latencyMs = 0;

  constructor(readonly engine: Engine) {}

  /** Learns how long a real SendCode call takes. */
  observe(startedAtMs: number, now = Date.now()): void {
    const took = now - startedAtMs;
    this.#latencyMs = this.#latencyMs === 0 ? took : 0.8 * this.#latencyMs + 0.2 * took;
  }

  /** A reply like SendCode's, after about as long as SendCode takes. */
  async send(email: string, purpose: CodePurpose): Promise<SendCodeReply> {
    const started = Date.now();
    const block = blockKey(purpose, email);
    const ttlMs = CODE_RULES.resendAfterS * 1000;
    let reply: SendCodeReply;
    if (await this.engine.set(block, "1", { ttlMs, nx: true })) {
      await this.engine.set(decoyKey(purpose, email), crypto.randomUUID(), {
        ttlMs: CODE_RULES.ttlMs,
      });
      reply = pendingReply(0, started);
    } else {
      // Whole seconds, as the real path learns it (verify's Retry-After).
      const left = Math.ceil(await this.engine.pttl(block) / 1000) * 1000;
      reply = pendingReply(ageFromBlock(left), started);
    }
    const delay = this.#latencyMs * (0.75 + Math.random() * 0.5) - (Date.now() - started);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    return reply;
  }

  /**
   * A guess at a code that has no real code behind it. `real` is what
   * verify answered for the same guess (with no code stored: code_expired,
   * or code_invalid for a malformed code); while a decoy is pending, wrong
   * guesses are counted as verify counts them on a real code.
   */
  async check(email: string, purpose: CodePurpose, real: AppError): Promise<AppError> {
    if (real.code !== "code_expired") return real;
    const nonce = await this.engine.get(decoyKey(purpose, email));
    if (nonce === null) return real;
    const { value: tries } = await this.engine.incr(triesKey(nonce), CODE_RULES.ttlMs);
    const left = CODE_RULES.maxAttempts - tries;
    if (left <= 0) {
      const ms = await this.engine.pttl(blockKey(purpose, email));
      return new AppError(
        "code_attempts_exceeded",
        "too many wrong codes; request a new code",
        429,
        ms > 0 ? Math.ceil(ms / 1000) : 0,
      );
    }
    return new AppError(
      "code_invalid",
      `wrong code; ${left} ${left === 1 ? "try" : "tries"} left`,
      400,
    );
  }
}
