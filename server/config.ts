/**
 * The one place that reads configuration: a JSON file, then `PARLEY_*`
 * environment variables, then flags, resolved into one validated
 * `ResolvedConfig` that is passed down explicitly. Nothing else in the
 * server reads `Deno.env`. The schema is _config_schema.ts; the cluster
 * secret, JWT key and TLS files are read or made in _config_keys.ts.
 */
import type { z } from "zod";
import {
  type Config,
  ConfigError,
  ConfigSchema,
  type GateLimits,
  type ResolvedConfig,
  type Role,
  ROLES,
  type WindowLimit,
} from "./_config_schema.ts";
import { clusterSecretOf, jwtSecretOf, tlsOf } from "./_config_keys.ts";
import { fileSecretStore, randomToken, type SecretStore } from "./secrets.ts";

export { ConfigError, ConfigSchema, ROLES } from "./_config_schema.ts";
export type {
  Config,
  GateLimits,
  ResolvedConfig,
  Role,
  TlsConfig,
  WindowLimit,
} from "./_config_schema.ts";

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
  PARLEY_CLUSTER_SECRET: "clusterSecret",
  PARLEY_CLUSTER_SECRET_FILE: "clusterSecretFile",
  PARLEY_CLUSTER_SECRET_ACCEPT: "clusterSecretAccept",
  PARLEY_TLS_CERT: "tls.certFile",
  PARLEY_TLS_KEY: "tls.keyFile",
  PARLEY_TLS_CA: "tls.caFile",
  PARLEY_GATE_HOST: "gate.host",
  PARLEY_GATE_PORT: "gate.port",
  PARLEY_VERIFY_HOST: "verify.host",
  PARLEY_VERIFY_PORT: "verify.port",
  PARLEY_VERIFY_ADDR: "verify.address",
  PARLEY_STATUS_HOST: "status.host",
  PARLEY_STATUS_PORT: "status.port",
  PARLEY_STATUS_ADDR: "status.address",
  PARLEY_CHAT_NAME: "chat.name",
  PARLEY_CHAT_HOST: "chat.host",
  PARLEY_CHAT_PORT: "chat.port",
  PARLEY_CHAT_GRPC_HOST: "chat.grpcHost",
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

const NUMERIC = new Set(["gate.port", "verify.port", "status.port", "chat.port", "chat.grpcPort"]);

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

/** Host to put in a URL: a wildcard bind address becomes loopback. */
function dialHost(host: string): string {
  if (host === "0.0.0.0" || host === "" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

/** The config file at `path`: a JSON object whose fields the schema accepts. */
function readConfigFile(
  path: string,
  readFile: (path: string) => string,
): Record<string, unknown> {
  let text: string;
  try {
    text = readFile(path);
  } catch (e) {
    throw new ConfigError(`--config: cannot read ${path}: ${(e as Error).message}`);
  }
  let fileConfig: Record<string, unknown>;
  try {
    fileConfig = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`--config: ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (!fileConfig || typeof fileConfig !== "object" || Array.isArray(fileConfig)) {
    throw new ConfigError(`--config: ${path} must hold a JSON object`);
  }
  const checked = ConfigSchema.safeParse(fileConfig);
  if (!checked.success) throw new ConfigError(formatIssues(checked.error, path));
  return fileConfig;
}

/**
 * Resolves file, then environment, then flags into one config. Throws
 * ConfigError naming the flag or field that is wrong.
 */
export function resolveConfig(flags: Flags = {}, options: ResolveOptions = {}): ResolvedConfig {
  const env = options.env ?? {};
  const readFile = options.readFile ?? ((p: string) => Deno.readTextFileSync(p));

  const fileConfig = flags.config ? readConfigFile(flags.config, readFile) : {};
  let merged = merge(fileConfig, fromEnv(env));
  if (flags.roles !== undefined) merged = { ...merged, roles: parseRoles(flags.roles) };
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error, "config"));
  const c = parsed.data;

  const dataDir = c.dataDir ?? ".data";
  const secrets = options.secrets ?? fileSecretStore(dataDir);

  const roles = c.roles ?? [...ROLES];
  const clusterSecret = clusterSecretOf(c, roles, secrets, readFile);
  const jwtSecret = jwtSecretOf(c, roles, secrets, readFile);

  const tls = tlsOf(c, readFile);

  const gateHost = c.gate?.host ?? "0.0.0.0";
  const verifyHost = c.verify?.host ?? "127.0.0.1";
  // A listen port left unset follows the address the clients dial, so that
  // PARLEY_VERIFY_ADDR alone moves both (and PARLEY_VERIFY_PORT alone too).
  const verifyPort = c.verify?.port ?? portOf(c.verify?.address) ?? 50051;
  const statusHost = c.status?.host ?? "127.0.0.1";
  const statusPort = c.status?.port ?? portOf(c.status?.address) ?? 50052;
  const chatHost = c.chat?.host ?? "0.0.0.0";
  const chatPort = c.chat?.port ?? 8090;
  const chatGrpcHost = c.chat?.grpcHost ?? "127.0.0.1";
  const chatGrpcPort = c.chat?.grpcPort ?? portOf(c.chat?.grpcAddress) ?? 50055;
  const scheme = tls ? "wss" : "ws";

  const resolved: ResolvedConfig = {
    roles,
    dataDir,
    logLevel: c.logLevel ?? "info",
    storeUrl: c.storeUrl ?? `sqlite:${dataDir}/parley.db`,
    engineUrl: c.engineUrl ?? "memory:",
    smtpUrl: c.smtpUrl ?? null,
    mailFrom: c.mailFrom ?? "Parley <no-reply@parley.localhost>",
    jwtSecret: new TextEncoder().encode(jwtSecret),
    tokenTtlS: c.tokenTtlS ?? 7 * 86400,
    adminToken: c.adminToken ?? secrets.getOrCreate("admin.token", () => randomToken(24)),
    clusterSecret,
    clusterSecretAccept: c.clusterSecretAccept ?? null,
    tls,
    gate: {
      host: gateHost,
      port: c.gate?.port ?? 8080,
      trustProxy: c.gate?.trustProxy ?? false,
      limits: gateLimits(c.gate ?? {}),
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
      grpcHost: chatGrpcHost,
      grpcPort: chatGrpcPort,
      publicUrl: c.chat?.publicUrl ?? `${scheme}://${dialHost(chatHost)}:${chatPort}/ws`,
      grpcAddress: c.chat?.grpcAddress ?? `${dialHost(chatGrpcHost)}:${chatGrpcPort}`,
      heartbeatMs: c.chat?.heartbeatMs ?? 30_000,
      msgRate: c.chat?.msgRate ?? 20,
      msgBurst: c.chat?.msgBurst ?? 60,
      maxUnauthenticated: c.chat?.maxUnauthenticated ?? 10_000,
      authTimeoutMs: c.chat?.authTimeoutMs ?? 10_000,
      drainTimeoutMs: c.chat?.drainTimeoutMs ?? 10_000,
      sessions: c.chat?.sessions ?? "multi",
      maxSessionsPerUser: c.chat?.maxSessionsPerUser ?? 8,
      headCheckMs: c.chat?.headCheckMs ?? 2_000,
    },
  };
  checkSelfDial(resolved);
  return resolved;
}

function portOf(address: string | undefined): number | undefined {
  const m = address?.match(/:(\d+)$/);
  return m ? Number(m[1]) : undefined;
}

/**
 * Refuses a process whose own client of a role it also runs would dial a
 * port that role does not listen on: it would start, then fail to reach
 * itself. A role asked to listen on port 0 is exempt (main.ts points the
 * address at the bound port).
 */
function checkSelfDial(c: ResolvedConfig): void {
  const runs = (r: Role) => c.roles.includes(r);
  const check = (
    role: Role,
    callers: Role[],
    addressField: string,
    address: string,
    portField: string,
    port: number,
  ) => {
    const by = callers.filter(runs);
    if (!runs(role) || by.length === 0 || port === 0 || portOf(address) === port) return;
    throw new ConfigError(
      `${addressField} is ${address}, but this process runs ${role} on port ${port} ` +
        `(${portField}), and its ${by.join(" and ")} role would dial ${address}: ` +
        `make the two ports agree (or set only one: the other follows)`,
    );
  };
  check("verify", ["gate"], "verify.address", c.verify.address, "verify.port", c.verify.port);
  check(
    "status",
    ["gate", "chat"],
    "status.address",
    c.status.address,
    "status.port",
    c.status.port,
  );
  check(
    "chat",
    ["status"],
    "chat.grpcAddress",
    c.chat.grpcAddress,
    "chat.grpcPort",
    c.chat.grpcPort,
  );
}

const MINUTE = 60_000, HOUR = 60 * MINUTE, DAY = 24 * HOUR;

function gateLimits(g: NonNullable<Config["gate"]>): GateLimits {
  const per = (limit: number, windowMs: number): WindowLimit => ({ limit, windowMs });
  return {
    codesPerIp: per(g.codesPerIpPerHour ?? 20, HOUR),
    codesPerEmail: per(g.codesPerEmailPerDay ?? 10, DAY),
    codesPerEmailPerIp: per(g.codesPerEmailPerIpPerDay ?? 3, DAY),
    loginFailuresPerAccount: per(g.loginFailuresPerAccount ?? 10, 15 * MINUTE),
    loginFailuresPerIp: per(g.loginFailuresPerIp ?? 50, 15 * MINUTE),
    loginsPerIp: per(g.loginsPerIpPerMinute ?? 60, MINUTE),
    loginsPerAccount: per(g.loginsPerAccountPerHour ?? 30, HOUR),
    resetsPerIp: per(g.resetsPerIpPerHour ?? 30, HOUR),
    chatNodePerUser: per(g.chatNodePerUserPerMinute ?? 30, MINUTE),
  };
}
