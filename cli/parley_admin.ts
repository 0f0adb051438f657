/**
 * `parley-admin`: the operator's tool. Talks to the status role over gRPC
 * with the admin token (proto/services.ts statusClient) and prints nodes,
 * who is online, presence and sessions, users and totals, or ends sessions. A refused
 * token or an unreachable status role is one line on stderr and exit 1;
 * bad flags exit 2.
 */
import type { ParseArgsOptionsConfig } from "node:util";
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
import { dispatch } from "./lib/dispatch.ts";
import { stdio } from "./lib/parley_context.ts";

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
  presence USER              is USER online; each session: id, node, device, since
  kick USER [--session ID] [--reason TEXT]
                             end USER's live sessions, or only session ID
  user USER                  profile, friends and messages counts, sessions
  stats [--watch]            users, messages, sessions per node

USER is a user name, an e-mail address, or #ID.

Flags:
  --status ADDR   the status role's gRPC address (host:port); also
                  PARLEY_STATUS_ADDR (default ${DEFAULT_STATUS})
  --token TOKEN   the admin token; also PARLEY_ADMIN_TOKEN, else the file
                  .data/admin.token (under PARLEY_DATA_DIR if set)
  --json          machine-readable output (with --watch: one JSON per line):
                  times are Unix ms in fields named *_at, absent values null
  -h, --help      this help, or a command's

nodes and stats also take -w, --watch: redraw every 2 seconds.`;

/** Runs `parley-admin` with `args`; resolves with the exit code. */
export function main(args: string[]): Promise<number> {
  return dispatch<AdminContext>(
    {
      name: "parley-admin",
      commands: COMMANDS,
      global: GLOBAL,
      help: HELP,
      context(values) {
        const env = readAdminEnv();
        const address = (values.status as string | undefined) ?? env.PARLEY_STATUS_ADDR ??
          DEFAULT_STATUS;
        const token = resolveToken(values.token as string | undefined, env);
        return {
          status: statusClient(address),
          address,
          tokenFrom: token.from,
          call: adminCall(token.token),
          json: values.json === true,
          io: stdio,
        };
      },
      explain: explainAdmin,
      done: (ctx) => ctx.status.close(),
    },
    args,
    stdio,
  );
}

if (import.meta.main) Deno.exit(await main(Deno.args));
