/** `parley profile`: show or change your display name and bio. */
import type { Command } from "../lib/command.ts";
import { userLabel } from "../lib/format.ts";
import { sanitizeLine } from "../lib/sanitize.ts";

export const command: Command = {
  name: "profile",
  summary: "Show your profile, or change it with --display-name and --bio.",
  usage: "parley profile [--display-name NAME] [--bio TEXT] [--json]",
  options: { "display-name": { type: "string" }, bio: { type: "string" } },
  args: { min: 0, max: 0 },
  async run(ctx, { values }) {
    const gate = await ctx.gate(true);
    const patch: { display_name?: string; bio?: string } = {};
    if (typeof values["display-name"] === "string") patch.display_name = values["display-name"];
    if (typeof values.bio === "string") patch.bio = values.bio;
    const { user } = Object.keys(patch).length ? await gate.updateMe(patch) : await gate.me();
    ctx.print({ user }, () => [
      userLabel(user),
      ...(user.bio ? [sanitizeLine(user.bio)] : []),
    ]);
  },
};
