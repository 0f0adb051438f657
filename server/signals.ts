/**
 * What a server process does on SIGTERM and SIGINT (README "Signals"):
 *
 * - SIGTERM: a graceful stop. Chat nodes drain (every session is told to
 *   `reconnect` and closed with 1012, for up to chat.drainTimeoutMs), then
 *   every role closes. Further SIGTERMs change nothing: systemd, Docker and
 *   Kubernetes signal a service's whole process group, and `deno task`
 *   forwards the signal it gets to its child too, so one stop request can
 *   reach the server two or three times.
 * - SIGINT: a prompt stop. Before or during a drain, it skips (or cuts
 *   short) the drain and closes every role now. A further SIGINT exits at
 *   once with 130, except within DUPLICATE_MS of the previous one: a Ctrl-C
 *   under `deno task serve` arrives twice (from the terminal to the process
 *   group, and forwarded by deno task).
 */
import type { Logger } from "./log.ts";

/** Signals of one kind closer together than this are the same request delivered twice. */
export const DUPLICATE_MS = 250;

export interface Stoppable {
  /** Moves clients away (chat); resolves when they left or the drain timed out. */
  drain(): Promise<void>;
  /** Closes every role. */
  close(): Promise<void>;
}

export interface SignalSource {
  on(signal: "SIGTERM" | "SIGINT", handler: () => void): void;
}

export const processSignals: SignalSource = {
  on: (signal, handler) => Deno.addSignalListener(signal, handler),
};

export interface SignalOptions {
  log: Logger;
  signals?: SignalSource;
  /** Ends the process at once; `Deno.exit` by default. */
  exit?: (code: number) => void;
  now?: () => number;
}

/**
 * Waits for the first SIGTERM or SIGINT and stops `server` as described
 * above. Resolves with the exit code once every role is closed (0), unless
 * a second SIGINT exits first.
 */
export function stopOnSignals(server: Stoppable, options: SignalOptions): Promise<number> {
  const { log } = options;
  const signals = options.signals ?? processSignals;
  const exit = options.exit ?? ((code: number) => Deno.exit(code));
  const now = options.now ?? Date.now;
  const { promise: done, resolve } = Promise.withResolvers<number>();
  const { promise: cutShort, resolve: cut } = Promise.withResolvers<void>();
  let phase: "running" | "draining" | "closing" = "running";
  let lastInt = -Infinity;

  const stop = async (drain: boolean) => {
    if (drain) {
      phase = "draining";
      await Promise.race([server.drain(), cutShort]);
    }
    phase = "closing";
    await server.close();
    log.info("stopped");
    resolve(0);
  };

  signals.on("SIGTERM", () => {
    if (phase !== "running") {
      log.info("SIGTERM again: already stopping; SIGINT stops at once", { phase });
      return;
    }
    log.info("shutting down", { signal: "SIGTERM", drain: true });
    stop(true).catch((e) => {
      log.error("shutdown failed", { error: e });
      resolve(1);
    });
  });

  signals.on("SIGINT", () => {
    const t = now();
    const duplicate = t - lastInt < DUPLICATE_MS;
    lastInt = t;
    if (phase === "running") {
      log.info("shutting down", { signal: "SIGINT", drain: false });
      stop(false).catch((e) => {
        log.error("shutdown failed", { error: e });
        resolve(1);
      });
    } else if (phase === "draining") {
      log.info("SIGINT during the drain: closing now");
      cut();
    } else if (!duplicate) {
      log.warn("SIGINT again: exiting without closing cleanly");
      exit(130);
    }
  });
  return done;
}
