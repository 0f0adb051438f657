/** `parley remove USER`: end a friendship. */
import { type Command, withChat } from "../lib/command.ts";
import { userLabel } from "../lib/format.ts";
import { findFriend } from "../lib/users.ts";

export const command: Command = {
  name: "remove",
  summary: "End your friendship with USER. The conversation's history is kept.",
  usage: "parley remove USER",
  args: { min: 1, max: 1 },
  async run(ctx, { positionals }) {
    const friend = await withChat(ctx, async (c) => {
      const f = await findFriend(c, positionals[0]);
      await c.request("friend.remove", { user_id: f.user.id });
      return f.user;
    });
    ctx.print({ removed: friend }, () => [`${userLabel(friend)} is no longer your friend`]);
  },
};
