/**
 * What every part of a running chat node shares: its config and name, the
 * store and engine, the message and cursor writers, the head reader, the
 * sessions it holds, the router, the users' rate buckets, metrics, and
 * whether it is draining. Built once by mod.ts (or a test) and passed down
 * explicitly.
 */
import type { ResolvedConfig } from "../config.ts";
import type { Engine } from "../engine/types.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/types.ts";
import type { UserBuckets } from "./buckets.ts";
import type { CursorWriter } from "./cursor_writer.ts";
import type { HeadReader } from "./head_reader.ts";
import type { LocalSessions, NodeSession } from "./local_sessions.ts";
import type { ChatMetrics } from "./metrics.ts";
import type { Router } from "./router.ts";
import type { MessageWriter } from "./writer.ts";

export interface ChatContext {
  config: ResolvedConfig;
  /** This node's name (config.chat.name). */
  node: string;
  /** This node's gRPC address as other nodes dial it (in presence entries); null until known. */
  grpcAddr: string | null;
  log: Logger;
  store: Store;
  /** Batches the node's message inserts (msg.send writes through it, not the store). */
  writer: MessageWriter;
  /** Batches device cursors and delivered receipts (seq acks). */
  cursors: CursorWriter;
  /** Inbox heads for pongs and ack checks, reads that come together in one query. */
  heads: HeadReader;
  engine: Engine;
  /** The sessions on this node. */
  sessions: LocalSessions<NodeSession>;
  /** How events reach users, here or on other nodes. */
  router: Router;
  /** Message rate buckets per user, kept across the user's sessions (see buckets.ts). */
  buckets: UserBuckets;
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
