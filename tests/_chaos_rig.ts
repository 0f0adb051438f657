/**
 * The shapes of the chaos tests' rig (a cluster, the faults' handles, the
 * users and their clients), shared by the rig that builds it (_chaos.ts)
 * and the verdict that reads it (_verdict.ts).
 */
import type { InboxClient } from "../testing/inbox_client.ts";
import type { Account, Cluster } from "./cluster.ts";
import type { MysqlProxy, PrivateRedis } from "./_faults.ts";

export interface User {
  name: string;
  account: Account;
  client: InboxClient;
  /** The node it was first connected to. */
  home: string;
  peer: User;
  /** client_id → when the send was first written. */
  sends: Map<string, number>;
}

export interface Rig {
  cluster: Cluster;
  redis: PrivateRedis;
  mysql: MysqlProxy;
  users: User[];
  /** The test's start, for relative times in reports. */
  t0: number;
  /** Notes about the fault (what happened when), for the report. */
  notes: string[];
  note(line: string): void;
  /** When each fault ended (a fault function with several rounds marks each with ended()). */
  ends: number[];
  /** Marks the end of a fault (the node is back, the proxy restored). */
  ended(line: string): void;
}
