/** `parley-admin nodes`: the live chat nodes and their load. */
import type { NodeInfo } from "../../proto/services.ts";
import type { Command } from "../lib/command.ts";
import { duration, table } from "../lib/format.ts";
import { sanitizeLine } from "../lib/sanitize.ts";
import type { AdminContext } from "./admin_context.ts";
import { nodeJson } from "./json.ts";
import { watchable } from "./watch.ts";

export function nodeTable(nodes: NodeInfo[], now = Date.now()): string[] {
  if (nodes.length === 0) return ["no live chat nodes"];
  return table(
    ["NAME", "STATE", "SESSIONS", "HEARTBEAT", "UP", "RESTARTS", "WEBSOCKET", "GRPC"],
    nodes.map((n) => [
      sanitizeLine(n.name),
      sanitizeLine(n.state),
      String(n.sessions),
      `${duration(n.heartbeat_age_ms)} ago`,
      n.started_at_ms ? duration(now - n.started_at_ms) : "?",
      String(n.restarts ?? 0),
      sanitizeLine(n.ws_url),
      sanitizeLine(n.grpc_addr),
    ]),
    [2, 5],
  );
}

export const command: Command<AdminContext> = {
  name: "nodes",
  summary:
    "List the live chat nodes: name, state, sessions, heartbeat age, uptime, restarts, addresses.",
  usage: "parley-admin nodes [--watch] [--json]",
  options: { watch: { type: "boolean", short: "w" } },
  args: { min: 0, max: 0 },
  run: (ctx, { values }) =>
    watchable(ctx, values.watch === true, async () => {
      const { nodes } = await ctx.status.ListNodes({}, ctx.call);
      return { value: nodes.map(nodeJson), lines: nodeTable(nodes) };
    }),
};
