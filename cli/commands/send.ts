/** `parley send USER TEXT...`: send one message. */
import { AppError } from "../../proto/errors.ts";
import { MAX_TEXT_CHARS } from "../../proto/protocol.ts";
import { type Command, withChat } from "../lib/command.ts";
import { CliError } from "../lib/parley_context.ts";
import { clock } from "../lib/format.ts";
import { sanitizeLine } from "../lib/sanitize.ts";
import { findUser } from "../lib/users.ts";

async function readStdin(): Promise<string> {
  return (await new Response(Deno.stdin.readable).text()).replace(/\r?\n$/, "");
}

export const command: Command = {
  name: "send",
  summary: "Send a message to USER (a friend). TEXT is the rest of the line; " +
    `"-" reads it from stdin. At most ${MAX_TEXT_CHARS} characters.`,
  usage: "parley send USER TEXT...",
  args: { min: 2, max: Infinity },
  async run(ctx, { positionals }) {
    const [name, ...words] = positionals;
    const text = words.length === 1 && words[0] === "-" ? await readStdin() : words.join(" ");
    if (text.trim() === "") throw new CliError("nothing to send", 2);
    if ([...text].length > MAX_TEXT_CHARS) {
      throw new CliError(`a message is at most ${MAX_TEXT_CHARS} characters`, 2);
    }
    const res = await withChat(ctx, async (c) => {
      const user = await findUser(c, name, c.welcome.user);
      try {
        const client_id = crypto.randomUUID();
        return await c.request("msg.send", { to: user.id, text, client_id });
      } catch (e) {
        if (e instanceof AppError && e.code === "not_friends") {
          const who = sanitizeLine(user.name);
          throw new CliError(`${who} is not your friend — \`parley add ${who}\` first`);
        }
        throw e;
      }
    });
    ctx.print(
      res.message,
      () => [`sent to ${sanitizeLine(name)} at ${clock(res.message.sent_at)}`],
    );
  },
};
