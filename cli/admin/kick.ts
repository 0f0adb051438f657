/** `parley-admin kick USER [--reason TEXT]`: end USER's live session. */
import type { Command } from "../lib/command.ts";
import { sanitizeLine } from "../lib/sanitize.ts";
import { type AdminContext, show, userRef } from "./admin_context.ts";
import { kickJson } from "./json.ts";

/** What the kicked user reads: always that an operator did it, then the reason given. */
export function kickReason(reason: string | undefined): string {
  const why = reason?.trim();
  return why ? `kicked by an operator: ${why}` : "kicked by an operator";
}

export const command: Command<AdminContext> = {
  name: "kick",
  summary: "End USER's live session (USER is a name, an e-mail or #ID). The client is told " +
    'it was "kicked by an operator" (and the reason) and does not reconnect by itself.',
  usage: "parley-admin kick USER [--reason TEXT] [--json]",
  options: { reason: { type: "string" } },
  args: { min: 1, max: 1 },
  async run(ctx, { positionals, values }) {
    const res = await ctx.status.Kick(
      { user: userRef(positionals[0]), reason: kickReason(values.reason as string | undefined) },
      ctx.call,
    );
    const who = sanitizeLine(positionals[0]);
    show(ctx, kickJson(res), () => [
      res.kicked
        ? `kicked ${who} from ${sanitizeLine(res.node)}`
        : `${who} has no live session; nothing to kick`,
    ]);
  },
};
