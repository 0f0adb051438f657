/**
 * The status role's chat-node registry calls (RegisterNode, Heartbeat,
 * DeregisterNode, PickNode) and the sweep that forgets nodes which stopped
 * heartbeating, along with the presence records they held.
 *
 * These four calls take no admin token: they are made by gate and chat
 * nodes, which reach the status role over the cluster's private network
 * (or the same process). Do not expose the status port to the internet;
 * the admin calls beside them (admin.ts) do check a token.
 */
import { AppError } from "../../proto/errors.ts";
import type { Engine } from "../engine/types.ts";
import type { Logger } from "../log.ts";
import {
  leastLoaded,
  liveNodes,
  type NodeRecord,
  recordStart,
  removeNode,
  touchNode,
  upsertNode,
} from "../engine/nodes.ts";
import { clearNodePresence } from "../engine/presence.ts";
import type { Empty, HeartbeatRequest, NodeInfo, NodeRef } from "../../proto/services.ts";

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const HOST_PORT = /^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/;
const WS_URL = /^wss?:\/\/\S+$/;

function invalid(message: string): AppError {
  return new AppError("invalid_node", message, 400);
}

function nodeName(raw: unknown): string {
  if (typeof raw !== "string" || !NAME.test(raw)) {
    throw invalid("node name must be 1-64 letters, digits, '_', '.' or '-'");
  }
  return raw;
}

function sessions(raw: unknown): number {
  const n = Number(raw ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) throw invalid("sessions must be a whole number >= 0");
  return n;
}

/** "" (a proto3 default) means "up". */
function nodeState(raw: unknown): "up" | "draining" {
  if (raw === "" || raw === undefined || raw === "up") return "up";
  if (raw === "draining") return "draining";
  throw invalid(`state must be "up" or "draining"`);
}

/** A registry record as the wire's NodeInfo, with its heartbeat age at `now` and its restarts. */
export function toNodeInfo(rec: NodeRecord, now = Date.now(), restarts = 0): NodeInfo {
  return {
    name: rec.name,
    ws_url: rec.wsUrl,
    grpc_addr: rec.grpcAddr,
    sessions: rec.sessions,
    started_at_ms: rec.startedAt,
    state: rec.state,
    heartbeat_age_ms: Math.max(0, now - rec.heartbeatAt),
    restarts,
  };
}

export function registryHandlers(
  engine: Engine,
  ttlMs: number,
  log: Logger,
  /** Told about every registration (the liveness watcher starts watching it). */
  onRegistered: (rec: NodeRecord) => void = () => {},
) {
  // Logins handed to each node since its last heartbeat. A node's session
  // count is only as fresh as its heartbeat, so without this a burst of
  // logins would all go to the same node. Per status process: with several
  // copies each spreads its own share.
  const handedOut = new Map<string, number>();

  return {
    async RegisterNode(req: NodeInfo): Promise<Empty> {
      const name = nodeName(req.name);
      if (typeof req.ws_url !== "string" || !WS_URL.test(req.ws_url)) {
        throw invalid("ws_url must be a ws:// or wss:// URL");
      }
      if (typeof req.grpc_addr !== "string" || !HOST_PORT.test(req.grpc_addr)) {
        throw invalid("grpc_addr must be host:port");
      }
      const now = Date.now();
      const startedAt = Number(req.started_at_ms) > 0 ? Number(req.started_at_ms) : now;
      const rec: NodeRecord = {
        name,
        wsUrl: req.ws_url,
        grpcAddr: req.grpc_addr,
        sessions: sessions(req.sessions),
        startedAt,
        state: nodeState(req.state),
        heartbeatAt: now,
      };
      await upsertNode(engine, rec);
      handedOut.delete(name);
      onRegistered(rec);
      const restarts = await recordStart(engine, name, startedAt);
      log.info("chat node registered", {
        node: name,
        wsUrl: rec.wsUrl,
        grpcAddr: rec.grpcAddr,
        restarts,
      });
      return {};
    },

    async Heartbeat(req: HeartbeatRequest): Promise<Empty> {
      const name = nodeName(req.name);
      const known = await touchNode(engine, name, {
        sessions: sessions(req.sessions),
        state: nodeState(req.state),
      });
      // NOT_FOUND tells the node to register again (it expired or status lost it).
      if (!known) throw new AppError("node_unknown", `node ${name} is not registered`, 404);
      handedOut.delete(name);
      return {};
    },

    async DeregisterNode(req: NodeRef): Promise<Empty> {
      const name = nodeName(req.name);
      // The node is gone, so are its sessions. A node that only stops taking
      // logins heartbeats with state "draining" instead of deregistering.
      await removeNode(engine, name);
      handedOut.delete(name);
      await clearNodePresence(engine, name);
      log.info("chat node deregistered", { node: name });
      return {};
    },

    /** The live "up" node with the fewest sessions plus logins handed out; ties by name. */
    async PickNode(): Promise<NodeInfo> {
      const now = Date.now();
      const best = leastLoaded(await liveNodes(engine, ttlMs, now), {
        extra: (name) => handedOut.get(name) ?? 0,
      });
      if (!best) throw new AppError("no_chat_node", "no chat node is available", 503, 1);
      handedOut.set(best.name, (handedOut.get(best.name) ?? 0) + 1);
      return toNodeInfo(best, now);
    },
  };
}
