/**
 * The processes of a test cluster: each role a child running main.ts with
 * its own JSON config, started on port 0 with the ports it bound read from
 * its "parley is running" line. A process that is started again (after a
 * crash, a stop or a restart) keeps the ports it got the first time, so
 * whoever dials it finds it where it was. Exits the test did not ask for are
 * recorded: a crash of one role while another restarts is a failure.
 */
import { type BoundPorts, type Child, type SpawnOptions, spawnServer } from "../testing/mod.ts";

export type RoleName = "verify" | "status" | "gate" | "chat";

export interface Proc {
  /** "verify", "status", "gate", or the chat node's name. */
  name: string;
  role: RoleName;
  /** The running (or last) child; null before the first start. */
  child: Child | null;
  /** The ports of this role once it first listened, e.g. `{ grpc: 40123 }`. */
  ports: Record<string, number> | null;
  /** How many times it was started. */
  starts: number;
}

export interface Exit {
  name: string;
  code: number;
  signal: Deno.Signal | null;
  /** The end of its log. */
  log: string;
}

export interface ProcsOptions {
  /** Writes the config file for `proc` with `ports` (null: port 0) and returns its path. */
  configFor(proc: Proc, ports: Record<string, number> | null): Promise<string>;
  env: Record<string, string>;
}

/** The config section's port fields of each listener a role reports. */
export const PORT_FIELDS: Record<RoleName, Record<string, string>> = {
  verify: { grpc: "port" },
  status: { grpc: "port" },
  gate: { http: "port" },
  chat: { ws: "port", grpc: "grpcPort" },
};

export class Procs {
  readonly all = new Map<string, Proc>();
  readonly exits: Exit[] = [];
  #stopping = new Set<Child>();
  /** Every child ever started, for logs and the final kill. */
  readonly children: Child[] = [];

  constructor(readonly options: ProcsOptions) {}

  add(name: string, role: RoleName): Proc {
    const proc: Proc = { name, role, child: null, ports: null, starts: 0 };
    this.all.set(name, proc);
    return proc;
  }

  get(name: string): Proc {
    const p = this.all.get(name);
    if (!p) throw new Error(`no process named ${name} in this cluster`);
    return p;
  }

  /** Starts `name` (on its earlier ports, if it ran before) and waits until it listens. */
  async start(name: string, spawn: SpawnOptions = {}): Promise<Proc> {
    const proc = this.get(name);
    if (proc.child && !proc.child.exit) throw new Error(`${name} is already running`);
    const path = await this.options.configFor(proc, proc.ports);
    const child = spawnServer(["--role", proc.role, "--config", path], this.options.env, spawn);
    proc.child = child;
    proc.starts++;
    this.children.push(child);
    child.status.then((s) => {
      if (this.#stopping.has(child)) return;
      this.exits.push({ name, code: s.code, signal: s.signal, log: child.log().slice(-3000) });
    });
    const bound: BoundPorts = await child.ready();
    proc.ports ??= bound[proc.role];
    return proc;
  }

  /** Signals `name` (SIGTERM by default), or its whole process group, and waits for it to end. */
  async stop(
    name: string,
    signal: Deno.Signal = "SIGTERM",
    options: { group?: boolean } = {},
  ): Promise<Deno.CommandStatus> {
    const child = this.get(name).child;
    if (!child) throw new Error(`${name} was never started`);
    this.#stopping.add(child);
    if (options.group) {
      child.killGroup(signal);
      return await child.status;
    }
    return await child.kill(signal);
  }

  /** Marks the running child of `name` as stopping, for a test that signals it itself. */
  expectExit(name: string): Child {
    const child = this.get(name).child;
    if (!child) throw new Error(`${name} was never started`);
    this.#stopping.add(child);
    return child;
  }

  async restart(name: string, signal: Deno.Signal = "SIGTERM"): Promise<Proc> {
    await this.stop(name, signal);
    return await this.start(name);
  }

  /** SIGKILLs every child still running (process groups whole), newest first. */
  async killAll(): Promise<void> {
    for (const c of [...this.children].reverse()) {
      this.#stopping.add(c);
      if (c.group) c.killGroup("SIGKILL");
      await c.kill("SIGKILL").catch(() => {});
    }
  }

  logs(): string {
    return this.children.map((c) => c.log()).join("\n");
  }
}
