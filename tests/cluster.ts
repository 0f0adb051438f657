/**
 * Starts Parley the way an operator would, for the cross-role chat tests:
 * a cluster of separate processes (verify, status, gate and chat nodes, each
 * a child running main.ts with its own JSON config, see _procs.ts) that a
 * test can stop, restart and signal, on a fresh MySQL
 * database, a fresh Redis key prefix and a real SMTP capture; or every role
 * in one process on sqlite + memory. Users are registered and logged in
 * through the gate's HTTP API, with the code read from the captured mail.
 */
import { Redis } from "ioredis";
import {
  type ChatClient,
  type Child,
  connect,
  type ConnectOptions,
  freshMysql,
  freshRedis,
  REDIS_URL,
  sleep,
  type SmtpCapture,
  type SpawnOptions,
  spawnServer,
  startSmtp,
  tempDir,
} from "../testing/mod.ts";
import { type Exit, PORT_FIELDS, type Proc, Procs } from "./_procs.ts";
import { adminMetadata, statusClient, type StatusMethods } from "../proto/services.ts";
import type { RpcClient } from "../proto/grpc.ts";
import type { WireMessage } from "../proto/protocol.ts";

/**
 * The gate's caps on logins per account and per address, raised: these
 * tests log the same users in over and over from one address (the caps
 * themselves are tested in gate_abuse_test.ts).
 */
const LOGIN_CAPS = { loginsPerIpPerMinute: 100_000, loginsPerAccountPerHour: 100_000 };

export const JWT_SECRET = "test-secret-for-parley-chat-tests-0123456789";
export const ADMIN_TOKEN = "test-admin-token-0123456789";
/** Every process of a test cluster is given it, as an operator would (PARLEY_CLUSTER_SECRET). */
export const CLUSTER_SECRET = "test-cluster-secret-for-parley-chat-tests-0123";

export interface ChatTuning {
  heartbeatMs?: number;
  msgRate?: number;
  msgBurst?: number;
  maxUnauthenticated?: number;
  authTimeoutMs?: number;
  drainTimeoutMs?: number;
  sessions?: "multi" | "single";
  maxSessionsPerUser?: number;
  headCheckMs?: number;
}

export interface ChatNode {
  name: string;
  /** ws://127.0.0.1:PORT/ws, what the gate hands out for this node. */
  wsUrl: string;
  grpcAddr: string;
  child: Child | null;
}

/** What both the cluster and the single process offer a test. */
export interface Parley {
  gateUrl: string;
  smtp: SmtpCapture;
  /** The status role, with the cluster secret; add `admin` for Presence / ListNodes. */
  status: RpcClient<StatusMethods>;
  /** host:port of the verify role's gRPC service. */
  verifyAddr: string;
  admin: { metadata: Record<string, string> };
  nodes: Map<string, ChatNode>;
  /** Every child's log, for failure messages. */
  logs(): string;
  close(): Promise<void>;
}

export interface Cluster extends Parley {
  /** Starts (or restarts) the chat node `name` and waits until it is running. */
  startChat(name: string, spawn?: SpawnOptions): Promise<ChatNode>;
  /** verify, status, gate and the chat nodes by name. */
  procs: Procs;
  /** Starts a process again on the ports it had (after it stopped or crashed). */
  start(name: string, spawn?: SpawnOptions): Promise<Proc>;
  /** Signals a process (SIGTERM by default) and waits until it has exited. */
  stop(name: string, signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** stop() then start(). */
  restart(name: string, signal?: Deno.Signal): Promise<Proc>;
  /** Processes that exited although the test did not stop them (crashes). */
  unexpectedExits(): Exit[];
}

export interface ClusterOptions {
  /** Chat nodes to run; default chat-1 and chat-2. */
  chatNodes?: string[];
  /** Which of them to start now; default all. */
  start?: string[];
  nodeTtlMs?: number;
  chat?: ChatTuning;
  /** Extra gate config fields (e.g. higher rate limits for a test that asks for many codes). */
  gate?: Record<string, unknown>;
  /** How to spawn some of the processes (own process group, through deno task). */
  spawn?: Record<string, SpawnOptions>;
  /** The engine of every process instead of a fresh prefix on the shared Redis (a private one). */
  engineUrl?: string;
  /** Rewrites the fresh database's URL the processes get (e.g. through a proxy the test can cut). */
  storeUrl?: (url: string) => string;
}

async function writeConfig(dir: string, name: string, config: unknown): Promise<string> {
  const path = `${dir}/${name}.json`;
  await Deno.writeTextFile(path, JSON.stringify(config, null, 2));
  return path;
}

/** Deletes every Redis key under `prefix` (what freshRedis() handed out). */
export async function dropRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

/**
 * verify, status, gate and the chat nodes as separate processes on MySQL +
 * Redis + SMTP, every one started on port 0 (see _procs.ts). Always
 * `close()` it in `finally`.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const names = options.chatNodes ?? ["chat-1", "chat-2"];
  const smtp = await startSmtp();
  const db = await freshMysql();
  const redis = freshRedis();
  const dir = await tempDir();
  const nodes = new Map<string, ChatNode>();
  let status: RpcClient<StatusMethods> | null = null;
  const addr = (name: string) => `127.0.0.1:${procs.get(name).ports?.grpc ?? 0}`;

  const configFor = async (proc: Proc, ports: Record<string, number> | null) => {
    const dataDir = `${dir.path}/${proc.name}`;
    await Deno.mkdir(dataDir, { recursive: true });
    const own: Record<string, unknown> = { host: "127.0.0.1" };
    for (const [listener, field] of Object.entries(PORT_FIELDS[proc.role])) {
      own[field] = ports?.[listener] ?? 0;
    }
    const config: Record<string, unknown> = {
      logLevel: "info",
      dataDir,
      storeUrl: options.storeUrl?.(db.url) ?? db.url,
      engineUrl: options.engineUrl ?? redis.url,
      smtpUrl: smtp.url,
      verify: { address: addr("verify") },
      status: { address: addr("status"), nodeTtlMs: options.nodeTtlMs ?? 15_000 },
    };
    const section = proc.role === "chat"
      ? { name: proc.name, ...own, ...options.chat }
      : proc.role === "gate"
      ? { ...LOGIN_CAPS, ...own, ...options.gate }
      : own;
    config[proc.role] = { ...(config[proc.role] as object ?? {}), ...section };
    return await writeConfig(dir.path, proc.name, config);
  };
  // Secrets travel as environment variables, as an operator would pass them.
  const procs = new Procs({
    configFor,
    env: {
      PARLEY_JWT_SECRET: JWT_SECRET,
      PARLEY_ADMIN_TOKEN: ADMIN_TOKEN,
      PARLEY_CLUSTER_SECRET: CLUSTER_SECRET,
    },
  });
  const close = async () => {
    status?.close();
    await procs.killAll();
    await smtp.close();
    await db.drop().catch(() => {});
    await dropRedisPrefix(redis.prefix).catch(() => {});
    await dir.remove();
  };

  const startChat = async (name: string, spawn?: SpawnOptions): Promise<ChatNode> => {
    const proc = await procs.start(name, spawn ?? options.spawn?.[name]);
    const node: ChatNode = {
      name,
      wsUrl: `ws://127.0.0.1:${proc.ports!.ws}/ws`,
      grpcAddr: `127.0.0.1:${proc.ports!.grpc}`,
      child: proc.child,
    };
    nodes.set(name, node);
    return node;
  };
  const start = async (name: string, spawn?: SpawnOptions) => {
    if (procs.get(name).role === "chat") await startChat(name, spawn);
    else await procs.start(name, spawn ?? options.spawn?.[name]);
    return procs.get(name);
  };

  try {
    for (const role of ["verify", "status", "gate"] as const) procs.add(role, role);
    for (const n of names) procs.add(n, "chat");
    await Promise.all(["verify", "status"].map((n) => procs.start(n, options.spawn?.[n])));
    await Promise.all([
      procs.start("gate", options.spawn?.gate),
      ...(options.start ?? names).map((n) => startChat(n)),
    ]);
    status = statusClient(addr("status"), { clusterSecret: CLUSTER_SECRET });
    return {
      gateUrl: `http://127.0.0.1:${procs.get("gate").ports!.http}`,
      verifyAddr: addr("verify"),
      smtp,
      status,
      admin: { metadata: adminMetadata(ADMIN_TOKEN) },
      nodes,
      logs: () => procs.logs(),
      startChat,
      procs,
      start,
      stop: (name, signal) => procs.stop(name, signal),
      restart: async (name, signal) => {
        await procs.stop(name, signal);
        return await start(name);
      },
      unexpectedExits: () => [...procs.exits],
      close,
    };
  } catch (e) {
    const logs = procs.logs();
    await close();
    throw new Error(`cluster did not start: ${(e as Error).message}\n${logs.slice(-6000)}`);
  }
}

export interface SingleOptions {
  chat?: ChatTuning;
}

/** Every role in one process on sqlite (in a temp data dir) + memory engine, mail over SMTP. */
export async function startSingle(options: SingleOptions = {}): Promise<Parley> {
  const smtp = await startSmtp();
  const dir = await tempDir();
  let child: Child | null = null;
  let status: RpcClient<StatusMethods> | null = null;
  const close = async () => {
    status?.close();
    await child?.kill("SIGKILL");
    await smtp.close();
    await dir.remove();
  };
  try {
    // Port 0 everywhere: main.ts points the roles at each other's bound ports.
    const path = await writeConfig(dir.path, "parley", {
      dataDir: `${dir.path}/data`,
      verify: { host: "127.0.0.1", port: 0 },
      status: { host: "127.0.0.1", port: 0 },
      gate: { host: "127.0.0.1", port: 0, ...LOGIN_CAPS },
      chat: { name: "solo", host: "127.0.0.1", port: 0, grpcPort: 0, ...options.chat },
    });
    child = spawnServer(["--config", path], {
      PARLEY_SMTP_URL: smtp.url,
      PARLEY_JWT_SECRET: JWT_SECRET,
      PARLEY_ADMIN_TOKEN: ADMIN_TOKEN,
      PARLEY_CLUSTER_SECRET: CLUSTER_SECRET,
    });
    const ports = await child.ready();
    status = statusClient(`127.0.0.1:${ports.status.grpc}`, { clusterSecret: CLUSTER_SECRET });
    const node: ChatNode = {
      name: "solo",
      wsUrl: `ws://127.0.0.1:${ports.chat.ws}/ws`,
      grpcAddr: `127.0.0.1:${ports.chat.grpc}`,
      child,
    };
    const c = child;
    return {
      gateUrl: `http://127.0.0.1:${ports.gate.http}`,
      verifyAddr: `127.0.0.1:${ports.verify.grpc}`,
      smtp,
      status,
      admin: { metadata: adminMetadata(ADMIN_TOKEN) },
      nodes: new Map([["solo", node]]),
      logs: () => c.log(),
      close,
    };
  } catch (e) {
    const logs = child?.log() ?? "";
    await close();
    throw new Error(`parley did not start: ${(e as Error).message}\n${logs.slice(-6000)}`);
  }
}

/**
 * Adds what the servers logged at warn and error level (and anything that
 * was not a log line, such as a crash) to a failed test's error.
 */
export function withLogs(e: unknown, p: Parley): unknown {
  const lines = p.logs().split("\n").filter((l) =>
    l.trim() && (!l.startsWith("{") || /"level":"(warn|error)"/.test(l))
  );
  if (e instanceof Error && lines.length) {
    e.message += `\n--- server warnings, errors and crashes (last 40) ---\n${
      lines.slice(-40).map((l) => l.slice(0, 600)).join("\n")
    }`;
  }
  return e;
}

// --- the gate's HTTP API ---

/** A gate error: the HTTP status and the `error.code` of the body. */
export class GateError extends Error {
  override name = "GateError";
  constructor(readonly status: number, readonly code: string, message: string) {
    super(`${status} ${code}: ${message}`);
  }
}

export interface Account {
  id: number;
  name: string;
  email: string;
  password: string;
}

export interface LoginReply {
  token: string;
  expires_at: number | string;
  user: { id: number; name: string; email: string };
  chat_url: string;
}

/** Calls the gate; a non-2xx answer throws GateError with its code. */
export async function gateCall<T>(
  gateUrl: string,
  method: string,
  path: string,
  options: { body?: unknown; token?: string } = {},
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(`${gateUrl}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!res.ok) {
    const err = (body as { error?: { code?: string; message?: string } })?.error;
    throw new GateError(res.status, err?.code ?? "unknown", err?.message ?? text);
  }
  return { status: res.status, body: body as T };
}

/** Registers `name` (e-mail name@example.test) with the code from the captured mail. */
export async function register(p: Parley, name: string): Promise<Account> {
  const email = `${name}@example.test`;
  const password = `pw-${name}-123456`;
  const since = p.smtp.mails.length;
  const sent = await gateCall(p.gateUrl, "POST", "/api/v1/codes", {
    body: { email, purpose: "register" },
  });
  if (sent.status !== 202) throw new Error(`POST /api/v1/codes answered ${sent.status}`);
  const code = await p.smtp.codeFor(email, { since });
  const reg = await gateCall<{ user: { id: number } }>(p.gateUrl, "POST", "/api/v1/register", {
    body: { email, name, password, code },
  });
  if (reg.status !== 201) throw new Error(`POST /api/v1/register answered ${reg.status}`);
  return { id: reg.body.user.id, name, email, password };
}

export async function login(p: Parley, account: Account): Promise<LoginReply> {
  const res = await gateCall<LoginReply>(p.gateUrl, "POST", "/api/v1/login", {
    body: { login: account.name, password: account.password },
  });
  return res.body;
}

/** Logs in through the gate, then connects to the named node (not the one the gate picked). */
export async function connectTo(
  p: Parley,
  account: Account,
  node: string,
  options: ConnectOptions = {},
): Promise<{ client: ChatClient; account: Account }> {
  const reply = await login(p, account);
  const client = await connect(p.nodes.get(node)!.wsUrl, reply.token, options);
  return { client, account };
}

/** Logs in through the gate and connects to the chat_url it returned. */
export async function loginAndConnect(
  p: Parley,
  account: Account,
  options: ConnectOptions = {},
): Promise<{ client: ChatClient; login: LoginReply }> {
  const reply = await login(p, account);
  return { client: await connect(reply.chat_url, reply.token, options), login: reply };
}

/**
 * What a real client does after its node went away: log in through the gate
 * and connect to the chat_url it gets, retrying with backoff while the gate
 * has no node (503), rate-limits (429), or hands out a node that is gone.
 */
export async function loginWithRetry(
  p: Parley,
  account: Account,
  options: ConnectOptions & { deadlineMs?: number; avoidUrl?: string } = {},
): Promise<{ client: ChatClient; login: LoginReply; attempts: string[] }> {
  const deadline = Date.now() + (options.deadlineMs ?? 20_000);
  const attempts: string[] = [];
  let backoff = 200;
  for (;;) {
    let wait = backoff;
    try {
      const reply = await login(p, account);
      attempts.push(`login → ${reply.chat_url}`);
      const client = await connect(reply.chat_url, reply.token, options);
      return { client, login: reply, attempts };
    } catch (e) {
      attempts.push(String(e));
      if (e instanceof GateError && e.status !== 503 && e.status !== 429) throw e;
      if (e instanceof GateError && e.status === 429) wait = Math.max(wait, 1000);
    }
    if (Date.now() + wait > deadline) {
      throw new Error(`could not log ${account.name} in again:\n${attempts.join("\n")}`);
    }
    await sleep(wait);
    backoff = Math.min(backoff * 2, 2000);
  }
}

/** a asks b to be friends, b accepts; both see the live events. */
export async function befriend(
  a: { client: ChatClient; account: Account },
  b: { client: ChatClient; account: Account },
): Promise<void> {
  const sent = await a.client.request("friend.request", {
    user_id: b.account.id,
    greeting: `hi ${b.account.name}`,
  });
  if (sent.status !== "sent") throw new Error(`friend.request answered ${sent.status}`);
  await b.client.next("friend.request", (ev) => ev.request.from.id === a.account.id);
  await b.client.request("friend.accept", { user_id: a.account.id });
  await a.client.next("friend.accepted", (ev) => ev.friend.user.id === b.account.id);
}

/** Every message between the client's user and `peer`, oldest first, through msg.history pages. */
export async function fullHistory(
  client: ChatClient,
  peer: number,
): Promise<WireMessage[]> {
  const out: WireMessage[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await client.request("msg.history", {
      with: peer,
      limit: 100,
      ...(before ? { before } : {}),
    });
    out.unshift(...[...page.messages].sort((x, y) => x.id - y.id));
    if (!page.more || page.messages.length === 0) return out;
    before = Math.min(...page.messages.map((m) => m.id));
  }
}
