/**
 * The interactive chat screen: puts the terminal in raw mode on the
 * alternate screen, starts the ChatScreen (controller.ts), feeds it the
 * keys (keys.ts → key_actions.ts) and the window size (SIGWINCH), and puts
 * everything back on the way out, listing messages that could not be sent.
 * The keys are listed in help.ts (F1 or ? on the screen).
 */
import type { Device } from "../lib/device_file.ts";
import type { Context } from "../lib/parley_context.ts";
import type { Session } from "../lib/session_file.ts";
import { ChatScreen } from "./controller.ts";
import { handleKey } from "./key_actions.ts";
import { parseKeys } from "./keys.ts";
import { Screen } from "./screen.ts";

const enc = new TextEncoder();

function writeAll(text: string): void {
  let buf = enc.encode(text);
  while (buf.length > 0) buf = buf.subarray(Deno.stdout.writeSync(buf));
}

export async function runChatScreen(
  ctx: Context,
  session: Session,
  device: Device,
): Promise<number> {
  const { promise: quit, resolve: stop } = Promise.withResolvers<number>();
  const screen = new Screen(writeAll);
  const app = new ChatScreen(ctx, session, device, screen, Deno.consoleSize(), stop);
  const onResize = () => {
    try {
      app.size = Deno.consoleSize();
    } catch { /* not a terminal any more */ }
    screen.invalidate();
    app.draw();
  };
  const onTerm = () => stop(130);
  const signals: [Deno.Signal, () => void][] = Deno.build.os === "windows"
    ? []
    : [["SIGWINCH", onResize], ["SIGTERM", onTerm], ["SIGHUP", onTerm]];
  for (const [sig, fn] of signals) Deno.addSignalListener(sig, fn);
  // Redraws the clock-driven parts: "reconnecting in Ns", notices that expire, "typing…".
  const ticker = setInterval(app.redraw, 1000);

  Deno.stdin.setRaw(true);
  screen.enter();
  try {
    app.client.start();
    app.draw();
    readKeys(app).catch((e) => {
      app.report(e);
      stop(1);
    });
    return await quit;
  } finally {
    clearInterval(ticker);
    for (const [sig, fn] of signals) Deno.removeSignalListener(sig, fn);
    const unsent = app.client.outbox();
    app.client.stop("quit");
    screen.leave();
    Deno.stdin.setRaw(false);
    if (unsent.length) {
      ctx.io.err(
        `parley: ${unsent.length} message${unsent.length === 1 ? " was" : "s were"} not sent ` +
          `(offline): ${unsent.map((m) => JSON.stringify(m.text)).join(", ")}`,
      );
    }
  }
}

/** Reads keys until stdin ends; the pending read is abandoned when the process exits. */
async function readKeys(app: ChatScreen): Promise<void> {
  const buf = new Uint8Array(4096);
  const dec = new TextDecoder();
  let rest = "";
  for (;;) {
    const n = await Deno.stdin.read(buf);
    if (n === null) return app.quit(0);
    const parsed = parseKeys(rest + dec.decode(buf.subarray(0, n), { stream: true }));
    rest = parsed.rest;
    for (const k of parsed.keys) handleKey(app, k);
  }
}
