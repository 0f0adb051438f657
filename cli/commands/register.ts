/** `parley register`: create an account with a code mailed to you, then log in. */
import type { Command } from "../lib/command.ts";
import { CliError } from "../lib/parley_context.ts";
import { readPassword } from "../lib/passwords.ts";
import { userLabel } from "../lib/format.ts";
import { logIn } from "./login.ts";

const NAME = /^[A-Za-z0-9_.-]{3,32}$/;

export const command: Command = {
  name: "register",
  summary: "Create an account: asks for your e-mail, a user name and a password, " +
    "then for the code mailed to you. You are logged in afterwards.",
  usage: "parley register [--email EMAIL] [--name NAME] [--password-stdin]",
  help: `  --email EMAIL      your e-mail address (asked if not given)
  --name NAME        your user name: 3-32 letters, digits, '_', '.' or '-'
  --password-stdin   read the password from the first line of stdin
The code is read from the next line of input. PARLEY_PASSWORD also sets the password.`,
  options: {
    email: { type: "string" },
    name: { type: "string" },
    "password-stdin": { type: "boolean" },
  },
  args: { min: 0, max: 0 },
  async run(ctx, { values }) {
    const email = (values.email as string | undefined) ?? await ctx.prompt.ask("E-mail: ");
    if (!email) throw new CliError("no e-mail address given", 2);
    const name = (values.name as string | undefined) ?? await ctx.prompt.ask("User name: ");
    if (!NAME.test(name)) {
      throw new CliError("a user name is 3 to 32 letters, digits, '_', '.' or '-'", 2);
    }
    const password = await readPassword(ctx, {
      fromStdin: values["password-stdin"] === true,
      isNew: true,
    });
    const gate = await ctx.gate();
    await gate.requestCode(email, "register");
    ctx.io.err(`A code was sent to ${email}.`);
    const code = await ctx.prompt.ask("Code: ");
    if (!code) throw new CliError("no code given", 2);
    const { user } = await gate.register({ email, name, password, code });
    const reply = await logIn(ctx, user.name, password);
    ctx.print({ user: reply.user }, () => [`registered and logged in as ${userLabel(reply.user)}`]);
  },
};
