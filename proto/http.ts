/**
 * The gate's HTTP API (`/api/v1/...`) as a contract: one strict zod schema
 * per request body (unknown fields are refused) and per reply body, the
 * TypeScript types inferred from them, and the rules of verification codes
 * that both the verify role and the gate's decoys follow. The gate
 * validates with these schemas; clients (cli/lib/http.ts) use the types.
 *
 * A field check that has its own error code (a bad e-mail, name or
 * password) carries it in the params (`params.code`); every other
 * failure is `invalid_request`.
 */
import { z } from "zod";
import type { SelfUser } from "./protocol.ts";

/**
 * Verification codes: 6 digits, alive for 10 minutes, 5 guesses each, and
 * one new code per minute per address and client (the gate's limits add
 * daily quotas). The one place these numbers live.
 */
export const CODE_RULES = Object.freeze({
  digits: 6,
  ttlMs: 10 * 60_000,
  resendAfterS: 60,
  maxAttempts: 5,
});

/** Code points, not UTF-16 units: "ü" and "😀" are one character each. */
const chars = (s: string) => [...s].length;

/** A refinement whose failure answers with `code` rather than invalid_request. */
function coded<T extends z.ZodType<string>>(
  schema: T,
  code: string,
  message: string,
  ok: (s: string) => boolean,
): T {
  return schema.refine(ok, { message, params: { code }, abort: true }) as unknown as T;
}

const emailFormat = z.email();
export const MAX_EMAIL = 254;
/** Trimmed and lower-cased, as the verify role keys its codes. */
export const Email = coded(
  z.string().trim().toLowerCase(),
  "invalid_email",
  "must be an e-mail address",
  (s) => s.length <= MAX_EMAIL && emailFormat.safeParse(s).success,
);

export const NAME_PATTERN = /^[A-Za-z0-9_.-]{3,32}$/;
export const Name = coded(
  z.string(),
  "invalid_name",
  "must be 3 to 32 letters, digits, '_', '.' or '-'",
  (s) => NAME_PATTERN.test(s),
);

export const MIN_PASSWORD = 8;
export const MAX_PASSWORD = 1024;
export const Password = coded(
  z.string().max(MAX_PASSWORD, `must be at most ${MAX_PASSWORD} characters`),
  "weak_password",
  `must be at least ${MIN_PASSWORD} characters`,
  (s) => chars(s) >= MIN_PASSWORD,
);

/** The password a user types to log in or to prove it is them: not judged, only bounded. */
const GivenPassword = z.string().min(1, "must not be empty").max(MAX_PASSWORD);

/** Codes are 6 digits; anything up to 32 characters reaches verify so it answers the same. */
const Code = z.string().min(1, "must not be empty").max(32);

export const CodePurpose = z.enum(["register", "reset_password"], {
  error: 'must be "register" or "reset_password"',
});
export type CodePurpose = z.infer<typeof CodePurpose>;

// Control characters (newlines, escapes) would let a name or bio break
// another user's terminal. Bidirectional controls (embeddings, overrides,
// isolates, the LRM/RLM/ALM marks) would let one reorder how the text
// around it is shown ("evil‮gpj.exe"). Both are refused rather than
// stripped: text is stored as sent, and the user learns why it was not.
const CONTROL = /\p{Cc}/u;
export const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/u;
function profileText(max: number) {
  return z.string()
    .refine((s) => chars(s) <= max, `must be at most ${max} characters`)
    .refine((s) => !CONTROL.test(s), "must not contain control characters")
    .refine(
      (s) => !BIDI_CONTROL.test(s),
      "must not contain bidirectional control characters (U+202A–U+202E, U+2066–U+2069, " +
        "U+200E, U+200F, U+061C)",
    );
}
export const MAX_DISPLAY_NAME = 64;
export const MAX_BIO = 280;

// --- requests ---

export const CodeRequest = z.strictObject({ email: Email, purpose: CodePurpose });
export type CodeRequest = z.infer<typeof CodeRequest>;

export const RegisterRequest = z.strictObject({
  email: Email,
  name: Name,
  password: Password,
  code: Code,
});
export type RegisterRequest = z.infer<typeof RegisterRequest>;

export const LoginRequest = z.strictObject({
  /** E-mail or name. */
  login: z.string().trim().min(1, "must not be empty").max(MAX_EMAIL),
  password: GivenPassword,
});
export type LoginRequest = z.infer<typeof LoginRequest>;

export const ResetPasswordRequest = z.strictObject({
  email: Email,
  code: Code,
  new_password: Password,
});
export type ResetPasswordRequest = z.infer<typeof ResetPasswordRequest>;

export const ChangePasswordRequest = z.strictObject({
  old_password: GivenPassword,
  new_password: Password,
});
export type ChangePasswordRequest = z.infer<typeof ChangePasswordRequest>;

export const ProfilePatch = z.strictObject({
  display_name: profileText(MAX_DISPLAY_NAME).optional(),
  bio: profileText(MAX_BIO).optional(),
  /** Opt in (or out) to be found by user.search with this exact e-mail. */
  findable_by_email: z.boolean({ error: "must be true or false" }).optional(),
});
export type ProfilePatch = z.infer<typeof ProfilePatch>;

// --- replies (times are Unix milliseconds) ---

/** The signed-in user as the gate shows them: the chat protocol's `SelfUser`, one type. */
export const SelfUserJson: z.ZodType<SelfUser> = z.object({
  id: z.number().int().positive(),
  name: z.string(),
  display_name: z.string(),
  email: z.string(),
  bio: z.string(),
  created_at: z.number(),
  findable_by_email: z.boolean(),
});
export type { SelfUser };

/** 202 from POST /codes (sent, or a decoy that cannot be told apart). */
export const CodeReply = z.object({
  expires_at: z.number(),
  resend_after_s: z.number().int().nonnegative(),
});
export type CodeReply = z.infer<typeof CodeReply>;

/** 200 from POST /login. */
export const LoginReply = z.object({
  token: z.string(),
  expires_at: z.number(),
  user: SelfUserJson,
  chat_url: z.string(),
});
export type LoginReply = z.infer<typeof LoginReply>;

/** 200 from POST /session/chat-node: a live node for a token; `expires_at` is the token's own. */
export const ChatNodeReply = z.object({
  chat_url: z.string(),
  expires_at: z.number(),
});
export type ChatNodeReply = z.infer<typeof ChatNodeReply>;

/** 201 from POST /register, 200 from GET and PATCH /me. */
export const UserReply = z.object({ user: SelfUserJson });
export type UserReply = z.infer<typeof UserReply>;

/** Every failure; `Retry-After` accompanies 429 and 503. */
export const ErrorReply = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});
export type ErrorReply = z.infer<typeof ErrorReply>;
