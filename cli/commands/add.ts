/** `parley add USER [GREETING...]`: ask someone to be your friend. */
import { type Command, withChat } from "../lib/command.ts";
import { userLabel } from "../lib/format.ts";
import { findUser } from "../lib/users.ts";

export const command: Command = {
  name: "add",
  summary: "Send USER a friend request, with an optional greeting (at most 200 characters).",
  usage: "parley add USER [GREETING...]",
  args: { min: 1, max: Infinity },
  async run(ctx, { positionals }) {
    const [name, ...words] = positionals;
    const greeting = words.join(" ");
    const res = await withChat(ctx, async (c) => {
      const user = await findUser(c, name, c.welcome.user);
      return await c.request("friend.request", {
        user_id: user.id,
        ...(greeting ? { greeting } : {}),
      });
    });
    const who = userLabel(res.user);
    ctx.print(res, () => [
      res.status === "accepted"
        ? `${who} had asked you too — you are now friends`
        : res.status === "already_sent"
        ? `you already asked ${who}; waiting for an answer`
        : `friend request sent to ${who}`,
    ]);
  },
};
