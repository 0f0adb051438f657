/**
 * The routing seam (socket.io's adapter is the model): how an event reaches
 * every session of a user wherever they are connected, whether a user is
 * online, and how a user's sessions are ended wherever they are. Handlers,
 * login and the session end talk to this interface only. Two
 * implementations:
 *
 * - `InProcessRouter` (route_local.ts): every session is on this node. The
 *   single-process mode (`deno task serve`, memory engine) and unit tests.
 * - `ClusterRouter` (route_cluster.ts): presence in the engine lists a
 *   user's sessions and their nodes; other nodes are reached by gRPC
 *   Deliver (retried with a fresh lookup when a call fails) and Kick.
 *
 * Delivery is best effort and never fails the caller: a message is durable
 * in the store before it is routed, and a session that misses its push
 * fills the gap from the store (inbox_stream.ts, head_sweep.ts). Other
 * events (typing, presence, receipts, friend.*) are dropped for a user who
 * cannot be reached.
 */
import type { ServerEvent } from "../../proto/protocol.ts";
import type { PresenceSession } from "../engine/presence.ts";
import type { SeqItem } from "./local_sessions.ts";

export interface DeliverOptions {
  /** When the message the event carries was stored (ms): feeds the delivery latency histogram. */
  sentAt?: number;
  /** The event is a message at this place in the user's inbox (msg.new). */
  item?: SeqItem;
  /** A session of the user that is not to get it (the sender's own, for the copy of its message). */
  exclude?: string;
}

export interface KickRequest {
  /** Shown to the client in `kicked`. */
  reason: string;
  /** The user stays online (a newer login took over): friends are not told the user left. */
  replaced: boolean;
  /** Only this session (a stale kick must not end a newer one); by default every session. */
  session?: string;
}

export interface Router {
  /**
   * Sends `frame` (an event, or one already encoded as JSON, forwarded as it
   * is) to every session of the user wherever it is (but `exclude`).
   * Resolves once the event was pushed to the sessions here and queued for
   * the user's other nodes, so events a caller routes one after another
   * reach a session in that order; delivery over the network completes
   * later, and may wait while a node's queue is long (backpressure). Never
   * rejects.
   */
  deliver(userId: number, frame: ServerEvent | string, options?: DeliverOptions): Promise<void>;
  /** deliver() of one event to many users (e.g. presence to friends), with one lookup. Never rejects. */
  deliverMany(userIds: number[], frame: ServerEvent): Promise<void>;
  /** Those of `userIds` with a live session. Rejects if it cannot tell (the engine is down). */
  online(userIds: number[]): Promise<Set<number>>;
  /**
   * Ends the user's sessions (or the one `request.session` names) wherever
   * they are, and resolves with whether there was one to end. Rejects if it
   * cannot tell.
   */
  kick(userId: number, request: KickRequest): Promise<boolean>;
  /** Ends these sessions of the user (e.g. past the cap); resolves with how many it reached. */
  kickSessions(
    userId: number,
    sessions: PresenceSession[],
    request: Omit<KickRequest, "session">,
  ): Promise<number>;
  /**
   * On how many nodes the user has sessions, as far as this node knows
   * without asking the engine (1 if it does not know): the message rate is
   * split between them (buckets.ts).
   */
  nodesOf(userId: number): number;
  /** The user's presence changed here: what is cached of it is stale. */
  forget(userId: number): void;
  /** Stops background work and lets go of connections to other nodes. */
  close(): void;
}
