/**
 * What every part of a running chat node shares: its config and name, the
 * store and engine, the message writer, the hub, the peers, metrics, and whether it is
 * draining. Built once by mod.ts and passed down explicitly.
 */
import type { ResolvedConfig } from "../config.ts";
import type { Engine } from "../engine/types.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/types.ts";
import type { Hub } from "./hub.ts";
import type { ChatMetrics } from "./metrics.ts";
import type { Peers } from "./peers.ts";
import type { MessageWriter } from "./writer.ts";
import type { UserBuckets } from "./buckets.ts";

export interface ChatContext {
  config: ResolvedConfig;
  /** This node's name (config.chat.name). */
  node: string;
  log: Logger;
  store: Store;
  /** Batches the node's message inserts (msg.send writes through it, not the store). */
  writer: MessageWriter;
  engine: Engine;
  hub: Hub;
  /** Message rate buckets per user, kept across the user's sessions on this node. */
  buckets: UserBuckets;
  peers: Peers;
  metrics: ChatMetrics;
  state: {
    /** No new sockets or logins. */
    draining: boolean;
    /** Sockets that have not authenticated yet. */
    unauthenticated: number;
    /** Some peer called this node's gRPC service, so it may hold a connection to it. */
    rpcServed: boolean;
  };
}
