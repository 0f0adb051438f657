/** `parley search QUERY`: find people by name prefix or exact e-mail. */
import { type Command, withChat } from "../lib/command.ts";
import { UsageError } from "../lib/parley_context.ts";
import { table } from "../lib/format.ts";
import { sanitizeLine } from "../lib/sanitize.ts";

export const command: Command = {
  name: "search",
  summary: "Find people by the start of their user name, or by their exact e-mail address.",
  usage: "parley search QUERY [--limit N] [--json]",
  options: { limit: { type: "string" } },
  args: { min: 1, max: 1 },
  async run(ctx, { positionals, values }) {
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 50) {
      throw new UsageError("--limit must be a whole number from 1 to 50");
    }
    const { users } = await withChat(
      ctx,
      (c) => c.request("user.search", { query: positionals[0], limit }),
    );
    ctx.print(users, () =>
      users.length === 0 ? ["no one found"] : table(
        ["NAME", "DISPLAY NAME"],
        users.map((u) => [sanitizeLine(u.name), sanitizeLine(u.display_name)]),
      ));
  },
};
