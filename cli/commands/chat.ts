/** `parley chat` (or `parley` alone): the chat screen, or plain lines when not on a terminal. */
import type { Command } from "../lib/command.ts";

export const command: Command = {
  name: "chat",
  summary:
    "Chat: the interactive screen on a terminal; plain lines when stdin or stdout is not one.",
  usage: "parley chat [--plain] [--listen]",
  help: `On the screen: Up/Down pick a conversation, Enter sends, Alt-Enter starts a new
line, Ctrl-Up/Ctrl-Down bring back what you sent, PgUp/PgDn scroll, Ctrl-C quits;
F1 (or ? on an empty input) lists every key. Commands typed in the input line:
/add NAME [greeting], /accept NAME, /decline NAME, /requests, /search TEXT, /help, /quit.

Plain mode (--plain, or when not on a terminal) reads lines from stdin:
  @bob hello there    sends "hello there" to bob
  more text           sends to the last person you wrote to or heard from
  /quit               leaves
and prints one line per event:
  [12:03] bob: hello          a message to you (marked read)
  [12:04] you → bob: hi       your message, stored by the server
  * bob is online             presence, receipts, friend requests
Errors go to stderr starting with "!". When stdin ends, it exits once
everything was sent: 0, or 1 if a line could not be sent (refused by the
server, to someone who is not a friend, or with no @NAME to say who it is
for); --listen keeps printing incoming messages instead.`,
  options: { plain: { type: "boolean" }, listen: { type: "boolean" } },
  args: { min: 0, max: 0 },
  async run(ctx, { values }) {
    const session = await ctx.session();
    const device = await ctx.device(session);
    if (!values.plain && ctx.io.stdinIsTerminal && ctx.io.stdoutIsTerminal) {
      const { runChatScreen } = await import("../tui/app.ts");
      return await runChatScreen(ctx, session, device);
    }
    const { runLineMode } = await import("../tui/line_mode.ts");
    return await runLineMode(ctx, session, device, { listen: values.listen === true });
  },
};
