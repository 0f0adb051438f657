/** `parley-admin kick USER [--session ID]`: end USER's live sessions, or one of them. */
import type { AdminKickReply } from "../../proto/services.ts";
import type { Command } from "../lib/command.ts";
import { UsageError } from "../lib/parley_context.ts";
import { sanitizeLine } from "../lib/sanitize.ts";
import { type AdminContext, show, userRef } from "./admin_context.ts";
import { kickJson } from "./json.ts";

/** What the kicked user reads: always that an operator did it, then the reason given. */
export function kickReason(reason: string | undefined): string {
  const why = reason?.trim();
  return why ? `kicked by an operator: ${why}` : "kicked by an operator";
}

/** What an operator reads after a kick. */
function kickLine(user: string, session: string, res: AdminKickReply): string {
  const who = sanitizeLine(user);
  if (!res.kicked) {
    const which = session ? ` ${sanitizeLine(session)}` : "";
    return `${who} has no live session${which}; nothing to kick`;
  }
  const n = res.sessions ?? 1;
  return n > 1
    ? `kicked ${who}: ${n} sessions ended`
    : `kicked ${who} from ${sanitizeLine(res.node)}`;
}

export const command: Command<AdminContext> = {
  name: "kick",
  summary: "End every live session of USER (a name, an e-mail or #ID), or with --session ID " +
    "only that one (ids from `parley-admin presence USER`). The client is told it was " +
    '"kicked by an operator" (and the reason) and does not reconnect by itself.',
  usage: "parley-admin kick USER [--session ID] [--reason TEXT] [--json]",
  options: { reason: { type: "string" }, session: { type: "string" } },
  args: { min: 1, max: 1 },
  async run(ctx, { positionals, values }) {
    const session = (values.session as string | undefined)?.trim() ?? "";
    // An empty id (an unset variable in a script) must not widen the kick to every session.
    if (values.session !== undefined && !session) throw new UsageError("--session needs an id");
    const res = await ctx.status.Kick(
      {
        user: userRef(positionals[0]),
        reason: kickReason(values.reason as string | undefined),
        ...(session ? { session_id: session } : {}),
      },
      ctx.call,
    );
    show(ctx, kickJson(res), () => [kickLine(positionals[0], session, res)]);
  },
};
