/** `parley friends`: your friends, who is online, and unread counts. */
import { type Command, withChat } from "../lib/command.ts";
import { ago, table } from "../lib/format.ts";
import { friendJson } from "../lib/json.ts";
import { sanitizeLine } from "../lib/sanitize.ts";

export const command: Command = {
  name: "friends",
  summary: "List your friends: online or last seen, and how many of their messages are unread.",
  usage: "parley friends [--json]",
  args: { min: 0, max: 0 },
  async run(ctx) {
    const { friends } = await withChat(ctx, (c) => c.request("friend.list", {}));
    ctx.print(
      friends.map(friendJson),
      () =>
        friends.length === 0 ? ["no friends yet — find people with `parley search`"] : table(
          ["", "NAME", "DISPLAY NAME", "STATUS", "UNREAD"],
          friends.map((f) => [
            f.online ? "●" : "○",
            sanitizeLine(f.user.name),
            sanitizeLine(f.user.display_name),
            f.online ? "online" : f.last_seen ? `seen ${ago(f.last_seen)}` : "offline",
            f.unread ? String(f.unread) : "",
          ]),
          [3],
        ),
    );
  },
};
