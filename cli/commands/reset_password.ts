/** `parley reset-password`: set a new password with a code mailed to you. */
import { withMailedCode } from "../lib/codes.ts";
import type { Command } from "../lib/command.ts";
import { CliError } from "../lib/parley_context.ts";
import { noInput, readPassword } from "../lib/passwords.ts";
import { clearSession } from "../lib/session_file.ts";

export const command: Command = {
  name: "reset-password",
  summary: "Forgot your password? Asks for your e-mail and a new password, mails you a code " +
    "and asks for it. Every session of the account is logged out.",
  usage: "parley reset-password [--email EMAIL] [--password-stdin] [--code CODE]",
  help: `  --email EMAIL      the account's e-mail address (asked if not given)
  --password-stdin   read the new password from the first line of stdin
  --code CODE        a code already mailed to you: no new one is sent
Order of the questions (and of stdin's lines when it is not a terminal), as for
register: e-mail, new password, then the code. A short password and a wrong
code are asked again.`,
  options: {
    email: { type: "string" },
    "password-stdin": { type: "boolean" },
    code: { type: "string" },
  },
  args: { min: 0, max: 0 },
  async run(ctx, { values }) {
    const email = (values.email as string | undefined) ??
      await noInput(ctx.prompt.ask("E-mail: "), 'input ended at "E-mail:"');
    if (!email.trim()) throw new CliError("no e-mail address given", 2);
    const password = await readPassword(ctx, {
      label: "New password",
      fromStdin: values["password-stdin"] === true,
      isNew: true,
    });
    const gate = await ctx.gate();
    await withMailedCode(ctx, gate, {
      email,
      purpose: "reset_password",
      code: values.code as string | undefined,
      mailed: `If ${email} has an account, a code was sent to it.`,
    }, (code) => gate.resetPassword(email, code, password));
    const s = await ctx.savedSession();
    if (s && s.user.email.toLowerCase() === email.trim().toLowerCase()) {
      await clearSession(ctx.configDir);
    }
    ctx.io.out("password changed — log in with `parley login`");
  },
};
