/**
 * The cluster Router: an event for a user goes to each of the user's
 * sessions on this node directly, and to every other node that presence
 * lists a session of the user on, in one batched gRPC Deliver per node
 * (peers.ts). A call that fails is retried with a fresh presence lookup
 * (route_retry.ts); a node that answers that the user is not there, when
 * the list came from the cache, makes the router look once more (the user
 * may have moved). Routing reaches a node at the address its sessions'
 * presence entries carry, so it never depends on status keeping the node
 * registry fresh.
 */
import type { ServerEvent } from "../../proto/protocol.ts";
import type { DeliverItem, NodeKickRequest } from "../../proto/services.ts";
import type { Engine } from "../engine/types.ts";
import { getSessions, getSessionsMany, type PresenceSession } from "../engine/presence.ts";
import { getNode, liveNodes } from "../engine/nodes.ts";
import type { Logger } from "../log.ts";
import type { ChatMetrics } from "./metrics.ts";
import type { LocalSessions } from "./local_sessions.ts";
import type { DeliverOutcome } from "./peers.ts";
import { PresenceCache } from "./presence_cache.ts";
import { kickLocal, observeDelivery, pushLocal } from "./route_local.ts";
import { DeliveryRetries } from "./route_retry.ts";
import type { DeliverOptions, KickRequest, Router } from "./router.ts";

/** The calls this router makes to other nodes: Peers over gRPC (a recording fake in tests). */
export interface NodeLink {
  /** Queues one event for a user on the node at `addr`; resolves with what became of it. */
  deliver(addr: string, item: DeliverItem): Promise<DeliverOutcome>;
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
  /** This node's name, as it appears in presence entries. */
  node: string;
  /** A node whose heartbeat is older than this is dead (when status keeps the registry). */
  nodeTtlMs: number;
  /** How long a failed Deliver is retried (route_retry.ts). */
  retryForMs?: number;
}

const DONE = Promise.resolve();

/** How long a node's address and the registry's liveness are trusted without asking again. */
const NODE_CACHE_MS = 2000;
/** How often connections to nodes that left the registry are closed. */
export const PEER_SWEEP_MS = 1000;
/** Routing failures (the engine is down) are logged at most this often. */
const WARN_EVERY_MS = 5000;

/** The registry's view of live nodes; `trusted` only while it lists this node itself. */
interface LiveView {
  names: Set<string>;
  trusted: boolean;
  at: number;
}

export class ClusterRouter implements Router {
  #cache: PresenceCache;
  #retries: DeliveryRetries;
  #nodes = new Map<string, { addr: string | null; at: number }>();
  #live: LiveView | null = null;
  #warnedAt = 0;
  #sweep: ReturnType<typeof setInterval>;

  constructor(readonly options: ClusterRouterOptions) {
    this.#cache = new PresenceCache(options.engine);
    const { metrics } = options;
    this.#retries = new DeliveryRetries({
      lookup: (userId) => this.#cache.fresh(userId),
      node: options.node,
      addressOf: (s) => this.#addressOf(s),
      deliver: (addr, item) => options.link.deliver(addr, item),
      count: (result) => metrics.crossNode.inc({ result }),
      delivered: () => metrics.crossNode.inc({ result: "delivered" }),
    }, options.retryForMs);
    // Let go of nodes that left the registry (see peers.ts retain()).
    this.#sweep = setInterval(() => this.#retainLive(), PEER_SWEEP_MS);
  }

  deliver(userId: number, frame: ServerEvent | string, options?: DeliverOptions): Promise<void> {
    const { sessions, metrics, node } = this.options;
    pushLocal(sessions, metrics, userId, frame, options);
    // The hot path: the user's list is cached and every session is here: nothing to wait for.
    const list = this.#cache.peek(userId);
    if (list && !list.some((s) => s.node !== node)) return DONE;
    return this.#deliverRemote(userId, frame, list, options);
  }

  async #deliverRemote(
    userId: number,
    frame: ServerEvent | string,
    cachedList: PresenceSession[] | undefined,
    options?: DeliverOptions,
  ): Promise<void> {
    try {
      const list = cachedList ?? await this.#cache.get(userId);
      if (!list.some((s) => s.node !== this.options.node)) return;
      const json = typeof frame === "string" ? frame : JSON.stringify(frame);
      await this.#sendRemote(userId, list, this.#item(userId, json, options), {
        cached: cachedList !== undefined,
        sentAt: options?.sentAt,
      });
    } catch (e) {
      this.#routingFailed(e);
    }
  }

  async deliverMany(userIds: number[], frame: ServerEvent): Promise<void> {
    const { sessions, metrics, engine, node } = this.options;
    for (const id of userIds) pushLocal(sessions, metrics, id, frame);
    if (userIds.length === 0) return;
    const json = JSON.stringify(frame);
    try {
      const lists = await getSessionsMany(engine, userIds);
      await Promise.all(
        [...lists].map(([id, list]) =>
          list.some((s) => s.node !== node)
            ? this.#sendRemote(id, list, this.#item(id, json), { cached: false })
            : undefined
        ),
      );
    } catch (e) {
      this.#routingFailed(e);
    }
  }

  async online(userIds: number[]): Promise<Set<number>> {
    const out = new Set<number>();
    if (userIds.length === 0) return out;
    const { engine, sessions, node } = this.options;
    const lists = await getSessionsMany(engine, userIds);
    const live = await this.#liveView();
    for (const id of userIds) {
      if (sessions.has(id)) out.add(id);
      else if (lists.get(id)?.some((s) => s.node !== node && isLive(live, s.node))) out.add(id);
    }
    return out;
  }

  async kick(userId: number, request: KickRequest): Promise<boolean> {
    const { engine, metrics, node, sessions } = this.options;
    let n = kickLocal(sessions, metrics, userId, request);
    const list = await getSessions(engine, userId);
    this.#cache.forget(userId);
    const targets = list.filter((s) =>
      s.node !== node && (request.session === undefined || s.session === request.session)
    );
    n += await this.#kickRemote(userId, targets, request);
    return n > 0;
  }

  async kickSessions(
    userId: number,
    targets: PresenceSession[],
    request: Omit<KickRequest, "session">,
  ): Promise<number> {
    const { metrics, node, sessions } = this.options;
    let n = 0;
    for (const s of targets) {
      if (s.node !== node) continue;
      n += kickLocal(sessions, metrics, userId, { ...request, session: s.session });
    }
    const remote = targets.filter((s) => s.node !== node);
    return n + await this.#kickRemote(userId, remote, request, true);
  }

  nodesOf(userId: number): number {
    return this.#cache.nodeCount(userId);
  }

  forget(userId: number): void {
    this.#cache.forget(userId);
  }

  /** Forgets a node's cached registry address (after a failed call). */
  forgetNode(addr: string): void {
    for (const [name, v] of this.#nodes) if (v.addr === addr) this.#nodes.delete(name);
  }

  /** Events being retried now (for tests and metrics). */
  get retrying(): number {
    return this.#retries.running;
  }

  close(): void {
    clearInterval(this.#sweep);
    this.#retries.close();
    this.options.link.closeAll();
  }

  #item(userId: number, json: string, options?: DeliverOptions): DeliverItem {
    return {
      user_id: userId,
      frame: json,
      seq: options?.item?.seq ?? 0,
      exclude_session: options?.exclude ?? "",
    };
  }

  /**
   * Ends `targets` (sessions on other nodes): one Kick per node, naming the
   * session when `bySession` or the request does, else all of the user's
   * sessions there. A node the registry knows to be dead is skipped (its
   * sessions are gone). Resolves with how many calls ended something.
   */
  async #kickRemote(
    userId: number,
    targets: PresenceSession[],
    request: Omit<KickRequest, "session"> & { session?: string },
    bySession = false,
  ): Promise<number> {
    if (targets.length === 0) return 0;
    const live = await this.#liveView().catch(() => null);
    const calls = new Map<string, { s: PresenceSession; session: string }>();
    for (const s of targets) {
      if (live && !isLive(live, s.node)) continue;
      const session = bySession ? s.session : request.session ?? "";
      calls.set(bySession ? `${s.node}\n${s.session}` : s.node, { s, session });
    }
    const results = await Promise.all([...calls.values()].map(async ({ s, session }) => {
      const addr = await this.#addressOf(s);
      if (!addr) return false;
      const kicked = await this.options.link.kick(addr, {
        user_id: userId,
        session_id: session,
        reason: request.reason,
        replaced: request.replaced,
      });
      if (kicked) this.options.metrics.kicks.inc({ where: "remote" });
      return kicked;
    }));
    return results.filter(Boolean).length;
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
      // A registry status does not keep (this node is not in it) says nothing about the others.
      if (!live.some((n) => n.name === this.options.node)) return;
      this.options.link.retain(new Set(live.map((n) => n.grpcAddr)));
    } catch { /* the engine is down: keep what we have */ }
  }

  /** Sends the item to every node of `list` but this one; failed calls go to the retries. */
  async #sendRemote(
    userId: number,
    list: PresenceSession[],
    item: DeliverItem,
    how: { cached: boolean; sentAt?: number },
  ): Promise<void> {
    const { link, metrics, node } = this.options;
    const byNode = new Map<string, PresenceSession>();
    for (const s of list) if (s.node !== node && !byNode.has(s.node)) byNode.set(s.node, s);
    const settled = new Set<string>();
    const rooms: Promise<void>[] = [];
    let failed = false;
    let pending = byNode.size;
    const done = () => {
      if (--pending > 0) return;
      if (failed) this.#retries.start(item, settled);
    };
    for (const [name, s] of byNode) {
      const addr = s.addr ?? await this.#addressOf(s);
      if (!addr) {
        failed = true;
        done();
        continue;
      }
      link.deliver(addr, item).then((outcome) => {
        metrics.crossNode.inc({ result: outcome === "absent" ? "not_delivered" : outcome });
        if (outcome === "failed") failed = true;
        else settled.add(name);
        if (outcome === "delivered" && how.sentAt !== undefined) {
          observeDelivery(metrics, "remote", how.sentAt);
        }
        // A cached list led to a node the user left: look again, once.
        if (outcome === "absent" && how.cached) this.#lookAgain(userId, item, settled, how.sentAt);
        done();
      });
      // Backpressure: a caller that awaits routing (a sender's next ack) waits
      // while that node's queue is long.
      const room = link.room(addr);
      if (room) rooms.push(room);
    }
    if (rooms.length > 0) await Promise.all(rooms);
  }

  #lookAgain(userId: number, item: DeliverItem, tried: Set<string>, sentAt?: number): void {
    this.#cache.fresh(userId).then(async (list) => {
      const fresh = list.filter((s) => s.node !== this.options.node && !tried.has(s.node));
      if (fresh.length > 0) await this.#sendRemote(userId, fresh, item, { cached: false, sentAt });
    }).catch(() => {/* the engine is down: the session fills the gap from the store */});
  }

  /** A session's node address: from its presence entry, else from the registry (cached). */
  async #addressOf(s: PresenceSession): Promise<string | null> {
    if (s.addr) return s.addr;
    const now = Date.now();
    const hit = this.#nodes.get(s.node);
    if (hit && now - hit.at < NODE_CACHE_MS) return hit.addr;
    const rec = await getNode(this.options.engine, s.node);
    const addr = rec?.grpcAddr ?? null;
    this.#nodes.set(s.node, { addr, at: now });
    return addr;
  }

  async #liveView(): Promise<LiveView> {
    const now = Date.now();
    if (this.#live && now - this.#live.at < NODE_CACHE_MS) return this.#live;
    const { engine, nodeTtlMs, node } = this.options;
    const names = new Set((await liveNodes(engine, nodeTtlMs)).map((n) => n.name));
    this.#live = { names, trusted: names.has(node), at: now };
    return this.#live;
  }
}

/** Whether to count a node as live: only a registry status keeps can say it is not. */
function isLive(view: LiveView, node: string): boolean {
  return !view.trusted || view.names.has(node);
}
