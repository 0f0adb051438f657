/**
 * The gate role: Parley's HTTP account API (codes, register, login,
 * logout, password reset and change, profile), served with Deno.serve from
 * the Hono app in app.ts. It keeps no state of its own — accounts are in the
 * store, limits and revocations in the engine — and reaches verify and
 * status over gRPC, so any number of gates can run behind a load balancer.
 */
import type { ResolvedConfig } from "../config.ts";
import { type Deps, planeOf, type RoleHandle } from "../role.ts";
import { STATUS, VERIFY } from "../../proto/services.ts";
import { createApp } from "./app.ts";
import { gateMetrics } from "./telemetry.ts";

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

  const abort = new AbortController();
  let server: Deno.HttpServer<Deno.NetAddr>;
  const { promise: listening, resolve: onListen } = Promise.withResolvers<Deno.NetAddr>();
  try {
    const options = {
      hostname: config.gate.host,
      port: config.gate.port,
      signal: abort.signal,
      onListen: onListen,
      onError: (error: unknown) => {
        log.error("request crashed outside the app", { error });
        return Response.json({ error: { code: "internal", message: "internal error" } }, {
          status: 500,
        });
      },
    };
    server = config.tls
      ? Deno.serve({ ...options, cert: config.tls.cert, key: config.tls.key }, app.fetch)
      : Deno.serve(options, app.fetch);
  } catch (e) {
    verify.close();
    status.close();
    throw e;
  }
  const addr = await listening;
  log.info("gate listening", {
    host: config.gate.host,
    port: addr.port,
    tls: config.tls !== null,
  });

  return {
    ports: { http: addr.port },
    async close() {
      abort.abort();
      await server.finished;
      verify.close();
      status.close();
    },
  };
}
