/**
 * The one place that reads configuration: a JSON file, then `PARLEY_*`
 * environment variables, then flags, resolved into one validated
 * `ResolvedConfig` that is passed down explicitly. Nothing else in the
 * server reads `Deno.env`.
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
    /** Failed logins per account, then per client IP, allowed in 15 minutes. */
    loginFailuresPerAccount: z.number().int().positive().optional(),
    loginFailuresPerIp: z.number().int().positive().optional(),
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
    host: z.string().optional(),
    port: port.optional(),
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

export interface GateLimits {
  codesPerIp: WindowLimit;
  codesPerEmail: WindowLimit;
  loginFailuresPerAccount: WindowLimit;
  loginFailuresPerIp: WindowLimit;
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
  tls: TlsConfig | null;
  gate: { host: string; port: number; trustProxy: boolean; limits: GateLimits };
  verify: { host: string; port: number; address: string };
  status: { host: string; port: number; address: string; nodeTtlMs: number };
  chat: {
    name: string;
    host: string;
    port: number;
    grpcPort: number;
    publicUrl: string;
    grpcAddress: string;
    heartbeatMs: number;
    msgRate: number;
    msgBurst: number;
    maxUnauthenticated: number;
    authTimeoutMs: number;
    drainTimeoutMs: number;
  };
}

export interface Flags {
  roles?: string;
  config?: string;
}

type Env = Record<string, string | undefined>;

/** The environment variables Parley reads, and the config field each sets. */
export const ENV_VARS: Record<string, string> = {
  PARLEY_ROLES: "roles (comma separated)",
  PARLEY_DATA_DIR: "dataDir",
  PARLEY_LOG_LEVEL: "logLevel",
  PARLEY_STORE_URL: "storeUrl",
  PARLEY_ENGINE_URL: "engineUrl",
  PARLEY_SMTP_URL: "smtpUrl",
  PARLEY_MAIL_FROM: "mailFrom",
  PARLEY_JWT_SECRET: "jwtSecret",
  PARLEY_JWT_KEY_FILE: "jwtKeyFile",
  PARLEY_ADMIN_TOKEN: "adminToken",
  PARLEY_TLS_CERT: "tls.certFile",
  PARLEY_TLS_KEY: "tls.keyFile",
  PARLEY_TLS_CA: "tls.caFile",
  PARLEY_GATE_PORT: "gate.port",
  PARLEY_VERIFY_ADDR: "verify.address",
  PARLEY_STATUS_ADDR: "status.address",
  PARLEY_CHAT_NAME: "chat.name",
  PARLEY_CHAT_PORT: "chat.port",
  PARLEY_CHAT_GRPC_PORT: "chat.grpcPort",
  PARLEY_CHAT_PUBLIC_URL: "chat.publicUrl",
  PARLEY_CHAT_GRPC_ADDR: "chat.grpcAddress",
};

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    if (typeof cur[p] !== "object" || cur[p] === null) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]] = value;
}

const NUMERIC = new Set(["gate.port", "chat.port", "chat.grpcPort"]);

function fromEnv(env: Env): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(ENV_VARS)) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    if (name === "PARLEY_ROLES") out.roles = raw.split(",").map((s) => s.trim());
    else if (NUMERIC.has(field)) {
      const n = Number(raw);
      if (!Number.isInteger(n)) {
        throw new ConfigError(`${name}: expected a port number, got "${raw}"`);
      }
      setPath(out, field, n);
    } else setPath(out, field, raw);
  }
  return out;
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    if (
      v && typeof v === "object" && !Array.isArray(v) && prev && typeof prev === "object" &&
      !Array.isArray(prev)
    ) {
      out[k] = merge(prev as Record<string, unknown>, v as Record<string, unknown>);
    } else out[k] = v;
  }
  return out;
}

/** Parses `--roles gate,chat` (or `all`) into roles; unknown names are a ConfigError. */
export function parseRoles(text: string, source = "--role"): Role[] {
  const names = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new ConfigError(`${source}: no role given`);
  if (names.includes("all")) return [...ROLES];
  for (const n of names) {
    if (!(ROLES as readonly string[]).includes(n)) {
      throw new ConfigError(`${source}: unknown role "${n}" (expected ${ROLES.join(", ")} or all)`);
    }
  }
  return [...new Set(names)] as Role[];
}

function formatIssues(error: z.ZodError, source: string): string {
  return error.issues.map((i) => {
    const path = i.path.join(".") || "(root)";
    return `${source}: field "${path}": ${i.message}`;
  }).join("\n");
}

export interface ResolveOptions {
  env?: Env;
  /** Reads a file; injectable for tests. */
  readFile?: (path: string) => string;
  /** Creates or reads generated secrets under dataDir; injectable for tests. */
  secrets?: SecretStore;
}

/** Keeps generated secrets (JWT key, admin token) in the data folder, mode 0600. */
export interface SecretStore {
  getOrCreate(name: string, create: () => string): string;
}

export function fileSecretStore(dataDir: string): SecretStore {
  return {
    getOrCreate(name, create) {
      const path = `${dataDir}/${name}`;
      try {
        return Deno.readTextFileSync(path).trim();
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      Deno.mkdirSync(dataDir, { recursive: true });
      const value = create();
      try {
        // createNew: two processes starting together agree on one value.
        Deno.writeTextFileSync(path, value + "\n", { createNew: true, mode: 0o600 });
        return value;
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists) return Deno.readTextFileSync(path).trim();
        throw e;
      }
    },
  };
}

function randomToken(bytes = 32): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Host to put in a URL: a wildcard bind address becomes loopback. */
function dialHost(host: string): string {
  if (host === "0.0.0.0" || host === "" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * Resolves file, then environment, then flags into one config. Throws
 * ConfigError naming the flag or field that is wrong.
 */
export function resolveConfig(flags: Flags = {}, options: ResolveOptions = {}): ResolvedConfig {
  const env = options.env ?? {};
  const readFile = options.readFile ?? ((p: string) => Deno.readTextFileSync(p));

  let fileConfig: Record<string, unknown> = {};
  if (flags.config) {
    let text: string;
    try {
      text = readFile(flags.config);
    } catch (e) {
      throw new ConfigError(`--config: cannot read ${flags.config}: ${(e as Error).message}`);
    }
    try {
      fileConfig = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`--config: ${flags.config} is not valid JSON: ${(e as Error).message}`);
    }
    if (!fileConfig || typeof fileConfig !== "object" || Array.isArray(fileConfig)) {
      throw new ConfigError(`--config: ${flags.config} must hold a JSON object`);
    }
    const checked = ConfigSchema.safeParse(fileConfig);
    if (!checked.success) throw new ConfigError(formatIssues(checked.error, flags.config));
  }

  let merged = merge(fileConfig, fromEnv(env));
  if (flags.roles !== undefined) merged = { ...merged, roles: parseRoles(flags.roles) };
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error, "config"));
  const c = parsed.data;

  const dataDir = c.dataDir ?? ".data";
  const secrets = options.secrets ?? fileSecretStore(dataDir);

  let jwtSecret: string;
  if (c.jwtSecret) jwtSecret = c.jwtSecret;
  else if (c.jwtKeyFile) {
    try {
      jwtSecret = readFile(c.jwtKeyFile).trim();
    } catch (e) {
      throw new ConfigError(`jwtKeyFile: cannot read ${c.jwtKeyFile}: ${(e as Error).message}`);
    }
    if (jwtSecret.length < 32) {
      throw new ConfigError(`jwtKeyFile: key must be at least 32 characters`);
    }
  } else jwtSecret = secrets.getOrCreate("jwt.key", () => randomToken(48));

  let tls: TlsConfig | null = null;
  if (c.tls) {
    const read = (field: string, path: string) => {
      try {
        return readFile(path);
      } catch (e) {
        throw new ConfigError(`tls.${field}: cannot read ${path}: ${(e as Error).message}`);
      }
    };
    tls = {
      cert: read("certFile", c.tls.certFile),
      key: read("keyFile", c.tls.keyFile),
      ca: c.tls.caFile ? read("caFile", c.tls.caFile) : undefined,
    };
  }

  const gateHost = c.gate?.host ?? "0.0.0.0";
  const verifyHost = c.verify?.host ?? "127.0.0.1";
  const verifyPort = c.verify?.port ?? 50051;
  const statusHost = c.status?.host ?? "127.0.0.1";
  const statusPort = c.status?.port ?? 50052;
  const chatHost = c.chat?.host ?? "0.0.0.0";
  const chatPort = c.chat?.port ?? 8090;
  const chatGrpcPort = c.chat?.grpcPort ?? 50055;
  const scheme = tls ? "wss" : "ws";

  return {
    roles: c.roles ?? [...ROLES],
    dataDir,
    logLevel: c.logLevel ?? "info",
    storeUrl: c.storeUrl ?? `sqlite:${dataDir}/parley.db`,
    engineUrl: c.engineUrl ?? "memory:",
    smtpUrl: c.smtpUrl ?? null,
    mailFrom: c.mailFrom ?? "Parley <no-reply@parley.localhost>",
    jwtSecret: new TextEncoder().encode(jwtSecret),
    tokenTtlS: c.tokenTtlS ?? 7 * 86400,
    adminToken: c.adminToken ?? secrets.getOrCreate("admin.token", () => randomToken(24)),
    tls,
    gate: {
      host: gateHost,
      port: c.gate?.port ?? 8080,
      trustProxy: c.gate?.trustProxy ?? false,
      limits: {
        codesPerIp: { limit: c.gate?.codesPerIpPerHour ?? 20, windowMs: 60 * 60_000 },
        codesPerEmail: { limit: c.gate?.codesPerEmailPerDay ?? 10, windowMs: 24 * 60 * 60_000 },
        loginFailuresPerAccount: {
          limit: c.gate?.loginFailuresPerAccount ?? 10,
          windowMs: 15 * 60_000,
        },
        loginFailuresPerIp: { limit: c.gate?.loginFailuresPerIp ?? 50, windowMs: 15 * 60_000 },
      },
    },
    verify: {
      host: verifyHost,
      port: verifyPort,
      address: c.verify?.address ?? `${dialHost(verifyHost)}:${verifyPort}`,
    },
    status: {
      host: statusHost,
      port: statusPort,
      address: c.status?.address ?? `${dialHost(statusHost)}:${statusPort}`,
      nodeTtlMs: c.status?.nodeTtlMs ?? 15_000,
    },
    chat: {
      name: c.chat?.name ?? `chat-${chatPort}`,
      host: chatHost,
      port: chatPort,
      grpcPort: chatGrpcPort,
      publicUrl: c.chat?.publicUrl ?? `${scheme}://${dialHost(chatHost)}:${chatPort}/ws`,
      grpcAddress: c.chat?.grpcAddress ?? `${dialHost(chatHost)}:${chatGrpcPort}`,
      heartbeatMs: c.chat?.heartbeatMs ?? 30_000,
      msgRate: c.chat?.msgRate ?? 20,
      msgBurst: c.chat?.msgBurst ?? 60,
      maxUnauthenticated: c.chat?.maxUnauthenticated ?? 10_000,
      authTimeoutMs: c.chat?.authTimeoutMs ?? 10_000,
      drainTimeoutMs: c.chat?.drainTimeoutMs ?? 10_000,
    },
  };
}
