/**
 * Shared output of the admin commands: print once, or with --watch redraw
 * every 2 seconds (on a terminal the screen is cleared each time; with
 * --json one compact JSON document per line). While watching, a failed
 * call is shown and retried rather than ending the watch. Times are
 * 24-hour, like everywhere else in both programs.
 */
import { AppError } from "../../proto/errors.ts";
import { clockSeconds } from "../lib/format.ts";
import { type AdminContext, explainAdmin, show } from "./admin_context.ts";

export const WATCH_MS = 2000;

/** One screen of --watch output on a terminal: cleared, the text, a 24-hour stamp. */
export function watchFrame(text: string, now: number, everyMs = WATCH_MS): string {
  return `\x1b[H\x1b[2J${text}\n\nevery ${everyMs / 1000}s · ${clockSeconds(now)} · Ctrl-C stops`;
}

export async function watchable(
  ctx: AdminContext,
  watch: boolean,
  fetch: () => Promise<{ value: unknown; lines: string[] }>,
): Promise<number> {
  if (!watch) {
    const { value, lines } = await fetch();
    show(ctx, value, () => lines);
    return 0;
  }
  for (;;) {
    let text: string;
    try {
      const { value, lines } = await fetch();
      text = ctx.json ? JSON.stringify(value) : lines.join("\n");
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      if (e.code === "admin_unauthorized") throw e;
      text = `parley-admin: ${explainAdmin(e, ctx)}`;
    }
    if (ctx.json) ctx.io.out(text);
    else if (ctx.io.stdoutIsTerminal) ctx.io.out(watchFrame(text, Date.now()));
    else ctx.io.out(text + "\n");
    await new Promise((r) => setTimeout(r, WATCH_MS));
  }
}
