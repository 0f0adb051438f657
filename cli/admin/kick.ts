/** `parley-admin kick USER [--reason TEXT]`: end USER's live session. */
import type { Command } from "../lib/command.ts";
import { sanitizeLine } from "../lib/sanitize.ts";
import { type AdminContext, userRef } from "./admin_context.ts";

export const command: Command<AdminContext> = {
  name: "kick",
  summary: "End USER's live session (USER is a name, an e-mail or #ID). The client is told " +
    "the reason and does not reconnect by itself.",
  usage: "parley-admin kick USER [--reason TEXT] [--json]",
  options: { reason: { type: "string" } },
  args: { min: 1, max: 1 },
  async run(ctx, { positionals, values }) {
    const res = await ctx.status.Kick(
      { user: userRef(positionals[0]), reason: (values.reason as string | undefined) ?? "" },
      ctx.call,
    );
    const who = sanitizeLine(positionals[0]);
    if (ctx.json) ctx.io.out(JSON.stringify(res, null, 2));
    else {
      ctx.io.out(
        res.kicked
          ? `kicked ${who} from ${sanitizeLine(res.node)}`
          : `${who} has no live session; nothing to kick`,
      );
    }
  },
};
