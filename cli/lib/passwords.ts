/**
 * Getting a password from the person or script running the client:
 * `--password-stdin` (the next line of stdin), PARLEY_PASSWORD, or a prompt
 * without echo (asked twice for a new password at a terminal).
 */
import { CliError, type Context } from "./parley_context.ts";

export const MIN_PASSWORD = 8;

export async function readPassword(
  ctx: Context,
  options: { label?: string; fromStdin?: boolean; isNew?: boolean; useEnv?: boolean } = {},
): Promise<string> {
  const label = options.label ?? "Password";
  let password: string;
  if (options.fromStdin) {
    password = await ctx.prompt.secret("");
  } else if (options.useEnv !== false && ctx.env.PARLEY_PASSWORD) {
    password = ctx.env.PARLEY_PASSWORD;
  } else {
    password = await ctx.prompt.secret(`${label}: `);
    if (options.isNew && ctx.prompt.interactive) {
      const again = await ctx.prompt.secret(`${label} again: `);
      if (again !== password) throw new CliError("the two passwords differ");
    }
  }
  if (password === "") throw new CliError("no password given");
  if (options.isNew && [...password].length < MIN_PASSWORD) {
    throw new CliError(`the password must be at least ${MIN_PASSWORD} characters`);
  }
  return password;
}
