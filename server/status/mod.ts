/**
 * The status role: a gRPC StatusService (proto/status.proto) holding the
 * chat-node registry (registry.ts), answering parley-admin (admin.ts) and
 * sweeping out nodes that stopped heartbeating (sweep.ts). Its state lives
 * in the engine, so several copies can serve one cluster.
 */
import type { ResolvedConfig } from "../config.ts";
import type { Deps, RoleHandle } from "../role.ts";
import { type CallContext, type Handler, type RpcServer, serve } from "../../proto/grpc.ts";
import { STATUS_SERVICE } from "../../proto/services.ts";
import { adminHandlers, requireAdmin } from "./admin.ts";
import { chatClients } from "./chat_clients.ts";
import { registryHandlers } from "./registry.ts";
import { startSweeper } from "./sweep.ts";

/** Wraps each handler so it runs only for calls carrying the admin token. */
function adminOnly(handlers: Record<string, Handler>, token: string): Record<string, Handler> {
  const out: Record<string, Handler> = {};
  for (const [name, h] of Object.entries(handlers)) {
    // async, so a refusal becomes a rejected promise (an error reply), never a throw.
    out[name] = async (req: unknown, ctx: CallContext) => {
      requireAdmin(ctx, token);
      return await h(req, ctx);
    };
  }
  return out;
}

export async function start(config: ResolvedConfig, deps: Deps): Promise<RoleHandle> {
  const log = deps.log;
  const [engine, store] = await Promise.all([deps.engine(), deps.store()]);
  const nodeTtlMs = config.status.nodeTtlMs;
  const clients = chatClients(config.tls);

  const handlers: Record<string, Handler> = {
    ...registryHandlers(engine, nodeTtlMs, log),
    ...adminOnly(
      adminHandlers({ engine, store, chatClients: clients, nodeTtlMs, log }),
      config.adminToken,
    ),
  };

  let server: RpcServer;
  try {
    server = await serve(
      config.status.host,
      config.status.port,
      [{ file: "status.proto", service: STATUS_SERVICE, handlers }],
      {
        tls: config.tls,
        onError: (method, error) => log.error("status call failed", { method, error }),
      },
    );
  } catch (e) {
    clients.closeAll();
    throw e;
  }
  const sweeper = startSweeper(engine, {
    ttlMs: nodeTtlMs,
    log,
    onLive: (live) => clients.retain(new Set(live.map((n) => n.grpcAddr))),
  });
  log.info("status role listening", { host: config.status.host, port: server.port });

  return {
    ports: { grpc: server.port },
    async close() {
      await sweeper.stop();
      await server.close();
      clients.closeAll();
    },
  };
}
