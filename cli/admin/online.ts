/** `parley-admin online`: how many users are online, and a page of them. */
import { UsageError } from "../lib/parley_context.ts";
import type { Command } from "../lib/command.ts";
import { formatTime, table } from "../lib/format.ts";
import { sanitizeLine } from "../lib/sanitize.ts";
import { type AdminContext, show } from "./admin_context.ts";
import { onlineJson } from "./json.ts";

export const command: Command<AdminContext> = {
  name: "online",
  summary: "Count the users online and list one page of them (name, id, node, since).",
  usage: "parley-admin online [--limit N] [--cursor CURSOR] [--json]",
  help: `  --limit N        users per page (1-500, default 50)
  --cursor CURSOR  the page after the one that printed this cursor`,
  options: { limit: { type: "string" }, cursor: { type: "string" } },
  args: { min: 0, max: 0 },
  async run(ctx, { values }) {
    const limit = values.limit === undefined ? 50 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      throw new UsageError("--limit must be a whole number from 1 to 500");
    }
    const res = await ctx.status.ListOnline(
      { limit, cursor: (values.cursor as string | undefined) ?? "" },
      ctx.call,
    );
    show(ctx, onlineJson(res), () => [
      `${res.total} online`,
      ...(res.users.length
        ? [
          "",
          ...table(
            ["NAME", "ID", "NODE", "SINCE"],
            res.users.map((u) => [
              sanitizeLine(u.name),
              String(u.user_id),
              sanitizeLine(u.node),
              u.since_ms ? formatTime(u.since_ms) : "",
            ]),
            [1],
          ),
        ]
        : []),
      ...(res.next_cursor
        ? ["", `more: parley-admin online --limit ${limit} --cursor ${res.next_cursor}`]
        : []),
    ]);
  },
};
