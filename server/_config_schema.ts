/**
 * The shape of Parley's configuration: what a file, the environment or a
 * flag may set (`ConfigSchema`, every field optional) and what the roles are
 * given (`ResolvedConfig`, every field required). Internal to config.ts,
 * which re-exports it; config.ts alone turns the one into the other.
 */
import { z } from "zod";

export const ROLES = ["gate", "chat", "status", "verify"] as const;
export type Role = (typeof ROLES)[number];

/** Raised for a bad flag, file or field; main.ts prints it and exits 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const port = z.number().int().min(0).max(65535);
const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, {
  message: "expected host:port",
});

const storeUrl = z.string().refine((s) => /^sqlite:.+/.test(s) || /^mysql:\/\/.+/.test(s), {
  message: "expected sqlite:PATH or mysql://user:pass@host:port/db",
});
const engineUrl = z.string().refine(
  (s) => s === "memory:" || /^rediss?:\/\/.+/.test(s) || /^redis-cluster:\/\/.+/.test(s),
  { message: "expected memory:, redis://host:port or redis-cluster://host:port,host:port" },
);
/** Sent as gRPC metadata: printable ASCII, no spaces. */
const clusterSecret = z.string().regex(/^[\x21-\x7e]{32,}$/, {
  message: "must be at least 32 printable ASCII characters without spaces",
});
const smtpUrl = z.string().refine((s) => /^smtps?:\/\/.+/.test(s), {
  message: "expected smtp://[user:pass@]host:port or smtps://...",
});

/** Everything a user may write in a config file; every field optional. */
export const ConfigSchema = z.strictObject({
  roles: z.array(z.enum(ROLES)).min(1).optional(),
  dataDir: z.string().min(1).optional(),
  logLevel: z.enum(["debug", "info", "warn", "error"]).optional(),
  storeUrl: storeUrl.optional(),
  engineUrl: engineUrl.optional(),
  smtpUrl: smtpUrl.optional(),
  mailFrom: z.string().min(3).optional(),
  jwtSecret: z.string().min(32, { message: "must be at least 32 characters" }).optional(),
  jwtKeyFile: z.string().min(1).optional(),
  tokenTtlS: z.number().int().min(60).max(30 * 86400).optional(),
  adminToken: z.string().min(16, { message: "must be at least 16 characters" }).optional(),
  /** Shared by every process of a cluster; sent on every internal call. */
  clusterSecret: clusterSecret.optional(),
  clusterSecretFile: z.string().min(1).optional(),
  /** One more secret this process accepts (never sends), while the secret is rotated. */
  clusterSecretAccept: clusterSecret.optional(),
  tls: z.strictObject({
    certFile: z.string().min(1),
    keyFile: z.string().min(1),
    /** CA that signed the peers' certificates, for gRPC clients; system roots if unset. */
    caFile: z.string().min(1).optional(),
  }).optional(),
  gate: z.strictObject({
    host: z.string().optional(),
    port: port.optional(),
    /** Take the client IP from X-Forwarded-For (only behind a trusted proxy). */
    trustProxy: z.boolean().optional(),
    /** Verification codes one client IP may request per hour. */
    codesPerIpPerHour: z.number().int().positive().optional(),
    /** Verification codes one e-mail address may be sent per day. */
    codesPerEmailPerDay: z.number().int().positive().optional(),
    /** Of those, how many one client IP may ask for one address per day. */
    codesPerEmailPerIpPerDay: z.number().int().positive().optional(),
    /** Failed logins of one login (from all IPs) in 15 minutes past which every failing IP is slowed. */
    loginFailuresPerAccount: z.number().int().positive().optional(),
    /** Failed logins from one client IP (all logins) in 15 minutes before it is refused. */
    loginFailuresPerIp: z.number().int().positive().optional(),
    /** Login attempts one client IP may make per minute. */
    loginsPerIpPerMinute: z.number().int().positive().optional(),
    /** Successful logins one account may make per hour. */
    loginsPerAccountPerHour: z.number().int().positive().optional(),
    /** Password reset attempts one client IP may make per hour. */
    resetsPerIpPerHour: z.number().int().positive().optional(),
    /** POST /session/chat-node calls one user may make per minute. */
    chatNodePerUserPerMinute: z.number().int().positive().optional(),
  }).optional(),
  verify: z.strictObject({
    host: z.string().optional(),
    port: port.optional(),
    /** Where other roles reach the verify role. */
    address: hostPort.optional(),
  }).optional(),
  status: z.strictObject({
    host: z.string().optional(),
    port: port.optional(),
    address: hostPort.optional(),
    /** A chat node that has not sent a heartbeat for this long leaves the pick list. */
    nodeTtlMs: z.number().int().min(1000).optional(),
  }).optional(),
  chat: z.strictObject({
    /** Unique name of this chat node in the cluster. */
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).optional(),
    /** Where the WebSocket listens (all interfaces by default). */
    host: z.string().optional(),
    port: port.optional(),
    /** Where the internal ChatNode gRPC service listens (loopback by default). */
    grpcHost: z.string().optional(),
    grpcPort: port.optional(),
    /** WebSocket URL clients are sent to; derived from host and port if unset. */
    publicUrl: z.string().regex(/^wss?:\/\/.+/).optional(),
    /** gRPC address other chat nodes and status use to reach this node. */
    grpcAddress: hostPort.optional(),
    heartbeatMs: z.number().int().min(1000).max(300_000).optional(),
    /** Sustained messages per second per user (token bucket rate). */
    msgRate: z.number().positive().optional(),
    /** Token bucket size: messages a user may send in a burst. */
    msgBurst: z.number().int().positive().optional(),
    maxUnauthenticated: z.number().int().positive().optional(),
    authTimeoutMs: z.number().int().min(100).optional(),
    drainTimeoutMs: z.number().int().min(0).optional(),
    /** "multi": several sessions per user side by side; "single": a new login ends the previous one. */
    sessions: z.enum(["multi", "single"]).optional(),
    /** With "multi": past this many sessions of one user, the oldest is ended. */
    maxSessionsPerUser: z.number().int().min(1).max(100).optional(),
    /** How often the node compares its sessions with their users' inbox heads (and fills gaps). */
    headCheckMs: z.number().int().min(100).max(60_000).optional(),
  }).optional(),
});
export type Config = z.infer<typeof ConfigSchema>;

export interface TlsConfig {
  cert: string;
  key: string;
  ca?: string;
}

export interface WindowLimit {
  limit: number;
  windowMs: number;
}

/** The gate's rate limits; server/gate/limits.ts says how each is applied. */
export interface GateLimits {
  codesPerIp: WindowLimit;
  codesPerEmail: WindowLimit;
  codesPerEmailPerIp: WindowLimit;
  loginFailuresPerAccount: WindowLimit;
  loginFailuresPerIp: WindowLimit;
  loginsPerIp: WindowLimit;
  loginsPerAccount: WindowLimit;
  resetsPerIp: WindowLimit;
  chatNodePerUser: WindowLimit;
}

/** Every field required: what the roles are given. */
export interface ResolvedConfig {
  roles: Role[];
  dataDir: string;
  logLevel: "debug" | "info" | "warn" | "error";
  storeUrl: string;
  engineUrl: string;
  /** Unset: mail goes to `<dataDir>/outbox` and the code is logged. */
  smtpUrl: string | null;
  mailFrom: string;
  jwtSecret: Uint8Array;
  tokenTtlS: number;
  adminToken: string;
  /** Sent on every internal call and required by every internal server. */
  clusterSecret: string;
  /** Accepted besides clusterSecret while it is rotated. */
  clusterSecretAccept: string | null;
  tls: TlsConfig | null;
  gate: { host: string; port: number; trustProxy: boolean; limits: GateLimits };
  verify: { host: string; port: number; address: string };
  status: { host: string; port: number; address: string; nodeTtlMs: number };
  chat: {
    name: string;
    host: string;
    port: number;
    grpcHost: string;
    grpcPort: number;
    publicUrl: string;
    grpcAddress: string;
    heartbeatMs: number;
    msgRate: number;
    msgBurst: number;
    maxUnauthenticated: number;
    authTimeoutMs: number;
    drainTimeoutMs: number;
    sessions: "multi" | "single";
    maxSessionsPerUser: number;
    headCheckMs: number;
  };
}
