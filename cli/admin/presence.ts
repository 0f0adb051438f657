/** `parley-admin presence USER`: is USER online, and every session (device) USER has open. */
import type { PresenceInfo } from "../../proto/services.ts";
import type { Command } from "../lib/command.ts";
import { ago, formatTime, table } from "../lib/format.ts";
import { sanitizeLine } from "../lib/sanitize.ts";
import { type AdminContext, show, userRef } from "./admin_context.ts";
import { presenceJson } from "./json.ts";

/** The first line: online on the newest session's node, or offline and when last seen. */
export function presenceLine(p: PresenceInfo): string {
  const who = `${sanitizeLine(p.name)} (#${p.user_id})`;
  if (p.online) {
    return `${who}: online on ${sanitizeLine(p.node)} since ${formatTime(p.since_ms)} ` +
      `(session ${sanitizeLine(p.session_id)})`;
  }
  return `${who}: offline${p.last_seen_ms ? `, last seen ${ago(p.last_seen_ms)}` : ""}`;
}

/**
 * Every open session, oldest first: its id (for `kick --session`), node,
 * device label (or the device id when the client gave no label) and start.
 */
export function sessionTable(p: PresenceInfo): string[] {
  const sessions = p.sessions ?? [];
  if (sessions.length === 0) return [];
  return table(
    ["SESSION", "NODE", "DEVICE", "SINCE"],
    sessions.map((s) => [
      sanitizeLine(s.session_id),
      sanitizeLine(s.node),
      sanitizeLine(s.label || s.device || "-"),
      formatTime(s.since_ms),
    ]),
  );
}

export const command: Command<AdminContext> = {
  name: "presence",
  summary: "Show whether USER (a name, an e-mail or #ID) is online, and each open session: " +
    "its id, node, device and since when.",
  usage: "parley-admin presence USER [--json]",
  args: { min: 1, max: 1 },
  async run(ctx, { positionals }) {
    const p = await ctx.status.Presence(userRef(positionals[0]), ctx.call);
    show(ctx, presenceJson(p), () => [presenceLine(p), ...sessionTable(p).map((l) => `  ${l}`)]);
  },
};
