/**
 * Answers for code requests that must not send a code, shaped so that they
 * cannot be told apart from real ones: a registration code for an e-mail
 * that already has an account, or a reset code for an e-mail that has none.
 * Telling the two apart would let anyone probe which addresses have
 * accounts.
 *
 * A decoy mirrors what the verify role does for a real code: the same
 * reply (expires_at and resend_after_s learned from verify's own replies),
 * about the same delay (a running average of real SendCode calls), the
 * same one-per-minute resend rule, and for a reset, the same sequence of
 * answers to guesses: "N tries left", then code_attempts_exceeded — with
 * verify's wording, which the cross-role test (tests/accounts_test.ts)
 * checks against the real thing.
 */
import { AppError } from "../../proto/errors.ts";
import type { Engine } from "../engine/types.ts";
import type { CodePurpose, SendCodeReply } from "../../proto/services.ts";

/** Verify's rules, as observed: a code lives 10 min, allows 5 tries, and one per minute may be sent. */
const MAX_ATTEMPTS = 5;
const DEFAULT_TTL_MS = 10 * 60_000;
const DEFAULT_RESEND_S = 60;

const blockKey = (purpose: string, email: string) => `gate:decoy_block:${purpose}:${email}`;
const decoyKey = (email: string) => `gate:decoy:reset_password:${email}`;
const triesKey = (nonce: string) => `gate:decoy_tries:${nonce}`;

export class Decoys {
  #ttlMs = DEFAULT_TTL_MS;
  #resendS = DEFAULT_RESEND_S;
  #latencyMs = 0;

  constructor(readonly engine: Engine) {}

  /** Learns from a real SendCode reply and how long it took. */
  observe(reply: SendCodeReply, startedAtMs: number, now = Date.now()): void {
    const ttl = Math.round((reply.expires_at_ms - startedAtMs) / 1000) * 1000;
    if (ttl > 0) this.#ttlMs = ttl;
    if (reply.resend_after_s > 0) this.#resendS = reply.resend_after_s;
    const took = now - startedAtMs;
    this.#latencyMs = this.#latencyMs === 0 ? took : 0.8 * this.#latencyMs + 0.2 * took;
  }

  /**
   * A reply like SendCode's, after about as long as SendCode takes.
   * AppError rate_limited if one was "sent" in the last resend period.
   */
  async send(email: string, purpose: CodePurpose): Promise<SendCodeReply> {
    const started = Date.now();
    const block = blockKey(purpose, email);
    const free = await this.engine.set(block, "1", { ttlMs: this.#resendS * 1000, nx: true });
    if (!free) {
      const left = await this.engine.pttl(block);
      const s = left > 0 ? Math.ceil(left / 1000) : 1;
      throw new AppError(
        "rate_limited",
        `a code was sent to this address recently; try again in ${s} s`,
        429,
        s,
      );
    }
    if (purpose === "reset_password") {
      await this.engine.set(decoyKey(email), crypto.randomUUID(), { ttlMs: this.#ttlMs });
    }
    const delay = this.#latencyMs * (0.75 + Math.random() * 0.5) - (Date.now() - started);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    return { expires_at_ms: started + this.#ttlMs, resend_after_s: this.#resendS };
  }

  /**
   * A guess at a reset code for an e-mail with no account. `real` is what
   * verify answered for the same guess (with no code stored: code_expired,
   * or code_invalid for a malformed code); while a decoy is pending, wrong
   * guesses are counted as verify counts them on a real code.
   */
  async check(email: string, real: AppError): Promise<AppError> {
    if (real.code !== "code_expired") return real;
    const nonce = await this.engine.get(decoyKey(email));
    if (nonce === null) return real;
    const { value: tries } = await this.engine.incr(triesKey(nonce), this.#ttlMs);
    const left = MAX_ATTEMPTS - tries;
    if (left <= 0) {
      const ms = await this.engine.pttl(blockKey("reset_password", email));
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
