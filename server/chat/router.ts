/**
 * The routing seam (socket.io's adapter is the model): how an event reaches
 * a user wherever they are connected, whether a user is online, and how a
 * user's session is ended wherever it is. Handlers, login and the session
 * end talk to this interface only. Two implementations:
 *
 * - `InProcessRouter` (route_local.ts): every session is on this node. The
 *   single-process mode (`deno task serve`, memory engine) and unit tests.
 * - `ClusterRouter` (route_cluster.ts): presence in the engine names a
 *   user's node; other nodes are reached by gRPC Deliver and Kick (peers.ts).
 *
 * Delivery is best effort and never fails the caller: a message is durable
 * in the store before it is routed (the recipient's next sync has it), and
 * other events (typing, presence, receipts, friend.*) are dropped for a user
 * who cannot be reached. What a delivery needs beyond the user and the frame
 * goes into `DeliverOptions`, so the interface keeps its shape as delivery
 * grows (an item's inbox `seq`, a session to leave out, several sessions of
 * one user, retries of a failed Deliver with a fresh lookup).
 */
import type { ServerEvent } from "../../proto/protocol.ts";

export interface DeliverOptions {
  /** When the message the event carries was stored (ms): feeds the delivery latency histogram. */
  sentAt?: number;
}

export interface KickRequest {
  /** Shown to the client in `kicked`. */
  reason: string;
  /** A newer login of the same user took over: friends are not told the user left. */
  replaced: boolean;
  /** Only this session (a stale kick must not end a newer one); by default the user's session. */
  session?: string;
}

export interface Router {
  /**
   * Sends `frame` (an event, or one already encoded as JSON, forwarded as it
   * is) to the user's session wherever it is. Resolves once the event was
   * pushed to a local session or queued for the user's node, so events a
   * caller routes one after another reach a user in that order; delivery
   * over the network completes later, and may wait while that node's queue
   * is long (backpressure). Never rejects.
   */
  deliver(userId: number, frame: ServerEvent | string, options?: DeliverOptions): Promise<void>;
  /** deliver() of one event to many users (e.g. presence to friends), with one lookup. Never rejects. */
  deliverMany(userIds: number[], frame: ServerEvent): Promise<void>;
  /** Those of `userIds` with a live session. Rejects if it cannot tell (the engine is down). */
  online(userIds: number[]): Promise<Set<number>>;
  /**
   * Ends the user's session wherever it is, and resolves with whether the
   * user had one (here, or on a live node). Rejects if it cannot tell.
   */
  kick(userId: number, request: KickRequest): Promise<boolean>;
  /** Stops background work and lets go of connections to other nodes. */
  close(): void;
}
