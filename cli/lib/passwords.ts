/**
 * Getting a password from the person or script running the client:
 * `--password-stdin` (the first line of stdin), PARLEY_PASSWORD, or a
 * prompt without echo (asked twice for a new password at a terminal). A
 * typed password that cannot be used (too short, the two differ) is asked
 * for again; one given by flag or variable is a usage error (exit 2).
 */
import { AppError } from "../../proto/errors.ts";
import { CliError, type Context } from "./parley_context.ts";

export const MIN_PASSWORD = 8;

/** Why `password` cannot be a new password, or null if it can (the gate's rule). */
export function weakness(password: string): string | null {
  if (password === "") return "no password given";
  if ([...password].length < MIN_PASSWORD) {
    return `the password must be at least ${MIN_PASSWORD} characters`;
  }
  return null;
}

export interface PasswordOptions {
  label?: string;
  fromStdin?: boolean;
  isNew?: boolean;
  useEnv?: boolean;
}

export async function readPassword(ctx: Context, options: PasswordOptions = {}): Promise<string> {
  const given = options.fromStdin
    ? await noInput(ctx.prompt.secret(""), "--password-stdin: stdin is empty")
    : options.useEnv !== false
    ? ctx.env.PARLEY_PASSWORD
    : undefined;
  if (given !== undefined) {
    const why = options.isNew ? weakness(given) : given === "" ? "no password given" : null;
    if (why) throw new CliError(why, 2);
    return given;
  }
  const label = options.label ?? "Password";
  const source = "no password: stdin ended (use --password-stdin or PARLEY_PASSWORD)";
  for (;;) {
    const password = await noInput(ctx.prompt.secret(`${label}: `), source);
    const why = options.isNew ? weakness(password) : password === "" ? "no password given" : null;
    if (why) {
      ctx.io.err(`${why} — try again`);
      continue;
    }
    if (options.isNew && ctx.prompt.interactive) {
      const again = await noInput(ctx.prompt.secret(`${label} again: `), source);
      if (again !== password) {
        ctx.io.err("the two passwords differ — try again");
        continue;
      }
    }
    return password;
  }
}

/** An answer, or a CliError saying `message` when input ended before it. */
export async function noInput<T>(answer: Promise<T>, message: string): Promise<T> {
  try {
    return await answer;
  } catch (e) {
    if (e instanceof AppError && e.code === "input_ended") throw new CliError(message);
    throw e;
  }
}
