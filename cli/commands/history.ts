/** `parley history USER`: a conversation, oldest first, with receipts on your messages. */
import { type Command, withChat } from "../lib/command.ts";
import { UsageError } from "../lib/parley_context.ts";
import { formatTime } from "../lib/format.ts";
import { sanitizeLine, sanitizeLines } from "../lib/sanitize.ts";
import { findUser } from "../lib/users.ts";
import { width } from "../lib/width.ts";
import { MAX_HISTORY_LIMIT } from "../../proto/protocol.ts";

export const command: Command = {
  name: "history",
  summary: "Show your conversation with USER, oldest first. Your messages carry ✓ when " +
    "delivered and ✓✓ when read. Showing the messages marks them read (unless --peek).",
  usage: "parley history USER [--limit N] [--before ID] [--peek] [--json]",
  help: `  --limit N     how many of the newest messages (1-${MAX_HISTORY_LIMIT}, default 20)
  --before ID   only messages older than message ID (for paging back)
  --peek        do not mark USER's messages as read`,
  options: { limit: { type: "string" }, before: { type: "string" }, peek: { type: "boolean" } },
  args: { min: 1, max: 1 },
  async run(ctx, { positionals, values }) {
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
      throw new UsageError(`--limit must be a whole number from 1 to ${MAX_HISTORY_LIMIT}`);
    }
    const before = values.before === undefined ? undefined : Number(values.before);
    if (before !== undefined && (!Number.isInteger(before) || before < 1)) {
      throw new UsageError("--before must be a message id");
    }
    const { user, page, me } = await withChat(ctx, async (c) => {
      const user = await findUser(c, positionals[0], c.welcome.user);
      const page = await c.request("msg.history", {
        with: user.id,
        limit,
        ...(before ? { before } : {}),
      });
      const lastFromPeer = page.messages.filter((m) => m.from === user.id).at(-1)?.id;
      if (lastFromPeer && !values.peek) {
        await c.request("msg.ack", { peer: user.id, delivered: lastFromPeer, read: lastFromPeer });
      }
      return { user, page, me: c.welcome.user.id };
    });
    ctx.print({ with: user, ...page }, () => {
      if (page.messages.length === 0) return [`no messages with ${sanitizeLine(user.name)} yet`];
      const names = { [me]: "you", [user.id]: sanitizeLine(user.name) };
      const nameW = Math.max(...Object.values(names).map(width));
      const lines: string[] = [];
      if (page.more) {
        lines.push(
          `(older messages: parley history ${names[user.id]} --before ${page.messages[0].id})`,
        );
      }
      for (const m of page.messages) {
        const mark = m.from !== me
          ? ""
          : m.id <= page.peer_read_id
          ? " ✓✓"
          : m.id <= page.peer_delivered_id
          ? " ✓"
          : "";
        const head = `${formatTime(m.sent_at)}  ${names[m.from].padEnd(nameW)}  `;
        const body = sanitizeLines(m.text);
        body[body.length - 1] += mark;
        lines.push(head + body[0]);
        for (const more of body.slice(1)) lines.push(" ".repeat(width(head)) + more);
      }
      return lines;
    });
  },
};
