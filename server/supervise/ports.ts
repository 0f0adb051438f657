/**
 * Ports the supervisor pins for its children: a role configured on port 0
 * binds a free one on its first run; every later start (of it, and of the
 * roles dialing it) is told which, through a copy of the config file under
 * `<dataDir>/supervise/`.
 */
import type { ResolvedConfig, Role } from "../config.ts";
import type { Ports } from "./child.ts";

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

/**
 * Ports of roles configured on 0: the first run binds a free one, every
 * later start (of it, and of the roles dialing it) is told which. When no
 * role asks for port 0, children get the supervisor's own --config file.
 */
export class PortPins {
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
