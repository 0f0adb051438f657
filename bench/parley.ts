/**
 * Starts Parley for a benchmark the way an operator would: `main.ts` child
 * processes with config files, on a fresh MySQL database and a fresh Redis
 * key prefix (or SQLite + memory in one process), and stops and drops them
 * afterwards.
 *
 * Set-up is not what is measured, so users and friendships are written
 * straight into the store before the servers start (every user gets the
 * same real Argon2id hash, computed once with the production parameters, so
 * gate logins still verify it), and session tokens are signed with the
 * cluster's JWT key the way the gate signs them. Hashing a password per
 * user through `/register` would take 50,000 × 0.3 s for the capacity run.
 */
import { createServer, type Server } from "node:net";
import mysql from "mysql2/promise";
import {
  freshMysql,
  freshRedis,
  MYSQL_URL,
  REPO_DIR,
  SERVE_PERMISSIONS,
  tempDir,
} from "../testing/mod.ts";
import { createLogger } from "../server/log.ts";
import { openStore } from "../server/store/mod.ts";
import { hashPassword } from "../server/passwords.ts";
import { signToken } from "../server/tokens.ts";
import { httpOk, type Proc, spawnProc, tcpOpen } from "./procs.ts";

export const BENCH_PASSWORD = "bench-password-0";

export type Backend = "mysql+redis" | "sqlite+memory";

export interface ClusterOptions {
  backend: Backend;
  /** Chat nodes (mysql+redis only; sqlite+memory runs every role in one process). */
  chatNodes: number;
  /** Users bench_1 … bench_N created before start. */
  users: number;
  /** Pairs of user numbers (1-based) made friends before start. */
  friends: [number, number][];
  heartbeatMs?: number;
  logLevel?: "debug" | "info" | "warn" | "error";
  /** Start every process with the V8 inspector on a loopback port, for CPU profiles. */
  inspect?: boolean;
}

export interface ChatNode {
  name: string;
  /** The WebSocket URL clients dial (what the gate hands out as chat_url). */
  url: string;
  /** The process holding this node (shared with other roles for sqlite+memory). */
  proc: Proc;
  /** Its inspector port when started with `inspect`. */
  inspectPort?: number;
}

export interface Cluster {
  backend: Backend;
  gateUrl: string;
  nodes: ChatNode[];
  /** The process running gate, status and verify (the only process for sqlite+memory). */
  core: { proc: Proc; inspectPort?: number };
  /** Every process of the cluster. */
  procs: Proc[];
  /** Store ids of bench_1 … bench_N, index 0 = bench_1. */
  userIds: number[];
  loginOf(n: number): string;
  /** Stops the chat nodes and starts them again (fresh processes, same ports and store). */
  restartChats(): Promise<void>;
  /** Session tokens for the given user numbers, signed like the gate signs them. */
  tokens(users: number[]): Promise<string[]>;
  close(): Promise<void>;
}

/** `n` distinct free ports: all are held open together, then released. */
async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once("error", reject);
        srv.listen(0, "0.0.0.0", () => resolve());
      });
    }
    return servers.map((s) => {
      const a = s.address();
      return typeof a === "object" && a ? a.port : 0;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

const userName = (n: number) => `bench_${String(n).padStart(6, "0")}`;

/** The config keys a bench node shares with every other process of its cluster. */
function common(dataDir: string, storeUrl: string, engineUrl: string, o: ClusterOptions) {
  return {
    dataDir,
    logLevel: o.logLevel ?? "warn",
    storeUrl,
    engineUrl,
    jwtSecret: JWT_SECRET,
    adminToken: "bench-admin-token-0123456789",
    clusterSecret: "bench-cluster-secret-0123456789-0123456789",
  };
}

/** The JWT key of every bench cluster; a bench cluster lives for one run on loopback only. */
const JWT_SECRET = "bench-jwt-secret-0123456789-0123456789-abcdef";

function chatConfig(o: ClusterOptions, name: string, port: number, grpcPort: number) {
  return {
    name,
    host: "0.0.0.0",
    port,
    grpcPort,
    heartbeatMs: o.heartbeatMs ?? 10_000,
    // The throughput runs send far past a person's rate on purpose; the
    // per-user limit is Parley's own and is raised, not bypassed.
    msgRate: 1_000_000,
    msgBurst: 1_000_000,
    maxUnauthenticated: 20_000,
    drainTimeoutMs: 1_000,
  };
}

async function seed(storeUrl: string, o: ClusterOptions): Promise<number[]> {
  const log = createLogger({ proc: "bench-seed" }, { level: "warn" });
  const store = await openStore(storeUrl, { log });
  try {
    await store.migrate();
    const hash = await hashPassword(BENCH_PASSWORD);
    const ids: number[] = new Array(o.users);
    let next = 0;
    const lane = async () => {
      while (next < o.users) {
        const i = next++;
        const name = userName(i + 1);
        const u = await store.createUser({
          email: `${name}@bench.example`,
          name,
          passwordHash: hash,
        });
        ids[i] = u.id;
      }
    };
    await Promise.all(Array.from({ length: 16 }, lane));
    let f = 0;
    const friendLane = async () => {
      while (f < o.friends.length) {
        const [a, b] = o.friends[f++];
        await store.createFriendRequest(ids[a - 1], ids[b - 1], "");
        const r = await store.createFriendRequest(ids[b - 1], ids[a - 1], "");
        if (r.result !== "accepted" && r.result !== "friends") {
          throw new Error(`bench seed: ${a} and ${b} did not become friends (${r.result})`);
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, friendLane));
    return ids;
  } finally {
    await store.close();
  }
}

function serve(name: string, args: string[], inspectPort?: number): Proc {
  return spawnProc(
    name,
    Deno.execPath(),
    [
      "run",
      ...(inspectPort ? [`--inspect=127.0.0.1:${inspectPort}`] : []),
      ...SERVE_PERMISSIONS,
      `${REPO_DIR}main.ts`,
      ...args,
    ],
    {},
    REPO_DIR,
  );
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const dir = await tempDir();
  const procs: Proc[] = [];
  let dropDb: (() => Promise<void>) | null = null;
  const cleanup = async () => {
    await Promise.all(procs.map((p) => p.stop("SIGINT")));
    await dropDb?.().catch(() => {});
    await dir.remove();
  };
  try {
    let storeUrl: string, engineUrl: string;
    if (o.backend === "mysql+redis") {
      const db = await freshMysql();
      dropDb = db.drop;
      storeUrl = db.url;
      engineUrl = freshRedis().url;
    } else {
      storeUrl = `sqlite:${dir.path}/parley.db`;
      engineUrl = "memory:";
    }
    const userIds = await seed(storeUrl, o);

    const nodeCount = o.backend === "mysql+redis" ? o.chatNodes : 1;
    const ports = await freePorts(3 + 2 * nodeCount);
    // One inspector port per process: the core (or all-in-one) process first, then each chat node.
    const inspectPorts = o.inspect ? await freePorts(1 + nodeCount) : [];
    const [gatePort, verifyPort, statusPort] = ports;
    // The login storm logs in from four addresses as fast as the KDF allows;
    // the gate's per-address and per-account login caps are raised for it,
    // as the chat node's message rate is below, not bypassed.
    const gateLimits = { loginsPerIpPerMinute: 1_000_000, loginsPerAccountPerHour: 1_000_000 };
    const base = { gate: { host: "127.0.0.1", port: gatePort, ...gateLimits } };
    const gateUrl = `http://127.0.0.1:${gatePort}`;
    const verify = { host: "127.0.0.1", port: verifyPort };
    const status = { host: "127.0.0.1", port: statusPort };
    const write = async (file: string, config: unknown) => {
      const path = `${dir.path}/${file}`;
      await Deno.writeTextFile(path, JSON.stringify(config, null, 2));
      return path;
    };
    const chats = Array.from(
      { length: nodeCount },
      (_, i) => chatConfig(o, `bench-chat-${i + 1}`, ports[3 + 2 * i], ports[4 + 2 * i]),
    );
    const layout: Layout = {
      o,
      dir: dir.path,
      procs,
      storeUrl,
      engineUrl,
      base,
      gateUrl,
      verify,
      status,
      chats,
      inspectPorts,
      write,
    };
    const { core, nodes, startChats } = o.backend === "sqlite+memory"
      ? await startAllInOne(layout)
      : await startSplit(layout);

    const secret = new TextEncoder().encode(JWT_SECRET);
    return {
      backend: o.backend,
      gateUrl,
      nodes,
      core,
      procs,
      userIds,
      loginOf: userName,
      async restartChats() {
        if (!startChats) throw new Error("one process holds every role: nothing to restart");
        const old = nodes.map((n) => n.proc);
        await Promise.all(old.map((p) => p.stop("SIGINT")));
        procs.splice(0, procs.length, ...procs.filter((p) => !old.includes(p)));
        await startChats();
      },
      async tokens(users) {
        return await Promise.all(
          users.map(async (n) => (await signToken(secret, userIds[n - 1], 86_400)).token),
        );
      },
      close: cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** What starting a cluster's processes needs, worked out by startCluster(). */
interface Layout {
  o: ClusterOptions;
  dir: string;
  /** Every process started goes here, for the cleanup. */
  procs: Proc[];
  storeUrl: string;
  engineUrl: string;
  /** The gate's section, for the process that runs the gate. */
  base: Record<string, unknown>;
  gateUrl: string;
  verify: { host: string; port: number };
  status: { host: string; port: number };
  chats: ReturnType<typeof chatConfig>[];
  inspectPorts: number[];
  /** Writes a config file into the cluster's folder; its path. */
  write(file: string, config: unknown): Promise<string>;
}

/** The processes started; `startChats` starts the chat nodes again (split clusters only). */
type Started = { core: Cluster["core"]; nodes: ChatNode[]; startChats?: () => Promise<void> };

/** sqlite+memory: every role in one process (they share the in-memory engine). */
async function startAllInOne(l: Layout): Promise<Started> {
  const { o, dir, storeUrl, engineUrl, chats, inspectPorts } = l;
  const cfg = await l.write("all.json", {
    ...common(`${dir}/all`, storeUrl, engineUrl, o),
    ...l.base,
    verify: l.verify,
    status: l.status,
    chat: chats[0],
  });
  const p = serve("parley-all", ["--role", "all", "--config", cfg], inspectPorts[0]);
  l.procs.push(p);
  await p.waitUntil(() => httpOk(`${l.gateUrl}/healthz`), "answering /healthz");
  await p.waitUntil(() => tcpOpen(chats[0].port), "listening for WebSockets");
  const node = {
    name: chats[0].name,
    url: `ws://127.0.0.1:${chats[0].port}/ws`,
    proc: p,
    inspectPort: inspectPorts[0],
  };
  return { core: { proc: p, inspectPort: inspectPorts[0] }, nodes: [node] };
}

/** mysql+redis: verify, status and gate in one core process, each chat node in its own. */
async function startSplit(l: Layout): Promise<Started> {
  const { o, dir, storeUrl, engineUrl, chats, inspectPorts } = l;
  const p = serve("parley-core", [
    "--role",
    "verify,status,gate",
    "--config",
    await l.write("core.json", {
      ...common(`${dir}/core`, storeUrl, engineUrl, o),
      ...l.base,
      verify: l.verify,
      status: l.status,
    }),
  ], inspectPorts[0]);
  l.procs.push(p);
  const core = { proc: p, inspectPort: inspectPorts[0] };
  await p.waitUntil(() => httpOk(`${l.gateUrl}/healthz`), "answering /healthz");
  const nodes: ChatNode[] = [];
  const files = await Promise.all(chats.map((chat) =>
    l.write(`${chat.name}.json`, {
      ...common(`${dir}/${chat.name}`, storeUrl, engineUrl, o),
      verify: { address: `127.0.0.1:${l.verify.port}` },
      status: { address: `127.0.0.1:${l.status.port}` },
      chat,
    })
  ));
  const startChats = async () => {
    for (const [i, chat] of chats.entries()) {
      const p = serve(chat.name, ["--role", "chat", "--config", files[i]], inspectPorts[1 + i]);
      l.procs.push(p);
      nodes[i] = {
        name: chat.name,
        url: `ws://127.0.0.1:${chat.port}/ws`,
        proc: p,
        inspectPort: inspectPorts[1 + i],
      };
    }
    await Promise.all(
      nodes.map((n, i) =>
        n.proc.waitUntil(() => tcpOpen(chats[i].port), "listening for WebSockets")
      ),
    );
  };
  await startChats();
  return { core, nodes, startChats };
}

/** The MySQL settings that decide what "durable" means for a run (flush per commit or not). */
export async function mysqlDurability(): Promise<Record<string, string>> {
  const conn = await mysql.createConnection({ uri: MYSQL_URL });
  try {
    const [rows] = await conn.query(
      "SHOW VARIABLES WHERE Variable_name IN " +
        "('version', 'innodb_flush_log_at_trx_commit', 'sync_binlog', 'log_bin', 'innodb_doublewrite')",
    );
    return Object.fromEntries(
      (rows as { Variable_name: string; Value: string }[]).map((r) => [r.Variable_name, r.Value]),
    );
  } finally {
    await conn.end();
  }
}
