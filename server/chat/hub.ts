/**
 * Routing: the sessions this node holds, and how an event reaches a user
 * wherever they are connected. A user with a session here gets it pushed
 * directly; otherwise presence names their node and the event goes there in
 * a batched gRPC Deliver (peers.ts). A user who is offline, or whose node is
 * dead or unreachable, gets nothing: messages wait in the store for the next
 * login's sync, and other events (typing, presence, receipts) are dropped.
 */
import type { ServerEvent } from "../../proto/protocol.ts";
import type { Engine } from "../engine/types.ts";
import { getPresence, getPresenceMany, type PresenceRecord } from "../engine/presence.ts";
import { getNode, liveNodes } from "../engine/nodes.ts";
import type { ChatMetrics } from "./metrics.ts";
import type { Peers } from "./peers.ts";

/** What the hub needs of a session. */
export interface LocalSession {
  readonly id: string;
  readonly userId: number;
  /** Pushes an event (an object, or JSON from another node); false if the session is gone. */
  deliver(frame: ServerEvent | string): boolean;
  /**
   * Ends the session (`kicked`, then close 4003). `replaced`: a newer login
   * of the same user took over, so friends are not told the user left.
   */
  kick(reason: string, replaced: boolean): void;
}

export interface HubOptions {
  engine: Engine;
  peers: Peers;
  metrics: ChatMetrics;
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
 * undelivered, and the hub looks again (#retry).
 */
const PRESENCE_CACHE_MS = 2000;

export class Hub {
  #local = new Map<number, LocalSession>();
  #nodes = new Map<string, { addr: string | null; at: number }>();
  #live: { names: Set<string>; at: number } | null = null;
  #presence = new Map<number, { rec: PresenceRecord; at: number }>();
  #lookups = new Map<number, Promise<PresenceRecord | null>>();
  #prunedAt = 0;
  /** Sessions added so far (a running total). */
  logins = 0;

  constructor(readonly options: HubOptions) {}

  get size(): number {
    return this.#local.size;
  }

  local(userId: number): LocalSession | undefined {
    return this.#local.get(userId);
  }

  sessions(): LocalSession[] {
    return [...this.#local.values()];
  }

  add(session: LocalSession): void {
    this.logins++;
    this.forgetPresence(session.userId);
    this.#local.set(session.userId, session);
    this.options.metrics.sessions.set(this.#local.size);
  }

  /** Forgets the session, unless a newer one of the same user took its place. */
  remove(session: LocalSession): void {
    if (this.#local.get(session.userId) === session) this.#local.delete(session.userId);
    this.options.metrics.sessions.set(this.#local.size);
  }

  /**
   * Sends `frame` to the user wherever they are. Resolves once the event is
   * pushed to a local session or queued for its node, so events a caller
   * routes one after another reach a user in that order; delivery over the
   * network completes later. `sentAt` (a message's store time) feeds the
   * delivery latency histogram.
   */
  async route(userId: number, frame: ServerEvent, sentAt?: number): Promise<void> {
    if (this.#pushLocal(userId, frame, sentAt)) return;
    await this.#routeRemote(userId, JSON.stringify(frame), sentAt);
  }

  /** route() for an event already encoded as JSON (pushed and forwarded as it is). */
  async routeJson(userId: number, json: string, sentAt?: number): Promise<void> {
    if (this.#pushLocal(userId, json, sentAt)) return;
    await this.#routeRemote(userId, json, sentAt);
  }

  /** Sends one event to many users (e.g. presence to friends) with one presence lookup. */
  async routeMany(userIds: number[], frame: ServerEvent): Promise<void> {
    const remote = userIds.filter((id) => !this.#pushLocal(id, frame));
    if (remote.length === 0) return;
    const json = JSON.stringify(frame);
    const recs = await getPresenceMany(this.options.engine, remote);
    await Promise.all([...recs].map(([id, rec]) => this.#sendRemote(id, rec, json)));
  }

  /** Forgets what this node believed about the user's presence (a login or kick it saw). */
  forgetPresence(userId: number): void {
    this.#presence.delete(userId);
    this.#lookups.delete(userId);
  }

  #pushLocal(userId: number, frame: ServerEvent | string, sentAt?: number): boolean {
    const s = this.#local.get(userId);
    if (!s || !s.deliver(frame)) return false;
    if (sentAt !== undefined) this.#observe("local", sentAt);
    return true;
  }

  async #routeRemote(userId: number, json: string, sentAt?: number): Promise<void> {
    const hit = this.#presence.get(userId);
    if (hit && Date.now() - hit.at < PRESENCE_CACHE_MS) {
      return await this.#sendRemote(userId, hit.rec, json, sentAt, true);
    }
    const rec = await this.#lookup(userId);
    if (rec) await this.#sendRemote(userId, rec, json, sentAt, false);
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
  ) {
    // Presence naming this node without a session here is a record being cleared.
    if (rec.node === this.options.node) return;
    const addr = await this.#addressOf(rec.node);
    if (!addr) {
      if (cached) this.#retry(userId, rec, json, sentAt);
      return;
    }
    const { peers } = this.options;
    peers.deliver(addr, { user_id: userId, frame: json }).then((delivered) => {
      const { metrics } = this.options;
      metrics.crossNode.inc({ result: delivered ? "delivered" : "not_delivered" });
      if (delivered && sentAt !== undefined) this.#observe("remote", sentAt);
      if (!delivered && cached) this.#retry(userId, rec, json, sentAt);
    });
    // Backpressure: a caller that awaits routing (a sender's next ack) waits
    // while that node's queue is long.
    await peers.room(addr);
  }

  /**
   * A cached record led nowhere: the user may have moved. Looks again and
   * sends once more if presence now names another session. (The message is
   * stored either way; this only keeps the live push.)
   */
  #retry(userId: number, stale: PresenceRecord, json: string, sentAt?: number): void {
    if (this.#presence.get(userId)?.rec === stale) this.forgetPresence(userId);
    this.#lookup(userId).then(async (rec) => {
      if (!rec || (rec.node === stale.node && rec.session === stale.session)) return;
      if (rec.node === this.options.node) this.#pushLocal(userId, json, sentAt);
      else await this.#sendRemote(userId, rec, json, sentAt, false);
    }).catch(() => {/* the engine is down: the message waits for the next sync */});
  }

  #observe(path: string, sentAt: number): void {
    this.options.metrics.deliveryLatency.observe({ path }, Math.max(0, Date.now() - sentAt) / 1000);
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

  /** Forgets a node's cached address (after a failed call). */
  forgetNode(addr: string): void {
    for (const [name, v] of this.#nodes) if (v.addr === addr) this.#nodes.delete(name);
  }

  /** Names of the nodes whose heartbeat is fresh (this node always counts). */
  async liveNodeNames(): Promise<Set<string>> {
    const now = Date.now();
    if (this.#live && now - this.#live.at < NODE_CACHE_MS) return this.#live.names;
    const names = new Set(
      (await liveNodes(this.options.engine, this.options.nodeTtlMs)).map((n) => n.name),
    );
    names.add(this.options.node);
    this.#live = { names, at: now };
    return names;
  }

  /** Whether the user's presence record points to a session that is still there. */
  async isOnline(userId: number, rec: PresenceRecord | null | undefined): Promise<boolean> {
    if (!rec) return false;
    if (rec.node === this.options.node) return this.#local.get(userId)?.id === rec.session;
    return (await this.liveNodeNames()).has(rec.node);
  }
}
