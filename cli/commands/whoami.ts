/** `parley whoami`: who you are logged in as, and where. */
import { AppError } from "../../proto/errors.ts";
import type { Command } from "../lib/command.ts";
import { formatTime, userLabel } from "../lib/format.ts";
import { sanitizeLine } from "../lib/sanitize.ts";

export const command: Command = {
  name: "whoami",
  summary: "Show the account you are logged in as, the server and the session's expiry.",
  usage: "parley whoami [--json]",
  args: { min: 0, max: 0 },
  async run(ctx) {
    const s = await ctx.session();
    let user = s.user;
    try {
      user = (await (await ctx.gate(true)).me()).user;
    } catch (e) {
      if (!(e instanceof AppError) || e.code !== "gate_unreachable") throw e;
      ctx.io.err(`parley: ${e.message}; showing the saved session`);
    }
    ctx.print({ user, server: s.server, chat_url: s.chat_url, expires_at: s.expires_at }, () => [
      `${userLabel(user)} <${sanitizeLine(user.email)}>`,
      `server:  ${s.server}`,
      `chat:    ${s.chat_url}`,
      `expires: ${formatTime(s.expires_at)}`,
    ]);
  },
};
