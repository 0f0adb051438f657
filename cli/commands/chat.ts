/** `parley chat` (or `parley` alone): the chat screen, or plain lines when not on a terminal. */
import type { Command } from "../lib/command.ts";

export const command: Command = {
  name: "chat",
  summary:
    "Chat: the interactive screen on a terminal; plain lines when stdin or stdout is not one.",
  usage: "parley chat [--plain] [--listen]",
  help: `On the screen: Up/Down (or Tab, Ctrl-N/Ctrl-P) pick a conversation, Enter sends,
PgUp/PgDn scroll, Ctrl-R reconnects after you signed in elsewhere, Ctrl-C quits.
Commands typed in the input line: /add NAME [greeting], /accept NAME,
/decline NAME, /requests, /quit.

Plain mode (--plain, or when not on a terminal) reads lines from stdin:
  @bob hello there    sends "hello there" to bob
  more text           sends to the last person you wrote to or heard from
  /quit               leaves
and prints one line per event:
  [12:03] bob: hello          a message to you (marked read)
  [12:04] you → bob: hi       your message, stored by the server
  * bob is online             presence, receipts, friend requests
Errors go to stderr starting with "!". When stdin ends, it exits once
everything was sent (exit 1 if something could not be); --listen keeps
printing incoming messages instead.`,
  options: { plain: { type: "boolean" }, listen: { type: "boolean" } },
  args: { min: 0, max: 0 },
  async run(ctx, { values }) {
    const session = await ctx.session();
    if (!values.plain && ctx.io.stdinIsTerminal && ctx.io.stdoutIsTerminal) {
      const { runChatScreen } = await import("../tui/app.ts");
      return await runChatScreen(ctx, session);
    }
    const { runLineMode } = await import("../tui/line_mode.ts");
    return await runLineMode(ctx, session, { listen: values.listen === true });
  },
};
