/**
 * TypeScript shapes of the gRPC services in this folder (keepCase, int64 as
 * number), who may call each method (auth.ts), and one-line constructors for
 * their clients. services_test.ts holds these shapes to the .proto files.
 */
import type { Access } from "./auth.ts";
import { type ClientOptions, connect, type ProtoFile, type RpcClient, type Unary } from "./grpc.ts";

/** A service: where it is defined, and the methods whose access rule is not `cluster`. */
export interface ServiceRef<Methods> {
  file: ProtoFile;
  service: string;
  access: Partial<Record<keyof Methods & string, Access>>;
}

// --- verify.proto ---
export type CodePurpose = "register" | "reset_password";
export interface SendCodeRequest {
  email: string;
  purpose: CodePurpose;
}
export interface SendCodeReply {
  expires_at_ms: number;
  resend_after_s: number;
}
export interface CheckCodeRequest {
  email: string;
  purpose: CodePurpose;
  code: string;
}
export interface CheckCodeReply {
  ok: boolean;
}
export type VerifyMethods = {
  SendCode: Unary<SendCodeRequest, SendCodeReply>;
  CheckCode: Unary<CheckCodeRequest, CheckCodeReply>;
};
export const VERIFY_SERVICE = "parley.verify.VerifyService";
export const VERIFY: ServiceRef<VerifyMethods> = {
  file: "verify.proto",
  service: VERIFY_SERVICE,
  access: {},
};
export function verifyClient(address: string, options?: ClientOptions): RpcClient<VerifyMethods> {
  return connect<VerifyMethods>("verify.proto", VERIFY_SERVICE, address, options);
}

// --- status.proto ---
export type Empty = Record<never, never>;
export interface NodeInfo {
  name: string;
  ws_url: string;
  grpc_addr: string;
  sessions: number;
  started_at_ms: number;
  state: "up" | "draining" | string;
  heartbeat_age_ms: number;
  /** In status's replies: how often a node of this name was started again (status.proto). */
  restarts?: number;
}
/** A NodeInfo as a node registers itself (the registry fills in the heartbeat age). */
export type RegisterNodeRequest = Omit<NodeInfo, "heartbeat_age_ms"> & {
  heartbeat_age_ms?: number;
};
export interface HeartbeatRequest {
  name: string;
  sessions: number;
  state: string;
}
export interface NodeRef {
  name: string;
}
export interface UserRef {
  /** 0 to look the user up by `login` (name or e-mail) instead. */
  id: number;
  login: string;
}
/** One open session of a user. */
export interface SessionInfo {
  session_id: string;
  node: string;
  device: string;
  label: string;
  since_ms: number;
}
export interface PresenceInfo {
  user_id: number;
  name: string;
  online: boolean;
  /** node, session_id and since_ms: the newest session. */
  node: string;
  session_id: string;
  since_ms: number;
  last_seen_ms: number;
  /** Every open session, oldest first. */
  sessions: SessionInfo[];
}
export interface ListOnlineRequest {
  cursor: string;
  limit: number;
}
export interface OnlineList {
  total: number;
  users: PresenceInfo[];
  next_cursor: string;
}
export interface AdminKickRequest {
  user: UserRef;
  reason: string;
  /** When set, only sessions opened with this token (its JWT id) are ended. */
  token_id?: string;
  /** When set, only this session is ended; otherwise every session of the user. */
  session_id?: string;
}
export interface AdminKickReply {
  kicked: boolean;
  /** The node of the (first) session ended. */
  node: string;
  /** How many sessions were ended. */
  sessions: number;
}
export interface UserDetails {
  id: number;
  email: string;
  name: string;
  display_name: string;
  bio: string;
  created_at_ms: number;
  friends: number;
  messages: number;
  presence: PresenceInfo | null;
}
export interface StatsReply {
  users: number;
  messages: number;
  sessions: number;
  nodes: NodeInfo[];
}
export type StatusMethods = {
  RegisterNode: Unary<RegisterNodeRequest, Empty>;
  Heartbeat: Unary<HeartbeatRequest, Empty>;
  DeregisterNode: Unary<NodeRef, Empty>;
  PickNode: Unary<Empty, NodeInfo>;
  ListNodes: Unary<Empty, { nodes: NodeInfo[] }>;
  Presence: Unary<UserRef, PresenceInfo>;
  ListOnline: Unary<ListOnlineRequest, OnlineList>;
  Kick: Unary<AdminKickRequest, AdminKickReply>;
  UserInfo: Unary<UserRef, UserDetails>;
  Stats: Unary<Empty, StatsReply>;
};
export const STATUS_SERVICE = "parley.status.StatusService";
/**
 * The operator's queries need the admin token (what parley-admin sends).
 * Kick is also a cluster member's action (the gate ends the sessions of a
 * changed password), so the cluster secret is enough for it: whoever holds
 * that secret can already call ChatNode.Kick directly, so asking the gate
 * for the admin token as well would protect nothing and spread it wider.
 */
export const STATUS: ServiceRef<StatusMethods> = {
  file: "status.proto",
  service: STATUS_SERVICE,
  access: {
    ListNodes: "admin",
    Presence: "admin",
    ListOnline: "admin",
    Kick: "cluster_or_admin",
    UserInfo: "admin",
    Stats: "admin",
  },
};
export function statusClient(address: string, options?: ClientOptions): RpcClient<StatusMethods> {
  return connect<StatusMethods>("status.proto", STATUS_SERVICE, address, options);
}
/** Metadata that authorises an admin call to the status role. */
export function adminMetadata(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

// --- chat.proto ---
export interface NodeKickRequest {
  user_id: number;
  /** Empty: every session of the user on that node. */
  session_id: string;
  reason: string;
  /** A newer login replaces the session (the user stays online); unset for an admin's kick. */
  replaced?: boolean;
}
export interface DeliverItem {
  user_id: number;
  frame: string;
  /** A msg.new's seq in the user's inbox; 0 or unset for other events. */
  seq?: number;
  /** A session of the user to leave out; "" or unset for none. */
  exclude_session?: string;
}
export type ChatNodeMethods = {
  Kick: Unary<NodeKickRequest, { kicked: boolean }>;
  Deliver: Unary<{ items: DeliverItem[] }, { delivered: boolean[] }>;
};
export const CHAT_SERVICE = "parley.chat.ChatNode";
export const CHAT_NODE: ServiceRef<ChatNodeMethods> = {
  file: "chat.proto",
  service: CHAT_SERVICE,
  access: {},
};
export function chatNodeClient(
  address: string,
  options?: ClientOptions,
): RpcClient<ChatNodeMethods> {
  return connect<ChatNodeMethods>("chat.proto", CHAT_SERVICE, address, options);
}
