/** `parley login [LOGIN]`: log in at the gate and keep the session. */
import type { Command } from "../lib/command.ts";
import { CliError, type Context } from "../lib/parley_context.ts";
import { toMs } from "../lib/gate_client.ts";
import { readPassword } from "../lib/passwords.ts";
import { saveSession } from "../lib/session_file.ts";
import { userLabel } from "../lib/format.ts";

/** Logs in and saves the session; shared with register and passwd. */
export async function logIn(ctx: Context, login: string, password: string) {
  const server = await ctx.server();
  const gate = await ctx.gate();
  const reply = await gate.login(login, password);
  await saveSession(ctx.configDir, {
    server,
    token: reply.token,
    expires_at: toMs(reply.expires_at),
    user: reply.user,
    chat_url: reply.chat_url,
  });
  return reply;
}

export const command: Command = {
  name: "login",
  summary: "Log in with your user name or e-mail address and keep the session.",
  usage: "parley login [LOGIN] [--password-stdin]",
  help: `  --password-stdin   read the password from the first line of stdin
The password is also taken from PARLEY_PASSWORD when set; otherwise it is
asked for without echo.`,
  options: { "password-stdin": { type: "boolean" } },
  args: { min: 0, max: 1 },
  async run(ctx, { positionals, values }) {
    const login = positionals[0] ?? await ctx.prompt.ask("Name or e-mail: ");
    if (!login) throw new CliError("no login given", 2);
    const password = await readPassword(ctx, { fromStdin: values["password-stdin"] === true });
    const reply = await logIn(ctx, login, password);
    ctx.print(
      { user: reply.user, chat_url: reply.chat_url, expires_at: toMs(reply.expires_at) },
      () => [
        `logged in as ${userLabel(reply.user)}`,
      ],
    );
  },
};
