/**
 * The gate's HTTP bodies: one strict zod schema per request (unknown fields
 * are refused), the TypeScript types derived from them, and the JSON shape
 * of a user in replies. A field check that has its own error code (a bad
 * e-mail, name or password) carries it in the params; every other
 * failure is `invalid_request`. See `parseBody()` in http.ts.
 */
import { z } from "zod";
import type { User } from "../store/types.ts";

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

/** Verify's codes are 6 digits; anything up to 32 characters reaches it so it answers the same. */
const Code = z.string().min(1, "must not be empty").max(32);

// Control characters (newlines, escapes) would let a name or bio break
// another user's terminal; text is otherwise stored as sent.
const CONTROL = /\p{Cc}/u;
function profileText(max: number) {
  return z.string()
    .refine((s) => chars(s) <= max, `must be at most ${max} characters`)
    .refine((s) => !CONTROL.test(s), "must not contain control characters");
}
export const MAX_DISPLAY_NAME = 64;
export const MAX_BIO = 280;

export const CodeRequest = z.strictObject({
  email: Email,
  purpose: z.enum(["register", "reset_password"], {
    error: 'must be "register" or "reset_password"',
  }),
});
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
});
export type ProfilePatch = z.infer<typeof ProfilePatch>;

/** A user as the gate's replies show it; times are Unix milliseconds. */
export interface UserJson {
  id: number;
  email: string;
  name: string;
  display_name: string;
  bio: string;
  created_at: number;
}

export function userJson(u: User): UserJson {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    display_name: u.displayName,
    bio: u.bio,
    created_at: u.createdAt,
  };
}
