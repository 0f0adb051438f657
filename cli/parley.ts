/**
 * `parley`: the terminal client of Parley. Parses the global flags, picks
 * the command (each in its own module under commands/, loaded lazily) and
 * turns every failure into one line on stderr and an exit code:
 * 0 ok, 1 error, 2 usage. `parley` alone opens the chat screen.
 */
import type { ParseArgsOptionsConfig } from "node:util";
import type { Command } from "./lib/command.ts";
import { dispatch } from "./lib/dispatch.ts";
import { Context, explain, readEnv, stdio } from "./lib/parley_context.ts";

const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  register: () => import("./commands/register.ts"),
  login: () => import("./commands/login.ts"),
  logout: () => import("./commands/logout.ts"),
  "reset-password": () => import("./commands/reset_password.ts"),
  passwd: () => import("./commands/passwd.ts"),
  whoami: () => import("./commands/whoami.ts"),
  profile: () => import("./commands/profile.ts"),
  search: () => import("./commands/search.ts"),
  add: () => import("./commands/add.ts"),
  requests: () => import("./commands/requests.ts"),
  accept: () => import("./commands/accept.ts"),
  decline: () => import("./commands/decline.ts"),
  friends: () => import("./commands/friends.ts"),
  remove: () => import("./commands/remove.ts"),
  send: () => import("./commands/send.ts"),
  history: () => import("./commands/history.ts"),
  chat: () => import("./commands/chat.ts"),
};

const GLOBAL: ParseArgsOptionsConfig = {
  server: { type: "string", short: "s" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
};

export const VERSION = "0.1.0";

const HELP = `parley — chat from your terminal

Usage: parley [COMMAND] [ARGS] [--server URL] [--json]

Account:
  register              create an account (a code is mailed to you)
  login [LOGIN]         log in with your name or e-mail
  logout                log out and forget the session
  reset-password        set a new password with a mailed code
  passwd                change your password
  whoami                show who you are logged in as
  profile               show or change your display name and bio

Friends:
  search QUERY          find people by name prefix or exact e-mail
  add USER [GREETING]   ask USER to be your friend
  requests              list pending friend requests
  accept USER           accept USER's request
  decline USER          decline USER's request
  friends               list your friends and who is online
  remove USER           end a friendship

Messages:
  chat                  the interactive chat screen (also: parley alone)
  send USER TEXT...     send one message (TEXT "-" reads stdin)
  history USER          show a conversation

Global flags:
  -s, --server URL      the Parley server (gate); also PARLEY_SERVER
                        (default http://127.0.0.1:8080, or the one you logged in to)
      --json            machine-readable output for listing commands
  -h, --help            help for parley or a command

Your session is kept in $XDG_CONFIG_HOME/parley/session.json (mode 0600);
PARLEY_CONFIG_DIR names another directory. Run \`parley COMMAND --help\` for more.`;

/** Runs `parley` with `args`; resolves with the exit code. */
export function main(args: string[]): Promise<number> {
  return dispatch<Context>(
    {
      name: "parley",
      commands: COMMANDS,
      global: GLOBAL,
      help: HELP,
      defaultCommand: "chat",
      version: VERSION,
      context: (values) =>
        new Context(readEnv(), {
          server: values.server as string | undefined,
          json: values.json === true,
        }),
      explain: (e) => explain(e),
    },
    args,
    stdio,
  );
}

if (import.meta.main) {
  const code = await main(Deno.args);
  Deno.exit(code);
}
