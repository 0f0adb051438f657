/**
 * The internal plane as the roles of one process see it. A role serves its
 * service through `serve()`: a gRPC listener for other processes, guarded by
 * the cluster secret, and an in-process entry for the roles beside it,
 * behind the same checks. A role reaches another through `client()`, which
 * calls in-process when that role runs here and over gRPC otherwise, so a
 * single process never talks gRPC to itself. main.ts gives its roles one
 * shared Plane; a role started without one gets its own (then everything it
 * calls goes over gRPC, as between processes).
 */
import type { PlaneAuth } from "../proto/auth.ts";
import { connect, type RpcClient, type RpcServer, serve, type Unary } from "../proto/grpc.ts";
import type { ServiceImpl } from "../proto/grpc.ts";
import { localClient, LocalService } from "../proto/local.ts";
import type { ServiceRef } from "../proto/services.ts";
import type { ResolvedConfig } from "./config.ts";
import type { Logger } from "./log.ts";

export interface ServeOptions {
  host: string;
  port: number;
  /**
   * Which in-process callers this server answers: `any` client of its
   * services (verify, status: at most one of each per process, at the
   * address the config names, which config.ts checks), or only those that
   * dial an address given to `advertise()` (a chat node, named by address).
   */
  inProcess: "any" | "advertised";
}

export interface PlaneServer extends RpcServer {
  /** In-process calls to `address` are answered here (see ServeOptions.inProcess). */
  advertise(address: string): void;
}

interface Entry {
  services: LocalService[];
  matches(target: string): boolean;
}

/** How often refused calls are logged at most, per server: an attacker must not flood the log. */
const REFUSED_LOG_MS = 5000;

/** Who may call a server of this process, from the config; refusals are logged (rate-limited). */
export function planeAuth(config: ResolvedConfig, log: Logger): PlaneAuth {
  let last = 0;
  let since = 0;
  return {
    clusterSecrets: config.clusterSecretAccept
      ? [config.clusterSecret, config.clusterSecretAccept]
      : [config.clusterSecret],
    adminToken: config.adminToken,
    onRefused(method, peer, code) {
      since++;
      const now = Date.now();
      if (now - last < REFUSED_LOG_MS) return;
      log.warn("refused an internal call", { method, peer, code, refusedSinceLast: since });
      last = now;
      since = 0;
    },
  };
}

export class Plane {
  #entries = new Set<Entry>();

  /** Serves `services` over gRPC on host:port and to this process's clients. */
  async serve(
    config: ResolvedConfig,
    log: Logger,
    services: ServiceImpl[],
    options: ServeOptions,
  ): Promise<PlaneServer> {
    const auth = planeAuth(config, log);
    const onError = (method: string, error: unknown) =>
      log.error("internal call failed", { method, error });
    const server = await serve(options.host, options.port, services, {
      tls: config.tls,
      auth,
      onError,
    });
    const advertised = new Set<string>();
    const entry: Entry = {
      services: services.map((s) => new LocalService(s, { auth, onError })),
      matches: (target) => options.inProcess === "any" || advertised.has(target),
    };
    this.#entries.add(entry);
    return {
      port: server.port,
      advertise: (address) => void advertised.add(address),
      close: async () => {
        // In-process callers first: from now on they hear what a gRPC caller hears.
        this.#entries.delete(entry);
        for (const s of entry.services) s.close();
        await server.close();
      },
    };
  }

  /**
   * A client of `ref` at `target` that sends this process's cluster secret;
   * in-process while this process serves `ref` for `target`.
   */
  client<Methods extends Record<string, Unary>>(
    config: ResolvedConfig,
    ref: ServiceRef<Methods>,
    target: string,
    options: { deadlineMs?: number } = {},
  ): RpcClient<Methods> {
    const clientOptions = {
      tls: config.tls,
      clusterSecret: config.clusterSecret,
      deadlineMs: options.deadlineMs,
    };
    return localClient<Methods>(ref.file, ref.service, target, {
      ...clientOptions,
      local: () => this.#find(ref.service, target),
      remote: () => connect<Methods>(ref.file, ref.service, target, clientOptions),
    });
  }

  #find(service: string, target: string): LocalService | null {
    for (const e of this.#entries) {
      if (!e.matches(target)) continue;
      const s = e.services.find((x) => x.service === service && !x.closed);
      if (s) return s;
    }
    return null;
  }
}
