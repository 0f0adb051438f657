/** `parley register`: create an account with a code mailed to you, then log in. */
import { AppError } from "../../proto/errors.ts";
import { withMailedCode } from "../lib/codes.ts";
import type { Command } from "../lib/command.ts";
import type { GateClient } from "../lib/gate_client.ts";
import { CliError, type Context } from "../lib/parley_context.ts";
import { noInput, readPassword } from "../lib/passwords.ts";
import { userLabel } from "../lib/format.ts";
import { sanitizeLine } from "../lib/sanitize.ts";
import { logIn } from "./login.ts";

const NAME = /^[A-Za-z0-9_.-]{3,32}$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const NAME_RULE = "a user name is 3 to 32 letters, digits, '_', '.' or '-'";

/**
 * Asks (again) until `check` accepts the answer; a value given as a flag is
 * not asked again: a malformed one is a usage error (exit 2), any other
 * refusal exit 1.
 */
async function answer(
  ctx: Context,
  question: string,
  given: string | undefined,
  check: (value: string) => Promise<{ why: string; usage: boolean } | null>,
): Promise<string> {
  if (given !== undefined) {
    const bad = await check(given.trim());
    if (bad) throw new CliError(bad.why, bad.usage ? 2 : 1);
    return given.trim();
  }
  for (;;) {
    const value = await noInput(ctx.prompt.ask(question), `input ended at "${question.trim()}"`);
    const bad = await check(value);
    if (!bad) return value;
    ctx.io.err(`${bad.why} — try again`);
  }
}

/** A well-formed user name that nobody has yet (names are public: the gate says). */
function nameCheck(gate: GateClient) {
  return async (name: string) => {
    if (!NAME.test(name)) return { why: NAME_RULE, usage: true };
    const { available } = await gate.nameAvailable(name);
    return available ? null : { why: `the name ${sanitizeLine(name)} is taken`, usage: false };
  };
}

export const command: Command = {
  name: "register",
  summary: "Create an account: asks for your e-mail, a user name (checked at once) and a " +
    "password, mails you a code and asks for it. You are logged in afterwards.",
  usage: "parley register [--email EMAIL] [--name NAME] [--password-stdin] [--code CODE]",
  help: `  --email EMAIL      your e-mail address (asked if not given)
  --name NAME        your user name: 3-32 letters, digits, '_', '.' or '-'
  --password-stdin   read the password from the first line of stdin
  --code CODE        a code already mailed to you (by an earlier run): no new one is sent
Order of the questions (and of stdin's lines when it is not a terminal): e-mail,
user name, password, then the code. PARLEY_PASSWORD also sets the password.
A taken or malformed name, a short password and a wrong code are asked again
(the gate allows 5 tries per code); given as flags, they end the command
(exit 2 for a malformed value, 1 otherwise).`,
  options: {
    email: { type: "string" },
    name: { type: "string" },
    "password-stdin": { type: "boolean" },
    code: { type: "string" },
  },
  args: { min: 0, max: 0 },
  async run(ctx, { values }) {
    const gate = await ctx.gate();
    const email = await answer(
      ctx,
      "E-mail: ",
      values.email as string | undefined,
      (e) =>
        Promise.resolve(
          EMAIL.test(e) ? null : { why: "that is not an e-mail address", usage: true },
        ),
    );
    let name = await answer(ctx, "User name: ", values.name as string | undefined, nameCheck(gate));
    const password = await readPassword(ctx, {
      fromStdin: values["password-stdin"] === true,
      isNew: true,
    });
    const { user } = await withMailedCode(ctx, gate, {
      email,
      purpose: "register",
      code: values.code as string | undefined,
      mailed: `A code was sent to ${email}.`,
    }, async (code) => {
      for (;;) {
        try {
          return await gate.register({ email, name, password, code });
        } catch (e) {
          // Taken between the check and now: another name, with the same code.
          if (!(e instanceof AppError) || e.code !== "name_taken" || !ctx.prompt.interactive) {
            throw e;
          }
          ctx.io.err(`the name ${sanitizeLine(name)} was just taken — pick another`);
          name = await answer(ctx, "User name: ", undefined, nameCheck(gate));
        }
      }
    });
    const reply = await logIn(ctx, user.name, password);
    ctx.print({ user: reply.user }, () => [`registered and logged in as ${userLabel(reply.user)}`]);
  },
};
