/**
 * Test-only: chat nodes in this process on a temporary SQLite file and a
 * memory engine, with a real status role, real gRPC between them and real
 * WebSocket clients (testing/ws_client.ts). `addNode()` starts another chat
 * node on the same store and engine, for cross-node cases. Every listener
 * has a fixed port, so a node (`stopNode()`/`startNode()`) or status
 * (`stopStatus()`/`startStatus()`) can be stopped and started again where
 * the others expect it.
 */
import { openStore } from "../store/mod.ts";
import { openEngine } from "../engine/mod.ts";
import type { Store, User } from "../store/types.ts";
import type { Engine } from "../engine/types.ts";
import type { ResolvedConfig } from "../config.ts";
import type { RoleHandle } from "../role.ts";
import { silentLogger } from "../log.ts";
import {
  ChatClient,
  connect,
  type ConnectOptions,
  freePort,
  tempDir,
  TEST_CLUSTER_SECRET,
  testConfig,
  testDeps,
} from "../../testing/mod.ts";
import type { RpcClient } from "../../proto/grpc.ts";
import { adminMetadata, statusClient, type StatusMethods } from "../../proto/services.ts";
import { signToken } from "../tokens.ts";
import { start as startStatusRole } from "../status/mod.ts";
import { start as startChat } from "./mod.ts";

export type ChatTuning = Partial<ResolvedConfig["chat"]>;

export interface TestNode {
  name: string;
  config: ResolvedConfig;
  /** The running node; null while it is stopped. */
  handle: RoleHandle | null;
  url: string;
}

export interface TestCluster {
  store: Store;
  engine: Engine;
  nodes: TestNode[];
  /** The first node's WebSocket URL. */
  url: string;
  /** The status role's client (cluster secret); pass `admin` for the admin calls. */
  status: RpcClient<StatusMethods>;
  admin: { metadata: Record<string, string> };
  addNode(tuning?: ChatTuning): Promise<TestNode>;
  /** Closes node `i` (a clean shutdown: its sessions end). */
  stopNode(i: number): Promise<void>;
  /** Starts node `i` again, on the same ports. */
  startNode(i: number): Promise<void>;
  stopStatus(): Promise<void>;
  startStatus(): Promise<void>;
  /** A registered user named `name` (e-mail name@example.com). */
  user(name: string): Promise<User>;
  token(userId: number): Promise<string>;
  /** A token and its id (jti), e.g. to log it out. */
  login(userId: number): Promise<{ token: string; jti: string }>;
  /** A user's authenticated client on node `node` (0 by default); closed by close(). */
  connect(
    user: User,
    options?: ConnectOptions & { node?: number; token?: string },
  ): Promise<ChatClient>;
  /** Makes two users friends (through the store). */
  befriend(a: User, b: User): Promise<void>;
  track(c: ChatClient): ChatClient;
  close(): Promise<void>;
}

export async function startCluster(
  tuning: ChatTuning = {},
  options: { nodeTtlMs?: number } = {},
): Promise<TestCluster> {
  const dir = await tempDir();
  const store = await openStore(`sqlite:${dir.path}/parley.db`, { log: silentLogger });
  await store.migrate();
  const engine = await openEngine("memory:", { log: silentLogger });
  const deps = testDeps({ store, engine });
  const statusPort = await freePort();
  const base = testConfig({
    status: { nodeTtlMs: options.nodeTtlMs ?? 3000, port: statusPort },
    chat: { heartbeatMs: 30_000 },
  });
  const statusAddr = `127.0.0.1:${statusPort}`;
  let status: RoleHandle | null = await startStatusRole(base, deps);
  const nodes: TestNode[] = [];
  const clients = new Set<ChatClient>();
  const statusClientHandle = statusClient(statusAddr, { clusterSecret: TEST_CLUSTER_SECRET });

  const addNode = async (extra: ChatTuning = {}): Promise<TestNode> => {
    const name = `chat-${nodes.length + 1}`;
    const [port, grpcPort] = [await freePort(), await freePort()];
    const config = testConfig({
      jwtSecret: base.jwtSecret,
      status: { ...base.status, address: statusAddr },
      chat: {
        name,
        port,
        grpcPort,
        publicUrl: `ws://127.0.0.1:${port}/ws`,
        grpcAddress: `127.0.0.1:${grpcPort}`,
        ...tuning,
        ...extra,
      },
    });
    // Several nodes share one memory engine here, so routing must go through presence and gRPC.
    const handle = await startChat(config, deps, { routing: "cluster" });
    const node = { name, config, handle, url: `ws://127.0.0.1:${port}/ws` };
    nodes.push(node);
    return node;
  };
  await addNode();

  const track = (c: ChatClient) => {
    clients.add(c);
    c.closed.then(() => clients.delete(c));
    return c;
  };
  const login = async (userId: number) => {
    const { token, claims } = await signToken(base.jwtSecret, userId, 3600);
    return { token, jti: claims.jti };
  };

  return {
    store,
    engine,
    nodes,
    url: nodes[0].url,
    status: statusClientHandle,
    admin: { metadata: adminMetadata(base.adminToken) },
    addNode,
    async stopNode(i) {
      await nodes[i].handle?.close();
      nodes[i].handle = null;
    },
    async startNode(i) {
      nodes[i].handle ??= await startChat(nodes[i].config, deps, { routing: "cluster" });
    },
    async stopStatus() {
      await status?.close();
      status = null;
    },
    async startStatus() {
      status ??= await startStatusRole(base, deps);
    },
    user: (name) => store.createUser({ email: `${name}@example.com`, name, passwordHash: "x" }),
    token: async (userId) => (await login(userId)).token,
    login,
    async connect(user, options = {}) {
      const token = options.token ?? (await login(user.id)).token;
      return track(await connect(nodes[options.node ?? 0].url, token, options));
    },
    async befriend(a, b) {
      await store.createFriendRequest(a.id, b.id, "");
      await store.acceptFriendRequest(b.id, a.id);
    },
    track,
    async close() {
      await Promise.all([...clients].map((c) => c.close()));
      for (const n of [...nodes].reverse()) await n.handle?.close();
      statusClientHandle.close();
      await status?.close();
      await store.close();
      await engine.close();
      await dir.remove();
    },
  };
}
