/**
 * Shared output of the admin commands: print once, or with --watch redraw
 * every 2 seconds (on a terminal the screen is cleared each time; with
 * --json one compact JSON document per line). While watching, a failed
 * call is shown and retried rather than ending the watch.
 */
import { AppError } from "../../proto/errors.ts";
import { type AdminContext, explainAdmin } from "./admin_context.ts";

export const WATCH_MS = 2000;

export async function watchable(
  ctx: AdminContext,
  watch: boolean,
  fetch: () => Promise<{ value: unknown; lines: string[] }>,
): Promise<number> {
  if (!watch) {
    const { value, lines } = await fetch();
    if (ctx.json) ctx.io.out(JSON.stringify(value, null, 2));
    else for (const l of lines) ctx.io.out(l);
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
      text = `parley-admin: ${explainAdmin(e, ctx.status.target)}`;
    }
    if (ctx.json) ctx.io.out(text);
    else if (ctx.io.stdoutIsTerminal) {
      const stamp = new Date().toLocaleTimeString();
      ctx.io.out(`\x1b[H\x1b[2J${text}\n\nevery ${WATCH_MS / 1000}s · ${stamp} · Ctrl-C stops`);
    } else ctx.io.out(text + "\n");
    await new Promise((r) => setTimeout(r, WATCH_MS));
  }
}
