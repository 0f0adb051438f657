/** `parley logout`: end the session at the gate and forget it here. */
import { AppError } from "../../proto/errors.ts";
import type { Command } from "../lib/command.ts";
import { GateClient } from "../lib/gate_client.ts";
import { clearSession } from "../lib/session_file.ts";

export const command: Command = {
  name: "logout",
  summary: "Log out: the server revokes the session and this computer forgets it.",
  usage: "parley logout",
  args: { min: 0, max: 0 },
  async run(ctx) {
    const s = await ctx.savedSession();
    if (!s) {
      ctx.io.out("not logged in");
      return;
    }
    try {
      await new GateClient(s.server, s.token).logout();
    } catch (e) {
      // An expired or revoked token is as good as logged out; an unreachable
      // gate is not, so say so.
      if (!(e instanceof AppError) || e.status !== 401) {
        ctx.io.err(
          `parley: the server was not told (${e instanceof AppError ? e.message : e}); ` +
            `the session was forgotten here`,
        );
      }
    }
    await clearSession(ctx.configDir);
    ctx.io.out("logged out");
  },
};
