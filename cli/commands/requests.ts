/** `parley requests`: pending friend requests, to you and from you. */
import { type Command, withChat } from "../lib/command.ts";
import { ago, userLabel } from "../lib/format.ts";
import { sanitizeLine } from "../lib/sanitize.ts";

export const command: Command = {
  name: "requests",
  summary: "List pending friend requests: the ones others sent you, and yours still waiting.",
  usage: "parley requests [--json]",
  args: { min: 0, max: 0 },
  async run(ctx) {
    const res = await withChat(ctx, (c) => c.request("friend.requests", {}));
    ctx.print(res, () => {
      if (res.incoming.length === 0 && res.outgoing.length === 0) {
        return ["no pending friend requests"];
      }
      const lines: string[] = [];
      if (res.incoming.length) {
        lines.push("To you (parley accept USER / parley decline USER):");
        for (const r of res.incoming) {
          const greeting = r.greeting ? ` "${sanitizeLine(r.greeting)}"` : "";
          lines.push(`  ${userLabel(r.from)}${greeting} — ${ago(r.created_at)}`);
        }
      }
      if (res.outgoing.length) {
        lines.push("From you:");
        for (const r of res.outgoing) lines.push(`  ${userLabel(r.to)} — ${ago(r.created_at)}`);
      }
      return lines;
    });
  },
};
