/** `parley-admin presence USER`: is USER online, and where. */
import type { PresenceInfo } from "../../proto/services.ts";
import type { Command } from "../lib/command.ts";
import { ago, formatTime } from "../lib/format.ts";
import { sanitizeLine } from "../lib/sanitize.ts";
import { type AdminContext, show, userRef } from "./admin_context.ts";
import { presenceJson } from "./json.ts";

export function presenceLine(p: PresenceInfo): string {
  const who = `${sanitizeLine(p.name)} (#${p.user_id})`;
  if (p.online) {
    return `${who}: online on ${sanitizeLine(p.node)} since ${formatTime(p.since_ms)} ` +
      `(session ${sanitizeLine(p.session_id)})`;
  }
  return `${who}: offline${p.last_seen_ms ? `, last seen ${ago(p.last_seen_ms)}` : ""}`;
}

export const command: Command<AdminContext> = {
  name: "presence",
  summary: "Show whether USER (a name, an e-mail or #ID) is online, on which node and since when.",
  usage: "parley-admin presence USER [--json]",
  args: { min: 1, max: 1 },
  async run(ctx, { positionals }) {
    const p = await ctx.status.Presence(userRef(positionals[0]), ctx.call);
    show(ctx, presenceJson(p), () => [presenceLine(p)]);
  },
};
