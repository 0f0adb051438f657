/** `parley decline USER`: decline USER's friend request. */
import { type Command, withChat } from "../lib/command.ts";
import { userLabel } from "../lib/format.ts";
import { findIncoming } from "../lib/users.ts";

export const command: Command = {
  name: "decline",
  summary: "Decline the friend request USER sent you.",
  usage: "parley decline USER",
  args: { min: 1, max: 1 },
  async run(ctx, { positionals }) {
    const from = await withChat(ctx, async (c) => {
      const req = await findIncoming(c, positionals[0]);
      await c.request("friend.decline", { user_id: req.from.id });
      return req.from;
    });
    ctx.print({ declined: from }, () => [`declined the request from ${userLabel(from)}`]);
  },
};
