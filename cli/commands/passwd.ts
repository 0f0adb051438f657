/** `parley passwd`: change your password (you stay logged in here). */
import type { Command } from "../lib/command.ts";
import { readPassword } from "../lib/passwords.ts";
import { logIn } from "./login.ts";

export const command: Command = {
  name: "passwd",
  summary: "Change your password. Other sessions of the account are logged out.",
  usage: "parley passwd",
  args: { min: 0, max: 0 },
  async run(ctx) {
    const s = await ctx.session();
    const gate = await ctx.gate(true);
    const old = await readPassword(ctx, { label: "Current password", useEnv: false });
    const next = await readPassword(ctx, { label: "New password", isNew: true, useEnv: false });
    await gate.changePassword(old, next);
    // The change may revoke this session's token too: log in again with the new one.
    await logIn(ctx, s.user.name, next);
    ctx.io.out("password changed");
  },
};
