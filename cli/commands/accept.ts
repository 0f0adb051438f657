/** `parley accept USER`: accept USER's friend request. */
import { type Command, withChat } from "../lib/command.ts";
import { userLabel } from "../lib/format.ts";
import { friendJson } from "../lib/json.ts";
import { findIncoming } from "../lib/users.ts";

export const command: Command = {
  name: "accept",
  summary: "Accept the friend request USER sent you.",
  usage: "parley accept USER",
  args: { min: 1, max: 1 },
  async run(ctx, { positionals }) {
    const { friend } = await withChat(ctx, async (c) => {
      const req = await findIncoming(c, positionals[0]);
      return await c.request("friend.accept", { user_id: req.from.id });
    });
    ctx.print(
      { friend: friendJson(friend) },
      () => [`you and ${userLabel(friend.user)} are now friends`],
    );
  },
};
