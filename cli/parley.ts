/**
 * `parley`: the terminal client of Parley. Parses the global flags, picks
 * the command (each in its own module under commands/, loaded lazily) and
 * turns every failure into one line on stderr and an exit code:
 * 0 ok, 1 error, 2 usage. `parley` alone opens the chat screen.
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { AppError } from "../proto/errors.ts";
import type { Command } from "./lib/command.ts";
import { CliError, Context, explain, readEnv, stdio, UsageError } from "./lib/parley_context.ts";

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

function commandHelp(c: Command): string {
  return `${c.usage}\n\n${c.summary}${c.help ? `\n\n${c.help}` : ""}\n\n` +
    `Global flags: --server URL, --json, --help (see \`parley --help\`)`;
}

/** Runs `parley` with `args`; resolves with the exit code. */
export async function main(args: string[], ctx?: Context): Promise<number> {
  // Find the command name: the first positional, skipping global flags' values.
  let tokens;
  try {
    ({ tokens } = parseArgs({
      args,
      options: GLOBAL,
      strict: false,
      allowPositionals: true,
      tokens: true,
    }));
  } catch (e) {
    stdio.err(`parley: ${(e as Error).message}`);
    return 2;
  }
  const first = tokens.find((t) => t.kind === "positional");
  const name = first?.kind === "positional" ? first.value : "chat";
  const rest = first?.kind === "positional"
    ? [...args.slice(0, first.index), ...args.slice(first.index + 1)]
    : args;

  if (!first && (args.includes("--help") || args.includes("-h"))) {
    stdio.out(HELP);
    return 0;
  }
  if (!first && args.includes("--version")) {
    stdio.out(`parley ${VERSION}`);
    return 0;
  }
  if (name === "help") {
    stdio.out(HELP);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    stdio.err(`parley: unknown command "${name}" — see \`parley --help\``);
    return 2;
  }
  const { command } = await load();

  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...GLOBAL, ...command.options },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    stdio.err(`parley ${name}: ${(e as Error).message} — see \`parley ${name} --help\``);
    return 2;
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    stdio.out(commandHelp(command));
    return 0;
  }
  const n = parsed.positionals.length;
  if (n < command.args.min || n > command.args.max) {
    stdio.err(`parley ${name}: usage: ${command.usage}`);
    return 2;
  }

  ctx ??= new Context(readEnv(), {
    server: values.server as string | undefined,
    json: values.json === true,
  });
  try {
    return (await command.run(ctx, { positionals: parsed.positionals, values })) ?? 0;
  } catch (e) {
    if (e instanceof CliError) {
      ctx.io.err(
        `parley: ${e.message}${e instanceof UsageError ? ` — see \`parley ${name} --help\`` : ""}`,
      );
      return e.exitCode;
    }
    if (e instanceof AppError) {
      ctx.io.err(`parley: ${explain(e)}`);
      return 1;
    }
    ctx.io.err(`parley: unexpected error: ${(e as Error)?.stack ?? e}`);
    return 1;
  }
}

if (import.meta.main) {
  const code = await main(Deno.args);
  Deno.exit(code);
}
