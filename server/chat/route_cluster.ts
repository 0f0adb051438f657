/**
 * The cluster Router: a user with a session here gets the event pushed
 * directly; otherwise presence (in the engine) names their node and the
 * event goes there in a batched gRPC Deliver (peers.ts). A user who is
 * offline, or whose node is dead or unreachable, gets nothing: messages
 * wait in the store for the next login's sync, other events are dropped.
 *
 * Presence records naming another node, and nodes' addresses, are cached
 * for a moment; a Deliver that came back undelivered through a cached
 * record is sent once more after a fresh lookup (the user may have moved).
 */
import type { ServerEvent } from "../../proto/protocol.ts";
import type { DeliverItem, NodeKickRequest } from "../../proto/services.ts";
import type { Engine } from "../engine/types.ts";
import { getPresence, getPresenceMany, type PresenceRecord } from "../engine/presence.ts";
import { getNode, liveNodes } from "../engine/nodes.ts";
import type { Logger } from "../log.ts";
import type { ChatMetrics } from "./metrics.ts";
import type { LocalSessions } from "./local_sessions.ts";
import { kickLocal, observeDelivery, pushLocal } from "./route_local.ts";
import type { DeliverOptions, KickRequest, Router } from "./router.ts";

/** The calls this router makes to other nodes: Peers over gRPC (a recording fake in tests). */
export interface NodeLink {
  /** Queues one event for a user on the node at `addr`; resolves with whether it was pushed. */
  deliver(addr: string, item: DeliverItem): Promise<boolean>;
  /** Resolves once the queue for `addr` has room (undefined: it has room now). */
  room(addr: string): Promise<void> | undefined;
  kick(addr: string, req: NodeKickRequest): Promise<boolean>;
  /** Closes the connections to addresses not in `addrs`. */
  retain(addrs: Set<string>): void;
  closeAll(): void;
}

export interface ClusterRouterOptions {
  engine: Engine;
  sessions: LocalSessions;
  link: NodeLink;
  metrics: ChatMetrics;
  log: Logger;
  /** This node's name, as it appears in presence records. */
  node: string;
  /** A node whose heartbeat is older than this is dead. */
  nodeTtlMs: number;
}

/** How long a node's address and liveness are trusted without asking the engine again. */
const NODE_CACHE_MS = 2000;
/**
 * How long a user's presence record (naming another node) is trusted for
 * routing. A stale one costs no message: the Deliver it leads to comes back
 * undelivered, and the router looks again (#retry).
 */
const PRESENCE_CACHE_MS = 2000;
/** How often connections to nodes that left the registry are closed. */
export const PEER_SWEEP_MS = 1000;
/** Routing failures (the engine is down) are logged at most this often. */
const WARN_EVERY_MS = 5000;

export class ClusterRouter implements Router {
  #nodes = new Map<string, { addr: string | null; at: number }>();
  #live: { names: Set<string>; at: number } | null = null;
  #presence = new Map<number, { rec: PresenceRecord; at: number }>();
  #lookups = new Map<number, Promise<PresenceRecord | null>>();
  #prunedAt = 0;
  #warnedAt = 0;
  #sweep: ReturnType<typeof setInterval>;

  constructor(readonly options: ClusterRouterOptions) {
    // Let go of nodes that left the registry (see peers.ts retain()).
    this.#sweep = setInterval(() => this.#retainLive(), PEER_SWEEP_MS);
  }

  async deliver(
    userId: number,
    frame: ServerEvent | string,
    options?: DeliverOptions,
  ): Promise<void> {
    const { sessions, metrics } = this.options;
    if (pushLocal(sessions, metrics, userId, frame, options)) return;
    const json = typeof frame === "string" ? frame : JSON.stringify(frame);
    try {
      await this.#routeRemote(userId, json, options?.sentAt);
    } catch (e) {
      this.#routingFailed(e);
    }
  }

  async deliverMany(userIds: number[], frame: ServerEvent): Promise<void> {
    const { sessions, metrics, engine } = this.options;
    const remote = userIds.filter((id) => !pushLocal(sessions, metrics, id, frame));
    if (remote.length === 0) return;
    const json = JSON.stringify(frame);
    try {
      const recs = await getPresenceMany(engine, remote);
      await Promise.all([...recs].map(([id, rec]) => this.#sendRemote(id, rec, json)));
    } catch (e) {
      this.#routingFailed(e);
    }
  }

  async online(userIds: number[]): Promise<Set<number>> {
    const out = new Set<number>();
    if (userIds.length === 0) return out;
    const recs = await getPresenceMany(this.options.engine, userIds);
    for (const [id, rec] of recs) {
      if (rec.node === this.options.node) {
        if (this.options.sessions.get(id)?.id === rec.session) out.add(id);
      } else if ((await this.#liveNodeNames()).has(rec.node)) out.add(id);
    }
    return out;
  }

  async kick(userId: number, request: KickRequest): Promise<boolean> {
    const { engine, link, metrics, node, nodeTtlMs } = this.options;
    const here = kickLocal(this.options.sessions, metrics, userId, request);
    const rec = await getPresence(engine, userId);
    if (!rec || rec.node === node) return here;
    if (request.session !== undefined && rec.session !== request.session) return here;
    this.#forgetPresence(userId);
    const target = await getNode(engine, rec.node);
    // A dead node's sessions are gone already; its presence record is just overwritten.
    if (!target || Date.now() - target.heartbeatAt > nodeTtlMs) return here;
    const kicked = await link.kick(target.grpcAddr, {
      user_id: userId,
      session_id: rec.session,
      reason: request.reason,
      replaced: request.replaced,
    });
    if (kicked) metrics.kicks.inc({ where: "remote" });
    return true;
  }

  /** Forgets a node's cached address (after a failed call). */
  forgetNode(addr: string): void {
    for (const [name, v] of this.#nodes) if (v.addr === addr) this.#nodes.delete(name);
  }

  close(): void {
    clearInterval(this.#sweep);
    this.options.link.closeAll();
  }

  #routingFailed(e: unknown): void {
    this.options.metrics.crossNode.inc({ result: "no_route" });
    const now = Date.now();
    if (now - this.#warnedAt < WARN_EVERY_MS) return;
    this.#warnedAt = now;
    this.options.log.warn("routing failed; live events are dropped until it recovers", {
      error: (e as Error)?.message ?? String(e),
    });
  }

  async #retainLive(): Promise<void> {
    try {
      const live = await liveNodes(this.options.engine, this.options.nodeTtlMs);
      this.options.link.retain(new Set(live.map((n) => n.grpcAddr)));
    } catch { /* the engine is down: keep what we have */ }
  }

  async #routeRemote(userId: number, json: string, sentAt?: number): Promise<void> {
    const hit = this.#presence.get(userId);
    if (hit && Date.now() - hit.at < PRESENCE_CACHE_MS) {
      return await this.#sendRemote(userId, hit.rec, json, sentAt, true);
    }
    const rec = await this.#lookup(userId);
    if (rec) await this.#sendRemote(userId, rec, json, sentAt, false);
  }

  #forgetPresence(userId: number): void {
    this.#presence.delete(userId);
    this.#lookups.delete(userId);
  }

  /**
   * Reads the user's presence, sharing one read among the callers that
   * ask meanwhile (their events keep their order), and caches a record
   * naming another node. Offline is never cached: a user who logs in
   * elsewhere must get live events as soon as their record is written.
   */
  #lookup(userId: number): Promise<PresenceRecord | null> {
    let p = this.#lookups.get(userId);
    if (p) return p;
    p = getPresence(this.options.engine, userId).then((rec) => {
      if (this.#lookups.get(userId) !== p) return rec;
      this.#lookups.delete(userId);
      if (rec && rec.node !== this.options.node) this.#cachePresence(userId, rec);
      else this.#presence.delete(userId);
      return rec;
    }, (e) => {
      if (this.#lookups.get(userId) === p) this.#lookups.delete(userId);
      throw e;
    });
    this.#lookups.set(userId, p);
    return p;
  }

  #cachePresence(userId: number, rec: PresenceRecord): void {
    const now = Date.now();
    // Expired entries go in one sweep per TTL, so the cache holds only recent recipients.
    if (now - this.#prunedAt > PRESENCE_CACHE_MS) {
      this.#prunedAt = now;
      for (const [id, hit] of this.#presence) {
        if (now - hit.at >= PRESENCE_CACHE_MS) this.#presence.delete(id);
      }
    }
    this.#presence.set(userId, { rec, at: now });
  }

  async #sendRemote(
    userId: number,
    rec: PresenceRecord,
    json: string,
    sentAt?: number,
    cached = false,
  ): Promise<void> {
    // Presence naming this node without a session here is a record being cleared.
    if (rec.node === this.options.node) return;
    const addr = await this.#addressOf(rec.node);
    if (!addr) {
      if (cached) this.#retry(userId, rec, json, sentAt);
      return;
    }
    const { link, metrics } = this.options;
    link.deliver(addr, { user_id: userId, frame: json }).then((delivered) => {
      metrics.crossNode.inc({ result: delivered ? "delivered" : "not_delivered" });
      if (delivered && sentAt !== undefined) observeDelivery(metrics, "remote", sentAt);
      if (!delivered && cached) this.#retry(userId, rec, json, sentAt);
    });
    // Backpressure: a caller that awaits routing (a sender's next ack) waits
    // while that node's queue is long.
    await link.room(addr);
  }

  /**
   * A cached record led nowhere: the user may have moved. Looks again and
   * sends once more if presence now names another session. (The message is
   * stored either way; this only keeps the live push.)
   */
  #retry(userId: number, stale: PresenceRecord, json: string, sentAt?: number): void {
    if (this.#presence.get(userId)?.rec === stale) this.#forgetPresence(userId);
    this.#lookup(userId).then(async (rec) => {
      if (!rec || (rec.node === stale.node && rec.session === stale.session)) return;
      const { sessions, metrics } = this.options;
      if (rec.node === this.options.node) pushLocal(sessions, metrics, userId, json, { sentAt });
      else await this.#sendRemote(userId, rec, json, sentAt, false);
    }).catch(() => {/* the engine is down: the message waits for the next sync */});
  }

  /** The gRPC address of a live node, or null if the node is unknown or its heartbeat expired. */
  async #addressOf(name: string): Promise<string | null> {
    const now = Date.now();
    const hit = this.#nodes.get(name);
    if (hit && now - hit.at < NODE_CACHE_MS) return hit.addr;
    const rec = await getNode(this.options.engine, name);
    const addr = rec && now - rec.heartbeatAt <= this.options.nodeTtlMs ? rec.grpcAddr : null;
    this.#nodes.set(name, { addr, at: now });
    return addr;
  }

  /** Names of the nodes whose heartbeat is fresh (this node always counts). */
  async #liveNodeNames(): Promise<Set<string>> {
    const now = Date.now();
    if (this.#live && now - this.#live.at < NODE_CACHE_MS) return this.#live.names;
    const { engine, nodeTtlMs, node } = this.options;
    const names = new Set((await liveNodes(engine, nodeTtlMs)).map((n) => n.name));
    names.add(node);
    this.#live = { names, at: now };
    return names;
  }
}
