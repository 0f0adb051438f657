/**
 * Verification codes, kept in the engine so every verify replica sees the
 * same ones: issuing (one per e-mail and purpose per minute), checking
 * (attempts counted and capped, success consumes the code) and the 6-digit
 * generator. Mailing is the caller's job; see mailer.ts.
 *
 * The numbers (TTL, resend interval, attempts, digits) are CODE_RULES in
 * proto/http.ts, which the gate's decoys follow too.
 *
 * Keys, per purpose and lower-cased e-mail:
 *   code:<purpose>:<email>        "<code>.<nonce>", TTL 10 min
 *   code_tries:<nonce>            checks made against that one code
 *   code_block:<purpose>:<email>  set for 60 s after a send; blocks resends
 * The nonce makes every issued code its own attempt counter, so a new code
 * starts with fresh tries and an old counter can never leak onto it.
 */
import { timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { AppError } from "../../proto/errors.ts";
import type { Engine } from "../engine/types.ts";
import type { CodePurpose } from "../../proto/services.ts";
import { CODE_RULES } from "../../proto/http.ts";

export const { ttlMs: CODE_TTL_MS, resendAfterS: RESEND_AFTER_S, maxAttempts: MAX_ATTEMPTS } =
  CODE_RULES;
/** 10^digits: how many codes there are. */
const SPACE = 10 ** CODE_RULES.digits;
const CODE_FORMAT = new RegExp(`^\\d{${CODE_RULES.digits}}$`);
export const PURPOSES: readonly CodePurpose[] = ["register", "reset_password"];

const emailSchema = z.email().max(254);

/** Trims and lower-cases an e-mail address; AppError invalid_email if it is not one. */
export function normalizeEmail(raw: unknown): string {
  const email = typeof raw === "string" ? raw.trim().toLowerCase() : "";
  if (!emailSchema.safeParse(email).success) {
    throw new AppError("invalid_email", "that is not a valid e-mail address", 400);
  }
  return email;
}

export function parsePurpose(raw: unknown): CodePurpose {
  if (!PURPOSES.includes(raw as CodePurpose)) {
    throw new AppError(
      "invalid_purpose",
      `purpose must be one of ${PURPOSES.join(", ")}`,
      400,
    );
  }
  return raw as CodePurpose;
}

// The largest multiple of SPACE below 2^32: draws at or above it are thrown
// away, so every code is equally likely (no modulo bias).
const LIMIT = Math.floor(2 ** 32 / SPACE) * SPACE;

/** A uniformly random 6-digit code from the CSPRNG, leading zeros kept. */
export function generateCode(): string {
  const buf = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(buf);
    if (buf[0] < LIMIT) return String(buf[0] % SPACE).padStart(CODE_RULES.digits, "0");
  }
}

function randomNonce(): string {
  const b = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

const codeKey = (purpose: string, email: string) => `code:${purpose}:${email}`;
const blockKey = (purpose: string, email: string) => `code_block:${purpose}:${email}`;
const triesKey = (nonce: string) => `code_tries:${nonce}`;

export interface IssuedCode {
  code: string;
  expiresAtMs: number;
  /** Undoes the issue (used when the mail could not be sent) so the user can retry. */
  revoke(): Promise<void>;
}

/**
 * Stores a fresh code for (email, purpose), replacing any earlier one.
 * AppError code_rate_limited (429) if a code was issued in the last minute.
 */
export async function issueCode(
  engine: Engine,
  email: string,
  purpose: CodePurpose,
  now = Date.now(),
): Promise<IssuedCode> {
  const block = blockKey(purpose, email);
  const blockValue = randomNonce();
  const free = await engine.set(block, blockValue, { ttlMs: RESEND_AFTER_S * 1000, nx: true });
  if (!free) {
    const left = await engine.pttl(block);
    const retryAfterS = left > 0 ? Math.ceil(left / 1000) : 1;
    throw new AppError(
      "code_rate_limited",
      `a code was sent to this address recently; try again in ${retryAfterS} s`,
      429,
      retryAfterS,
    );
  }
  const code = generateCode();
  const value = `${code}.${randomNonce()}`;
  const key = codeKey(purpose, email);
  await engine.set(key, value, { ttlMs: CODE_TTL_MS });
  return {
    code,
    expiresAtMs: now + CODE_TTL_MS,
    async revoke() {
      await engine.delIfEquals(key, value);
      await engine.delIfEquals(block, blockValue);
    },
  };
}

function sameCode(a: string, b: string): boolean {
  const enc = new TextEncoder();
  const x = enc.encode(a), y = enc.encode(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Checks `code` for (email, purpose) and consumes it on success. Every check
 * of a stored code takes one of its MAX_ATTEMPTS tries before comparing, so
 * even concurrent guesses get no more than that many comparisons.
 *
 * Errors: code_invalid (400, "N tries left"), code_expired (400: none issued,
 * expired, or already used), code_attempts_exceeded (429: the code is dead
 * until a new one is requested).
 */
export async function checkCode(
  engine: Engine,
  email: string,
  purpose: CodePurpose,
  rawCode: unknown,
): Promise<void> {
  const code = typeof rawCode === "string" ? rawCode.trim() : "";
  // A malformed code can never match, so it costs no try.
  if (!CODE_FORMAT.test(code)) {
    throw new AppError("code_invalid", "the code is the 6 digits from the e-mail", 400);
  }
  const key = codeKey(purpose, email);
  const stored = await engine.get(key);
  if (stored === null) {
    throw new AppError(
      "code_expired",
      "this code has expired or was already used; request a new one",
      400,
    );
  }
  const [want, nonce] = stored.split(".");
  const { value: tries } = await engine.incr(triesKey(nonce), CODE_TTL_MS);
  if (tries > MAX_ATTEMPTS) throw await attemptsExceeded(engine, email, purpose);
  if (sameCode(code, want)) {
    // Atomic: of two concurrent correct checks only one deletes the code.
    if (await engine.delIfEquals(key, stored)) return;
    throw new AppError(
      "code_expired",
      "this code has expired or was already used; request a new one",
      400,
    );
  }
  const left = MAX_ATTEMPTS - tries;
  if (left <= 0) throw await attemptsExceeded(engine, email, purpose);
  throw new AppError(
    "code_invalid",
    `wrong code; ${left} ${left === 1 ? "try" : "tries"} left`,
    400,
  );
}

async function attemptsExceeded(
  engine: Engine,
  email: string,
  purpose: CodePurpose,
): Promise<AppError> {
  const left = await engine.pttl(blockKey(purpose, email));
  return new AppError(
    "code_attempts_exceeded",
    "too many wrong codes; request a new code",
    429,
    left > 0 ? Math.ceil(left / 1000) : 0,
  );
}
