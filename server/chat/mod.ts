/**
 * The chat role: one WebSocket per logged-in client (friends, messages,
 * presence, heartbeats), a gRPC ChatNode service for the other nodes and
 * status, and this node's registration with status. `start()` binds both
 * listeners (port 0: a free port, and the registered addresses follow),
 * `drain()` moves clients away, `close()` stops everything.
 *
 * Routing (router.ts) is in-process when the engine is `memory:` (it cannot
 * be shared with another process, so every session is here) and goes
 * through presence and gRPC otherwise.
 */
import { CHAT_NODE, STATUS } from "../../proto/services.ts";
import type { ResolvedConfig } from "../config.ts";
import type { Engine } from "../engine/types.ts";
import type { Logger } from "../log.ts";
import type { Plane } from "../plane.ts";
import { type Deps, planeOf, type RoleHandle } from "../role.ts";
import { leastLoaded, liveNodes } from "../engine/nodes.ts";
import { UserBuckets } from "./buckets.ts";
import type { ChatContext } from "./chat_context.ts";
import { allDone, closeAll, moveAll } from "./drain.ts";
import { httpHandler } from "./endpoints.ts";
import { type Http1Server, serveHttp1 } from "../http1.ts";
import { CursorWriter } from "./cursor_writer.ts";
import { HeadReader } from "./head_reader.ts";
import { LocalSessions, type NodeSession } from "./local_sessions.ts";
import { type ChatMetrics, chatMetrics } from "./metrics.ts";
import { nodeServiceHandlers } from "./node_service.ts";
import { Peers } from "./peers.ts";
import { NodeRegistration } from "./registration.ts";
import { ClusterRouter } from "./route_cluster.ts";
import { InProcessRouter } from "./route_local.ts";
import type { Router } from "./router.ts";
import type { Session } from "./session.ts";
import { startInboxSweep } from "./head_sweep.ts";
import { resetPresence } from "./presence_keeper.ts";
import { startSweep } from "./sweep.ts";
import { MessageWriter } from "./writer.ts";

export interface StartOptions {
  /**
   * "cluster": presence + gRPC; "in-process": every session is on this
   * node. By default in-process exactly when the engine is `memory:`
   * (tests that run several nodes on one memory engine ask for "cluster").
   */
  routing?: "cluster" | "in-process";
}

/** The configured address with the port actually bound, when the config asked for port 0. */
function withPort(configured: string, asked: number, bound: number, kind: "url" | "addr"): string {
  if (asked !== 0) return configured;
  if (kind === "addr") return configured.replace(/:\d+$/, `:${bound}`);
  const u = new URL(configured);
  u.port = String(bound);
  return u.toString();
}

/** The shared parts of a node, before anything listens (tests build nodes with it too). */
export function chatContext(
  config: ResolvedConfig,
  parts: Pick<ChatContext, "store" | "engine" | "log"> & { plane: Plane },
  options: StartOptions = {},
): ChatContext {
  const { engine, log, plane, ...shared } = parts;
  const node = config.chat.name;
  const metrics = chatMetrics(node);
  const sessions = new LocalSessions<NodeSession>(metrics);
  const routing = options.routing ?? (engine.kind === "memory" ? "in-process" : "cluster");
  const router = routing === "in-process"
    ? new InProcessRouter(sessions, metrics)
    : clusterRouter(config, plane, { engine, sessions, metrics, log, node });
  return {
    config,
    node,
    grpcAddr: null,
    engine,
    log,
    ...shared,
    writer: new MessageWriter(parts.store),
    cursors: new CursorWriter(parts.store, router, log),
    heads: new HeadReader(parts.store),
    sessions,
    router,
    buckets: new UserBuckets(config.chat.msgRate, config.chat.msgBurst, engine),
    metrics,
    state: { draining: false, unauthenticated: 0, rpcServed: false },
  };
}

function clusterRouter(
  config: ResolvedConfig,
  plane: Plane,
  parts: {
    engine: Engine;
    sessions: LocalSessions;
    metrics: ChatMetrics;
    log: Logger;
    node: string;
  },
): Router {
  const peers: Peers = new Peers({
    dial: (addr, deadlineMs) => plane.client(config, CHAT_NODE, addr, { deadlineMs }),
    log: parts.log,
    onDeliver: (addr, _n, ok) => ok || router.forgetNode(addr),
  });
  const router: ClusterRouter = new ClusterRouter({
    ...parts,
    link: peers,
    nodeTtlMs: config.status.nodeTtlMs,
  });
  return router;
}

/** The least-loaded other live node that takes logins, for `reconnect.chat_url`. */
async function elsewhere(ctx: ChatContext): Promise<string | null> {
  try {
    const nodes = await liveNodes(ctx.engine, ctx.config.status.nodeTtlMs);
    return leastLoaded(nodes, { exclude: ctx.node })?.wsUrl ?? null;
  } catch {
    return null;
  }
}

export async function start(
  config: ResolvedConfig,
  deps: Deps,
  options: StartOptions = {},
): Promise<RoleHandle> {
  const log = deps.log;
  const [store, engine] = await Promise.all([deps.store(), deps.engine()]);
  const plane = planeOf(deps);
  const ctx = chatContext(config, { store, engine, log, plane }, options);
  const { node, sessions } = ctx;
  const sockets = new Set<Session>();
  // Before any login: what an earlier run of this node left in presence is stale.
  await resetPresence(ctx).catch((e) =>
    log.warn("could not reset this node's presence; the inbox sweep will", { error: e })
  );

  const rpc = await plane.serve(
    config,
    log,
    [{ ...CHAT_NODE, handlers: nodeServiceHandlers(ctx) }],
    {
      host: config.chat.grpcHost,
      port: config.chat.grpcPort,
      // Answers in-process callers that dial this node's advertised address (below).
      inProcess: "advertised",
    },
  ).catch((e) => {
    ctx.router.close();
    throw e;
  });

  const ac = new AbortController();
  let server: Http1Server;
  try {
    server = serveHttp1({
      hostname: config.chat.host,
      port: config.chat.port,
      signal: ac.signal,
      onError: (error) => log.error("chat HTTP listener", { error }),
      ...(config.tls ? { cert: config.tls.cert, key: config.tls.key } : {}),
    }, httpHandler(ctx, sockets));
  } catch (e) {
    await rpc.close();
    ctx.router.close();
    throw e;
  }

  const wsUrl = withPort(config.chat.publicUrl, config.chat.port, server.addr.port, "url");
  const grpcAddr = withPort(config.chat.grpcAddress, config.chat.grpcPort, rpc.port, "addr");
  rpc.advertise(grpcAddr);
  ctx.grpcAddr = grpcAddr;
  const registration = new NodeRegistration({
    config,
    status: plane.client(config, STATUS, config.status.address, { deadlineMs: 2000 }),
    wsUrl,
    grpcAddr,
    sessions: () => sessions.size,
    log,
  });
  await registration.start();
  const sweep = startSweep(ctx, sockets);
  const inboxSweep = startInboxSweep(ctx);
  const routing = ctx.router instanceof InProcessRouter ? "in-process" : "cluster";
  log.info("chat node listening", { node, wsUrl, grpcAddr, routing });

  let draining: Promise<void> | null = null;
  let closing: Promise<void> | null = null;

  const drain = () =>
    draining ??= (async () => {
      ctx.state.draining = true;
      log.info("draining", { sessions: sessions.size });
      await registration.setDraining();
      moveAll(sockets, await elsewhere(ctx));
      if (!(await allDone(sockets, config.chat.drainTimeoutMs))) {
        log.warn("drain timed out", { left: sockets.size });
      }
      await ctx.cursors.flush();
    })();

  const close = () =>
    closing ??= (async () => {
      ctx.state.draining = true;
      sweep.stop();
      await inboxSweep.stop();
      closeAll(sockets);
      await allDone(sockets, 3000);
      await ctx.writer.settle();
      await ctx.cursors.close();
      await registration.stop();
      // Ends its connections without a GOAWAY (proto/grpc.ts), so the
      // nodes that still hold one are not exposed to denoland/deno#36788.
      await rpc.close();
      ctx.router.close();
      ac.abort();
      await server.finished;
    })();

  return { ports: { ws: server.addr.port, grpc: rpc.port }, drain, close };
}
