/**
 * The chat role: one WebSocket per logged-in client (friends, messages,
 * presence, heartbeats), a gRPC ChatNode service for the other nodes and
 * status, and this node's registration with status. `start()` binds both
 * listeners (port 0: a free port, and the registered addresses follow),
 * `drain()` moves clients away, `close()` stops everything.
 */
import { CHAT_NODE, STATUS } from "../../proto/services.ts";
import type { ResolvedConfig } from "../config.ts";
import { type Deps, planeOf, type RoleHandle } from "../role.ts";
import { leastLoaded, liveNodes } from "../engine/nodes.ts";
import type { ChatContext } from "./context.ts";
import { httpHandler } from "./http.ts";
import { Hub } from "./hub.ts";
import { chatMetrics } from "./metrics.ts";
import { nodeServiceHandlers } from "./node_service.ts";
import { Peers } from "./peers.ts";
import { NodeRegistration } from "./registration.ts";
import type { Session } from "./session.ts";
import { MessageWriter } from "./writer.ts";
import { BurstCollector } from "./heap.ts";
import { UserBuckets } from "./buckets.ts";

/** The configured address with the port actually bound, when the config asked for port 0. */
function withPort(configured: string, asked: number, bound: number, kind: "url" | "addr"): string {
  if (asked !== 0) return configured;
  if (kind === "addr") return configured.replace(/:\d+$/, `:${bound}`);
  const u = new URL(configured);
  u.port = String(bound);
  return u.toString();
}

/** How often a node drops its gRPC clients of nodes that left the registry. */
const PEER_SWEEP_MS = 1000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

/** Waits until every session ended, or `ms` passed. */
async function allDone(sockets: Set<Session>, ms: number): Promise<boolean> {
  const ac = new AbortController();
  const done = Promise.all([...sockets].map((s) => s.done)).then(() => true);
  const result = await Promise.race([done, sleep(ms, ac.signal).then(() => false)]);
  ac.abort();
  return result;
}

export async function start(config: ResolvedConfig, deps: Deps): Promise<RoleHandle> {
  const log = deps.log;
  const [store, engine] = await Promise.all([deps.store(), deps.engine()]);
  const node = config.chat.name;
  const metrics = chatMetrics(node);
  const plane = planeOf(deps);
  const peers: Peers = new Peers({
    dial: (addr, deadlineMs) => plane.client(config, CHAT_NODE, addr, { deadlineMs }),
    log,
    onDeliver: (addr, _n, ok) => ok || hub.forgetNode(addr),
  });
  const hub: Hub = new Hub({ engine, peers, metrics, node, nodeTtlMs: config.status.nodeTtlMs });
  const ctx: ChatContext = {
    config,
    node,
    log,
    store,
    writer: new MessageWriter(store),
    engine,
    hub,
    buckets: new UserBuckets(config.chat.msgRate, config.chat.msgBurst),
    peers,
    metrics,
    state: { draining: false, unauthenticated: 0, rpcServed: false },
  };
  const sockets = new Set<Session>();

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
  );

  const ac = new AbortController();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: config.chat.host,
      port: config.chat.port,
      signal: ac.signal,
      onListen: () => {},
      ...(config.tls ? { cert: config.tls.cert, key: config.tls.key } : {}),
    }, httpHandler(ctx, sockets));
  } catch (e) {
    await rpc.close();
    throw e;
  }

  const wsUrl = withPort(config.chat.publicUrl, config.chat.port, server.addr.port, "url");
  const grpcAddr = withPort(config.chat.grpcAddress, config.chat.grpcPort, rpc.port, "addr");
  rpc.advertise(grpcAddr);
  const registration = new NodeRegistration({
    config,
    status: plane.client(config, STATUS, config.status.address, { deadlineMs: 2000 }),
    wsUrl,
    grpcAddr,
    sessions: () => hub.size,
    log,
  });
  await registration.start();

  // Heartbeat timeouts: one sweep for all sessions instead of a timer per frame.
  const silentMs = 3 * config.chat.heartbeatMs;
  const burst = new BurstCollector();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const s of sockets) {
      if (s.authenticated && now - s.lastActivity > silentMs) {
        s.closeWith(4004, "heartbeat timeout");
      }
    }
    ctx.buckets.sweep((userId) => hub.local(userId) !== undefined, now);
    // After a login burst, on a quiet node: give the burst's garbage back.
    if (burst.sweep(hub.logins, ctx.writer.writes)) {
      log.info("full collection after a login burst", { sessions: hub.size });
    }
  }, Math.max(50, Math.floor(config.chat.heartbeatMs / 2)));

  // Let go of nodes that left the registry (see close()).
  const peerSweep = setInterval(async () => {
    try {
      const live = await liveNodes(engine, config.status.nodeTtlMs);
      peers.retain(new Set(live.map((n) => n.grpcAddr)));
    } catch { /* the engine is down: keep what we have */ }
  }, PEER_SWEEP_MS);

  log.info("chat node listening", { node, wsUrl, grpcAddr });

  /** The least-loaded other live node that takes logins, for `reconnect.chat_url`. */
  const elsewhere = async (): Promise<string | null> => {
    try {
      const nodes = await liveNodes(engine, config.status.nodeTtlMs);
      return leastLoaded(nodes, { exclude: node })?.wsUrl ?? null;
    } catch {
      return null;
    }
  };

  let draining: Promise<void> | null = null;
  let closing: Promise<void> | null = null;

  const drain = () =>
    draining ??= (async () => {
      ctx.state.draining = true;
      log.info("draining", { sessions: hub.size });
      await registration.setDraining();
      const target = await elsewhere();
      for (const s of sockets) {
        if (s.authenticated) s.moveAway(target);
        else s.closeWith(1012, "node draining");
      }
      if (!(await allDone(sockets, config.chat.drainTimeoutMs))) {
        log.warn("drain timed out", { left: sockets.size });
      }
    })();

  const close = () =>
    closing ??= (async () => {
      ctx.state.draining = true;
      clearInterval(sweep);
      for (const s of sockets) s.closeWith(1001, "server shutting down");
      await allDone(sockets, 3000);
      await ctx.writer.settle();
      clearInterval(peerSweep);
      await registration.stop();
      // Ends its connections without a GOAWAY (proto/grpc.ts), so the
      // nodes that still hold one are not exposed to denoland/deno#36788.
      await rpc.close();
      peers.closeAll();
      ac.abort();
      await server.finished;
    })();

  return { ports: { ws: server.addr.port, grpc: rpc.port }, drain, close };
}
