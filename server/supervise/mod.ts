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
 * `<dataDir>/supervise/`) to the roles that dial it and to its restarts.
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
import { type Ports, type RoleProcess, spawnRole } from "./child.ts";

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

/** The listener ports a role has in the config, by the name main.ts reports them under. */
const PORT_FIELDS: Record<Role, Record<string, string>> = {
  verify: { grpc: "port" },
  status: { grpc: "port" },
  gate: { http: "port" },
  chat: { ws: "port", grpc: "grpcPort" },
};

/** How other processes reach a port bound on `host`. */
function dialHost(host: string): string {
  return ["0.0.0.0", "::", ""].includes(host)
    ? "127.0.0.1"
    : host.includes(":")
    ? `[${host}]`
    : host;
}

export async function supervise(
  config: ResolvedConfig,
  options: SuperviseOptions,
): Promise<number> {
  const { log } = options;
  const limits = { ...LIMITS, ...options.limits };
  const roles = ORDER.filter((r) => config.roles.includes(r));
  const together = config.engineUrl === "memory:";
  const slots: Slot[] = (together ? [roles] : roles.map((r) => [r])).map((rs) => ({
    name: rs.join(","),
    roles: rs,
    proc: null,
    restarts: 0,
    recent: [],
    backoffMs: limits.firstBackoffMs,
    stopping: false,
  }));
  const pins = new PortPins(config, options.configFile);
  // The keys the supervisor resolved (given, or generated under dataDir as
  // for one process running every role) go to every child, so that roles
  // in separate processes agree without the operator exporting them.
  const secrets = {
    PARLEY_CLUSTER_SECRET: config.clusterSecret,
    PARLEY_JWT_SECRET: new TextDecoder().decode(config.jwtSecret),
    PARLEY_ADMIN_TOKEN: config.adminToken,
  };
  const { promise: finished, resolve: finish } = Promise.withResolvers<number>();
  let stopping = false;
  /** 1 once a crash loop made the supervisor give up. */
  let exitCode = 0;

  const startSlot = async (slot: Slot): Promise<void> => {
    const args = ["--role", slot.roles.join(",")];
    const file = await pins.configFor(slot.name);
    if (file) args.push("--config", file);
    const proc = spawnRole(args, secrets, options.output);
    slot.proc = proc;
    log.info("role started", { role: slot.name, pid: proc.pid, restarts: slot.restarts });
    proc.status.then((s) => onExit(slot, proc, s));
    // The next role may need this one's port; but one that hangs at start
    // (waiting on a database) must not hold up the others for ever.
    const ports = await Promise.race([proc.ready, delay(READY_WAIT_MS)]);
    if (ports) pins.learn(ports);
  };

  const onExit = (slot: Slot, proc: RoleProcess, s: Deno.CommandStatus) => {
    if (slot.proc !== proc) return;
    slot.proc = null;
    const upMs = Date.now() - proc.startedAt;
    if (stopping || slot.stopping) {
      log.info("role stopped", { role: slot.name, code: s.code, signal: s.signal });
      if (slots.every((x) => !x.proc)) finish(exitCode);
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
      exitCode = 1;
      stopAll("SIGTERM").then(() => finish(exitCode));
      return;
    }
    slot.backoffMs = upMs >= limits.stableMs ? limits.firstBackoffMs : slot.backoffMs;
    const wait = slot.backoffMs;
    slot.backoffMs = Math.min(slot.backoffMs * 2, limits.maxBackoffMs);
    slot.restarts++;
    setTimeout(() => {
      if (!stopping) {
        startSlot(slot).catch((e) =>
          log.error("could not start role", { role: slot.name, error: e })
        );
      }
    }, wait);
  };

  const stopAll = async (sig: Deno.Signal) => {
    stopping = true;
    const killAfter = config.chat.drainTimeoutMs + 15_000;
    const waves = [
      slots.filter((s) => s.roles.some((r) => FIRST_TO_STOP.has(r))),
      slots.filter((s) => !s.roles.some((r) => FIRST_TO_STOP.has(r))),
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
  };

  handleSignals(options.signals ?? processSignals, log, {
    stop: (sig) => {
      stopAll(sig).then(() => finish(exitCode));
    },
    forward: (sig) => {
      for (const s of slots) s.proc?.signal(sig);
    },
  });

  for (const slot of slots) {
    if (stopping) break;
    await startSlot(slot);
  }
  if (!stopping) {
    log.info("parley is running (supervised)", {
      supervisor: true,
      roles: slots.map((s) => s.name),
      pids: Object.fromEntries(slots.map((s) => [s.name, s.proc?.pid ?? null])),
      ports: pins.ports,
      pid: Deno.pid,
    });
  }
  return await finished;
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

/**
 * Ports of roles configured on 0: the first run binds a free one, every
 * later start (of it, and of the roles dialing it) is told which. When no
 * role asks for port 0, children get the supervisor's own --config file.
 */
class PortPins {
  /** Role → listener → port, as the children reported them. */
  readonly ports: Ports = {};
  #raw: Record<string, unknown> | null = null;

  constructor(readonly config: ResolvedConfig, readonly file: string | null) {}

  learn(ports: Ports): void {
    for (const [role, p] of Object.entries(ports)) this.ports[role] ??= p;
  }

  #anyZero(): boolean {
    const c = this.config;
    return [c.verify.port, c.status.port, c.gate.port, c.chat.port, c.chat.grpcPort].includes(0);
  }

  /** The config file for a child: the supervisor's own, or a copy with the pinned ports. */
  async configFor(name: string): Promise<string | null> {
    if (!this.#anyZero()) return this.file;
    // The file as written (env and flags still apply on top in the child).
    this.#raw ??= this.file ? JSON.parse(await Deno.readTextFile(this.file)) : {};
    const out: Record<string, Record<string, unknown>> = structuredClone(this.#raw) as never;
    for (const [role, ports] of Object.entries(this.ports)) {
      const section = (out[role] ??= {});
      for (const [listener, field] of Object.entries(PORT_FIELDS[role as Role] ?? {})) {
        if (ports[listener] !== undefined) section[field] = ports[listener];
      }
      if ((role === "verify" || role === "status") && ports.grpc) {
        section.address = `${
          dialHost(this.config[role as "verify" | "status"].host)
        }:${ports.grpc}`;
      }
    }
    const dir = `${this.config.dataDir}/supervise`;
    await Deno.mkdir(dir, { recursive: true });
    const path = `${dir}/${name.replace(/[^a-z,]/g, "_")}.json`;
    await Deno.writeTextFile(path, JSON.stringify(out, null, 2), { mode: 0o600 });
    return path;
  }
}
