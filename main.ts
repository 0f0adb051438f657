/**
 * Parley's one entry point: `deno task serve [--role ROLES] [--config FILE]
 * [--supervise]`. Parses flags, resolves the config, starts the chosen roles
 * (each loaded lazily) and shuts them down on SIGINT/SIGTERM
 * (server/signals.ts); or, with --supervise, runs each role as a child
 * process and restarts the ones that die (server/supervise/).
 */
import { parseArgs } from "node:util";
import { ConfigError, resolveConfig, type ResolvedConfig, type Role } from "./server/config.ts";
import { createLogger, type Logger } from "./server/log.ts";
import type { Deps, RoleHandle, StartRole } from "./server/role.ts";
import { Plane } from "./server/plane.ts";
import type { Store } from "./server/store/types.ts";
import type { Engine } from "./server/engine/types.ts";
import { stopOnSignals } from "./server/signals.ts";

const HELP = `Parley chat server

Usage: deno task serve [--role ROLES] [--config FILE] [--supervise]

  --role, --roles ROLES  comma-separated roles to run: gate, chat, status,
                         verify, or all (default: all, in one process)
  --config FILE          JSON config file (see config/ and README.md)
  --supervise            run each role as a child process and restart it
                         when it dies, with backoff (all roles in one child
                         on the in-memory engine, which cannot be shared)
  -h, --help             show this help

SIGTERM drains chat nodes, then stops; SIGINT stops without a drain (or cuts
a drain short); a second SIGINT exits at once. See README.md, "Signals".

With no configuration every role runs in one process on SQLite, an
in-memory engine and a local mail outbox under .data/.
Environment variables (PARLEY_STORE_URL, PARLEY_ENGINE_URL, PARLEY_SMTP_URL,
...) override the file; flags override both.`;

/** Start order: what a role calls must be up before it. */
const ORDER: Role[] = ["verify", "status", "chat", "gate"];

const loaders: Record<Role, () => Promise<StartRole>> = {
  verify: async () => (await import("./server/verify/mod.ts")).start,
  status: async () => (await import("./server/status/mod.ts")).start,
  chat: async () => (await import("./server/chat/mod.ts")).start,
  gate: async () => (await import("./server/gate/mod.ts")).start,
};

export interface Server {
  config: ResolvedConfig;
  handles: Partial<Record<Role, RoleHandle>>;
  /** Drains chat (if running), then closes every role, the store and the engine. */
  close(options?: { drain?: boolean }): Promise<void>;
}

function lazy<T>(open: () => Promise<T>): { get: () => Promise<T>; peek: () => Promise<T> | null } {
  let p: Promise<T> | null = null;
  return { get: () => (p ??= open()), peek: () => p };
}

/**
 * Starts `config.roles` in this process. Ports given as 0 are bound to free
 * ports and the addresses the other roles dial are updated to match, so
 * tests can start a whole system on free ports.
 */
export async function startServer(config: ResolvedConfig, log: Logger): Promise<Server> {
  const store = lazy<Store>(async () => {
    const { openStore } = await import("./server/store/mod.ts");
    const s = await openStore(config.storeUrl, { log: log.child({ part: "store" }) });
    await s.migrate();
    return s;
  });
  const engine = lazy<Engine>(async () => {
    const { openEngine } = await import("./server/engine/mod.ts");
    return await openEngine(config.engineUrl, { log: log.child({ part: "engine" }) });
  });
  // One plane for every role here: they call each other in-process, never over gRPC.
  const deps: Deps = { log, store: store.get, engine: engine.get, plane: new Plane() };
  const handles: Partial<Record<Role, RoleHandle>> = {};

  const closeAll = async (drain: boolean) => {
    if (drain && handles.chat?.drain) await handles.chat.drain();
    for (const role of [...ORDER].reverse()) {
      const h = handles[role];
      if (!h) continue;
      try {
        await h.close();
      } catch (e) {
        log.error("role did not close cleanly", { role, error: e });
      }
      delete handles[role];
    }
    await (await store.peek()?.catch(() => null))?.close();
    await (await engine.peek()?.catch(() => null))?.close();
  };

  try {
    for (const role of ORDER) {
      if (!config.roles.includes(role)) continue;
      const start = await loaders[role]();
      const h = await start(config, { ...deps, log: log.child({ role }) });
      handles[role] = h;
      // Later roles dial the ones started before them at the bound port.
      if (role === "verify" && config.verify.port === 0) {
        config.verify = { ...config.verify, address: `127.0.0.1:${h.ports.grpc}` };
      }
      if (role === "status" && config.status.port === 0) {
        config.status = { ...config.status, address: `127.0.0.1:${h.ports.grpc}` };
      }
    }
  } catch (e) {
    await closeAll(false);
    throw e;
  }
  return { config, handles, close: (o) => closeAll(o?.drain ?? false) };
}

async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        role: { type: "string" },
        roles: { type: "string" },
        config: { type: "string" },
        supervise: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`parley: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  let config: ResolvedConfig;
  try {
    config = resolveConfig(
      { roles: values.role ?? values.roles, config: values.config },
      { env: Deno.env.toObject() },
    );
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`parley: ${e.message}`);
      return 2;
    }
    throw e;
  }
  if (values.supervise) {
    const { supervise } = await import("./server/supervise/mod.ts");
    const log = createLogger({ proc: "supervisor" }, { level: config.logLevel });
    return await supervise(config, { log, configFile: values.config ?? null });
  }
  // Only the supervisor starts processes (deno.json grants --allow-run=deno for it).
  Deno.permissions.revokeSync({ name: "run" });
  const log = createLogger({ proc: config.roles.join(",") }, { level: config.logLevel });
  let server: Server;
  try {
    server = await startServer(config, log);
  } catch (e) {
    log.error("start-up failed", { error: e });
    return 1;
  }
  const stopped = stopOnSignals({
    drain: async () => await server.handles.chat?.drain?.(),
    close: () => server.close(),
  }, { log });
  log.info("parley is running", { roles: config.roles, ports: portsOf(server), pid: Deno.pid });
  return await stopped;
}

function portsOf(server: Server): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [role, h] of Object.entries(server.handles)) if (h) out[role] = h.ports;
  return out;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
