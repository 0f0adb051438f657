/**
 * The gate role: Parley's HTTP account API (codes, register, login,
 * logout, password reset and change, profile): the Hono app in app.ts,
 * served by listener.ts (node:http, for its header and idle timeouts). It
 * keeps no state of its own — accounts are in the store, limits and
 * revocations in the engine — and reaches verify and status over gRPC, so
 * any number of gates can run behind a load balancer.
 */
import type { ResolvedConfig } from "../config.ts";
import { type Deps, planeOf, type RoleHandle } from "../role.ts";
import { STATUS, VERIFY } from "../../proto/services.ts";
import { createApp } from "./app.ts";
import { gateMetrics } from "./telemetry.ts";
import { listen, type Listener } from "./listener.ts";

export { createApp } from "./app.ts";

export async function start(config: ResolvedConfig, deps: Deps): Promise<RoleHandle> {
  const log = deps.log;
  // Open both now, so that a broken store or engine fails the start, not the first request.
  await Promise.all([deps.store(), deps.engine()]);
  const plane = planeOf(deps);
  const verify = plane.client(config, VERIFY, config.verify.address);
  const status = plane.client(config, STATUS, config.status.address);
  const app = createApp({
    config,
    log,
    store: deps.store,
    engine: deps.engine,
    verify,
    status,
    metrics: gateMetrics(),
  });

  let listener: Listener;
  try {
    listener = await listen(app.fetch, {
      host: config.gate.host,
      port: config.gate.port,
      tls: config.tls,
      onError: (error: unknown) => {
        log.error("request crashed outside the app", { error });
        return Response.json({ error: { code: "internal", message: "internal error" } }, {
          status: 500,
        });
      },
    });
  } catch (e) {
    verify.close();
    status.close();
    throw e;
  }
  log.info("gate listening", {
    host: config.gate.host,
    port: listener.port,
    tls: config.tls !== null,
  });

  return {
    ports: { http: listener.port },
    async close() {
      await listener.close();
      verify.close();
      status.close();
    },
  };
}
