/** `parley reset-password`: set a new password with a code mailed to you. */
import type { Command } from "../lib/command.ts";
import { CliError } from "../lib/parley_context.ts";
import { readPassword } from "../lib/passwords.ts";
import { clearSession } from "../lib/session_file.ts";

export const command: Command = {
  name: "reset-password",
  summary: "Forgot your password? A code is mailed to you; enter it and a new password. " +
    "Every session of the account is logged out.",
  usage: "parley reset-password [--email EMAIL] [--password-stdin]",
  help: `  --email EMAIL      the account's e-mail address (asked if not given)
  --password-stdin   read the new password from the first line of stdin`,
  options: { email: { type: "string" }, "password-stdin": { type: "boolean" } },
  args: { min: 0, max: 0 },
  async run(ctx, { values }) {
    const email = (values.email as string | undefined) ?? await ctx.prompt.ask("E-mail: ");
    if (!email) throw new CliError("no e-mail address given", 2);
    const gate = await ctx.gate();
    await gate.requestCode(email, "reset_password");
    ctx.io.err(`If ${email} has an account, a code was sent to it.`);
    const code = await ctx.prompt.ask("Code: ");
    if (!code) throw new CliError("no code given", 2);
    const password = await readPassword(ctx, {
      label: "New password",
      fromStdin: values["password-stdin"] === true,
      isNew: true,
    });
    await gate.resetPassword(email, code, password);
    const s = await ctx.savedSession();
    if (s && s.user.email.toLowerCase() === email.trim().toLowerCase()) {
      await clearSession(ctx.configDir);
    }
    ctx.io.out("password changed — log in with `parley login`");
  },
};
