/**
 * `deno task serve --supervise`: a process manager for the roles of one
 * config. Each role runs as a child process (child.ts), started in
 * dependency order; a child that ends without being asked to is started
 * again after a backoff (250 ms, doubling up to 10 s; back to 250 ms once a
 * run lasted 30 s), so a crash is a blip, not an outage. A role that needs
 * more than 10 restarts within 2 minutes (LIMITS) is in a crash
 * loop: the supervisor stops every role and exits 1, escalating to whatever
 * runs it (systemd restarts it, or an operator sees the failure), as an
 * Erlang supervisor does past its restart intensity.
 *
 * With the in-memory engine the roles cannot be split (they share it), so
 * they run together in one child. A role configured on port 0 gets a free
 * port once; the supervisor passes it on (a derived config under
 * `<dataDir>/supervise/`, ports.ts) to the roles that dial it and to its
 * restarts.
 *
 * Signals: SIGTERM and SIGINT go to the children (server/signals.ts says
 * what each does), gate and chat first, then status and verify, whose
 * callers are gone by then; a child that has not ended by the drain timeout
 * plus 15 s is killed. Duplicates from a process-group signal are ignored by
 * the children themselves.
 */
import type { ResolvedConfig, Role } from "../config.ts";
import type { Logger } from "../log.ts";
import { DUPLICATE_MS, processSignals, type SignalSource } from "../signals.ts";
import { type RoleProcess, spawnRole } from "./child.ts";
import { PortPins } from "./ports.ts";

export interface Limits {
  firstBackoffMs: number;
  maxBackoffMs: number;
  /** A run this long resets the backoff. */
  stableMs: number;
  /** More restarts of one role than this within periodMs is a crash loop. */
  maxRestarts: number;
  periodMs: number;
}

export const LIMITS: Limits = {
  firstBackoffMs: 250,
  maxBackoffMs: 10_000,
  stableMs: 30_000,
  maxRestarts: 10,
  periodMs: 120_000,
};

/** The longest the supervisor waits for a role to listen before it starts the next. */
const READY_WAIT_MS = 30_000;

function delay(ms: number): Promise<null> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), ms);
    Deno.unrefTimer(t);
  });
}

/** Start order: what a role dials must be up before it. Stopped in reverse, in two waves. */
const ORDER: Role[] = ["verify", "status", "chat", "gate"];
const FIRST_TO_STOP = new Set<Role>(["gate", "chat"]);

export interface SuperviseOptions {
  log: Logger;
  /** The --config file the supervisor was given (children get it, or a copy with ports). */
  configFile: string | null;
  signals?: SignalSource;
  /** Backoff and crash-loop limits; LIMITS by default. */
  limits?: Partial<Limits>;
  /** Where the children's log lines go; the supervisor's stderr by default. */
  output?: (line: string) => void;
}

interface Slot {
  name: string;
  roles: Role[];
  proc: RoleProcess | null;
  restarts: number;
  /** When each restart happened, for the crash-loop check. */
  recent: number[];
  backoffMs: number;
  stopping: boolean;
}

export function supervise(config: ResolvedConfig, options: SuperviseOptions): Promise<number> {
  return new Supervisor(config, options).run();
}

/** One supervisor run: its slots, their restarts, and the stop. */
class Supervisor {
  readonly #log: Logger;
  readonly #limits: Limits;
  readonly #slots: Slot[];
  readonly #pins: PortPins;
  /**
   * The keys the supervisor resolved (given, or generated under dataDir as
   * for one process running every role) go to every child, so that roles
   * in separate processes agree without the operator exporting them.
   */
  readonly #secrets: Record<string, string>;
  readonly #finished = Promise.withResolvers<number>();
  #stopping = false;
  /** 1 once a crash loop made the supervisor give up. */
  #exitCode = 0;

  constructor(readonly config: ResolvedConfig, readonly options: SuperviseOptions) {
    this.#log = options.log;
    const limits = this.#limits = { ...LIMITS, ...options.limits };
    const roles = ORDER.filter((r) => config.roles.includes(r));
    const together = config.engineUrl === "memory:";
    this.#slots = (together ? [roles] : roles.map((r) => [r])).map((rs) => ({
      name: rs.join(","),
      roles: rs,
      proc: null,
      restarts: 0,
      recent: [],
      backoffMs: limits.firstBackoffMs,
      stopping: false,
    }));
    this.#pins = new PortPins(config, options.configFile);
    this.#secrets = {
      PARLEY_CLUSTER_SECRET: config.clusterSecret,
      PARLEY_JWT_SECRET: new TextDecoder().decode(config.jwtSecret),
      PARLEY_ADMIN_TOKEN: config.adminToken,
    };
  }

  async run(): Promise<number> {
    const slots = this.#slots;
    handleSignals(this.options.signals ?? processSignals, this.#log, {
      stop: (sig) => {
        this.#stopAll(sig).then(() => this.#finished.resolve(this.#exitCode));
      },
      forward: (sig) => {
        for (const s of slots) s.proc?.signal(sig);
      },
    });
    for (const slot of slots) {
      if (this.#stopping) break;
      await this.#start(slot);
    }
    if (!this.#stopping) {
      this.#log.info("parley is running (supervised)", {
        supervisor: true,
        roles: slots.map((s) => s.name),
        pids: Object.fromEntries(slots.map((s) => [s.name, s.proc?.pid ?? null])),
        ports: this.#pins.ports,
        pid: Deno.pid,
      });
    }
    return await this.#finished.promise;
  }

  async #start(slot: Slot): Promise<void> {
    const args = ["--role", slot.roles.join(",")];
    const file = await this.#pins.configFor(slot.name);
    if (file) args.push("--config", file);
    const proc = spawnRole(args, this.#secrets, this.options.output);
    slot.proc = proc;
    this.#log.info("role started", { role: slot.name, pid: proc.pid, restarts: slot.restarts });
    proc.status.then((s) => this.#onExit(slot, proc, s));
    // The next role may need this one's port; but one that hangs at start
    // (waiting on a database) must not hold up the others for ever.
    const ports = await Promise.race([proc.ready, delay(READY_WAIT_MS)]);
    if (ports) this.#pins.learn(ports);
  }

  #onExit(slot: Slot, proc: RoleProcess, s: Deno.CommandStatus): void {
    if (slot.proc !== proc) return;
    slot.proc = null;
    const log = this.#log, limits = this.#limits;
    const upMs = Date.now() - proc.startedAt;
    if (this.#stopping || slot.stopping) {
      log.info("role stopped", { role: slot.name, code: s.code, signal: s.signal });
      if (this.#slots.every((x) => !x.proc)) this.#finished.resolve(this.#exitCode);
      return;
    }
    log.error("role exited; restarting it", {
      role: slot.name,
      code: s.code,
      signal: s.signal,
      upMs,
      tail: proc.tail().slice(-5),
    });
    const now = Date.now();
    slot.recent = [...slot.recent.filter((t) => now - t < limits.periodMs), now];
    if (slot.recent.length > limits.maxRestarts) {
      log.error("crash loop: stopping every role", {
        role: slot.name,
        restarts: slot.recent.length,
        periodMs: limits.periodMs,
      });
      this.#exitCode = 1;
      this.#stopAll("SIGTERM").then(() => this.#finished.resolve(this.#exitCode));
      return;
    }
    slot.backoffMs = upMs >= limits.stableMs ? limits.firstBackoffMs : slot.backoffMs;
    const wait = slot.backoffMs;
    slot.backoffMs = Math.min(slot.backoffMs * 2, limits.maxBackoffMs);
    slot.restarts++;
    setTimeout(() => {
      if (!this.#stopping) {
        this.#start(slot).catch((e) =>
          log.error("could not start role", { role: slot.name, error: e })
        );
      }
    }, wait);
  }

  async #stopAll(sig: Deno.Signal): Promise<void> {
    this.#stopping = true;
    const killAfter = this.config.chat.drainTimeoutMs + 15_000;
    const waves = [
      this.#slots.filter((s) => s.roles.some((r) => FIRST_TO_STOP.has(r))),
      this.#slots.filter((s) => !s.roles.some((r) => FIRST_TO_STOP.has(r))),
    ];
    for (const wave of waves) {
      const running = wave.filter((s) => s.proc);
      for (const s of running) s.proc!.signal(sig);
      const timer = setTimeout(() => {
        for (const s of running) s.proc?.signal("SIGKILL");
      }, killAfter);
      await Promise.all(running.map((s) => s.proc?.status));
      clearTimeout(timer);
    }
  }
}

/**
 * SIGTERM or SIGINT: stop every role (first signal); a later SIGINT that is
 * not the same Ctrl-C delivered twice is passed on, so the children exit at
 * once.
 */
function handleSignals(
  signals: SignalSource,
  log: Logger,
  on: { stop(sig: Deno.Signal): void; forward(sig: Deno.Signal): void },
): void {
  let stopping = false;
  let lastInt = -Infinity;
  const handle = (sig: "SIGTERM" | "SIGINT") => {
    const now = Date.now();
    const duplicate = sig === "SIGINT" && now - lastInt < DUPLICATE_MS;
    if (sig === "SIGINT") lastInt = now;
    if (!stopping) {
      stopping = true;
      log.info("stopping every role", { signal: sig });
      on.stop(sig);
    } else if (sig === "SIGINT" && !duplicate) {
      log.info("SIGINT again: passing it on", {});
      on.forward("SIGINT");
    }
  };
  signals.on("SIGTERM", () => handle("SIGTERM"));
  signals.on("SIGINT", () => handle("SIGINT"));
}
