/**
 * The status role: a gRPC StatusService (proto/status.proto) holding the
 * chat-node registry (registry.ts), answering parley-admin (admin.ts),
 * removing nodes whose process died as soon as their connection drops
 * (liveness.ts) and sweeping out nodes that stopped heartbeating
 * (sweep.ts). Its state lives in the engine, so several copies can serve
 * one cluster.
 */
import type { ResolvedConfig } from "../config.ts";
import { type Deps, planeOf, type RoleHandle } from "../role.ts";
import type { Handler, RpcServer } from "../../proto/grpc.ts";
import { CHAT_NODE, STATUS } from "../../proto/services.ts";
import { adminHandlers } from "./admin.ts";
import { chatClients } from "./chat_clients.ts";
import { registryHandlers } from "./registry.ts";
import { startSweeper } from "./sweep.ts";
import { LivenessWatcher } from "./liveness.ts";

export async function start(config: ResolvedConfig, deps: Deps): Promise<RoleHandle> {
  const log = deps.log;
  const [engine, store] = await Promise.all([deps.engine(), deps.store()]);
  const nodeTtlMs = config.status.nodeTtlMs;
  const plane = planeOf(deps);
  // Under the 5 s callers use by default, so an admin hears "peer_unavailable", not a timeout.
  const clients = chatClients((addr) =>
    plane.client(config, CHAT_NODE, addr, { deadlineMs: 3000 })
  );
  const liveness = new LivenessWatcher({ engine, log, tls: config.tls });

  // The admin methods need the admin token: STATUS.access, checked before any handler runs.
  const handlers: Record<string, Handler> = {
    ...registryHandlers(engine, nodeTtlMs, log, (rec) => liveness.watch(rec)),
    ...adminHandlers({ engine, store, chatClients: clients, nodeTtlMs, log }),
  };

  let server: RpcServer;
  try {
    server = await plane.serve(config, log, [{ ...STATUS, handlers }], {
      host: config.status.host,
      port: config.status.port,
      inProcess: "any",
    });
  } catch (e) {
    clients.closeAll();
    liveness.close();
    throw e;
  }
  const sweeper = startSweeper(engine, {
    ttlMs: nodeTtlMs,
    log,
    onLive: (live) => {
      clients.retain(new Set(live.map((n) => n.grpcAddr)));
      liveness.sync(live);
    },
  });
  // Watch the nodes that registered before this copy of status started.
  sweeper.run().catch((e) => log.warn("first node sweep failed", { error: e }));
  log.info("status role listening", { host: config.status.host, port: server.port });

  return {
    ports: { grpc: server.port },
    async close() {
      await sweeper.stop();
      liveness.close();
      await server.close();
      clients.closeAll();
    },
  };
}
