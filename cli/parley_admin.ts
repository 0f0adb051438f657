/**
 * `parley-admin`: the operator's tool. Talks to the status role over gRPC
 * with the admin token (proto/services.ts statusClient) and prints nodes,
 * who is online, presence, users and totals, or kicks a session. A refused
 * token or an unreachable status role is one line on stderr and exit 1;
 * bad flags exit 2.
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { AppError } from "../proto/errors.ts";
import { statusClient } from "../proto/services.ts";
import {
  adminCall,
  type AdminContext,
  DEFAULT_STATUS,
  explainAdmin,
  readAdminEnv,
  resolveToken,
} from "./admin/admin_context.ts";
import type { Command } from "./lib/command.ts";
import { CliError, stdio } from "./lib/parley_context.ts";

const COMMANDS: Record<string, () => Promise<{ command: Command<AdminContext> }>> = {
  nodes: () => import("./admin/nodes.ts"),
  online: () => import("./admin/online.ts"),
  presence: () => import("./admin/presence.ts"),
  kick: () => import("./admin/kick.ts"),
  user: () => import("./admin/user.ts"),
  stats: () => import("./admin/stats.ts"),
};

const GLOBAL: ParseArgsOptionsConfig = {
  status: { type: "string" },
  token: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

const HELP = `parley-admin — look after a Parley cluster

Usage: parley-admin COMMAND [ARGS] [--status ADDR] [--token TOKEN] [--json]

Commands:
  nodes [--watch]            live chat nodes: state, sessions, heartbeat, addresses
  online [--limit N] [--cursor C]
                             how many users are online, and a page of them
  presence USER              is USER online, where, since when
  kick USER [--reason TEXT]  end USER's live session
  user USER                  profile, friends and messages counts, session
  stats [--watch]            users, messages, sessions per node

USER is a user name, an e-mail address, or #ID.

Flags:
  --status ADDR   the status role's gRPC address (host:port); also
                  PARLEY_STATUS_ADDR (default ${DEFAULT_STATUS})
  --token TOKEN   the admin token; also PARLEY_ADMIN_TOKEN, else the file
                  .data/admin.token (under PARLEY_DATA_DIR if set)
  --json          machine-readable output (with --watch: one JSON per line)
  -w, --watch     redraw every 2 seconds (nodes, stats)
  -h, --help      this help, or a command's`;

export async function main(args: string[]): Promise<number> {
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
    stdio.err(`parley-admin: ${(e as Error).message}`);
    return 2;
  }
  const first = tokens.find((t) => t.kind === "positional");
  if (!first || first.kind !== "positional" || first.value === "help") {
    if (args.includes("--help") || args.includes("-h") || first) {
      stdio.out(HELP);
      return 0;
    }
    stdio.err(`parley-admin: no command given\n\n${HELP}`);
    return 2;
  }
  const name = first.value;
  const load = COMMANDS[name];
  if (!load) {
    stdio.err(`parley-admin: unknown command "${name}" — see \`parley-admin --help\``);
    return 2;
  }
  const { command } = await load();
  const rest = [...args.slice(0, first.index), ...args.slice(first.index + 1)];
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...GLOBAL, ...command.options },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    stdio.err(
      `parley-admin ${name}: ${(e as Error).message} — see \`parley-admin ${name} --help\``,
    );
    return 2;
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    stdio.out(`${command.usage}\n\n${command.summary}${command.help ? `\n\n${command.help}` : ""}`);
    return 0;
  }
  const n = parsed.positionals.length;
  if (n < command.args.min || n > command.args.max) {
    stdio.err(`parley-admin ${name}: usage: ${command.usage}`);
    return 2;
  }

  const env = readAdminEnv();
  const address = (values.status as string | undefined) ?? env.PARLEY_STATUS_ADDR ??
    DEFAULT_STATUS;
  let status;
  try {
    const token = resolveToken(values.token as string | undefined, env, stdio.err);
    status = statusClient(address);
    const ctx: AdminContext = {
      status,
      call: adminCall(token),
      json: values.json === true,
      io: stdio,
    };
    return (await command.run(ctx, { positionals: parsed.positionals, values })) ?? 0;
  } catch (e) {
    if (e instanceof CliError) {
      stdio.err(`parley-admin: ${e.message}`);
      return e.exitCode;
    }
    if (e instanceof AppError) {
      stdio.err(`parley-admin: ${explainAdmin(e, address)}`);
      return 1;
    }
    stdio.err(`parley-admin: unexpected error: ${(e as Error)?.message ?? e}`);
    return 1;
  } finally {
    status?.close();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
