/** `parley-admin stats`: totals, and sessions per chat node. */
import type { Command } from "../lib/command.ts";
import { table } from "../lib/format.ts";
import { sanitizeLine } from "../lib/sanitize.ts";
import type { AdminContext } from "./admin_context.ts";
import { statsJson } from "./json.ts";
import { watchable } from "./watch.ts";

export const command: Command<AdminContext> = {
  name: "stats",
  summary: "Show the number of users, messages and open sessions, and sessions per chat node.",
  usage: "parley-admin stats [--watch] [--json]",
  options: { watch: { type: "boolean", short: "w" } },
  args: { min: 0, max: 0 },
  run: (ctx, { values }) =>
    watchable(ctx, values.watch === true, async () => {
      const s = await ctx.status.Stats({}, ctx.call);
      return {
        value: statsJson(s),
        lines: [
          `users:     ${s.users}`,
          `messages:  ${s.messages}`,
          `sessions:  ${s.sessions}`,
          "",
          ...table(
            ["NODE", "STATE", "SESSIONS"],
            s.nodes.map((n) => [sanitizeLine(n.name), sanitizeLine(n.state), String(n.sessions)]),
            [2],
          ),
        ],
      };
    }),
};
