/** `parley-admin user USER`: a user's profile, counts and open sessions. */
import type { Command } from "../lib/command.ts";
import { formatTime } from "../lib/format.ts";
import { sanitizeLine } from "../lib/sanitize.ts";
import { type AdminContext, show, userRef } from "./admin_context.ts";
import { userJson } from "./json.ts";
import { presenceLine, sessionTable } from "./presence.ts";

export const command: Command<AdminContext> = {
  name: "user",
  summary: "Show USER (a name, an e-mail or #ID): profile, friends and messages counts, " +
    "and the open sessions (id, node, device, since).",
  usage: "parley-admin user USER [--json]",
  args: { min: 1, max: 1 },
  async run(ctx, { positionals }) {
    const u = await ctx.status.UserInfo(userRef(positionals[0]), ctx.call);
    show(ctx, userJson(u), () => [
      `id:        ${u.id}`,
      `name:      ${sanitizeLine(u.name)}`,
      `display:   ${sanitizeLine(u.display_name)}`,
      `email:     ${sanitizeLine(u.email)}`,
      `bio:       ${sanitizeLine(u.bio)}`,
      `created:   ${formatTime(u.created_at_ms)}`,
      `friends:   ${u.friends}`,
      `messages:  ${u.messages}`,
      `session:   ${u.presence ? presenceLine(u.presence).replace(/^[^:]*: /, "") : "offline"}`,
      ...(u.presence ? sessionTable(u.presence).map((l) => `  ${l}`) : []),
    ]);
  },
};
