/**
 * Test-only: chat nodes in this process on a temporary SQLite file and a
 * memory engine, with a real status role, real gRPC between them and real
 * WebSocket clients (testing/ws_client.ts). `addNode()` starts another chat
 * node on the same store and engine, for cross-node cases.
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
  tempDir,
  testConfig,
  testDeps,
} from "../../testing/mod.ts";
import { signToken } from "../tokens.ts";
import { start as startStatus } from "../status/mod.ts";
import { start as startChat } from "./mod.ts";

export type ChatTuning = Partial<ResolvedConfig["chat"]>;

export interface TestNode {
  name: string;
  config: ResolvedConfig;
  handle: RoleHandle;
  url: string;
}

export interface TestCluster {
  store: Store;
  engine: Engine;
  nodes: TestNode[];
  /** The first node's WebSocket URL. */
  url: string;
  addNode(tuning?: ChatTuning): Promise<TestNode>;
  /** A registered user named `name` (e-mail name@example.com). */
  user(name: string): Promise<User>;
  token(userId: number): Promise<string>;
  /** A user's authenticated client on node `node` (0 by default); closed by close(). */
  connect(user: User, options?: ConnectOptions & { node?: number }): Promise<ChatClient>;
  /** Makes two users friends (through the store). */
  befriend(a: User, b: User): Promise<void>;
  track(c: ChatClient): ChatClient;
  close(): Promise<void>;
}

export async function startCluster(tuning: ChatTuning = {}): Promise<TestCluster> {
  const dir = await tempDir();
  const store = await openStore(`sqlite:${dir.path}/parley.db`, { log: silentLogger });
  await store.migrate();
  const engine = await openEngine("memory:", { log: silentLogger });
  const deps = testDeps({ store, engine });
  const base = testConfig({ status: { nodeTtlMs: 3000 }, chat: { heartbeatMs: 30_000 } });
  const status = await startStatus(base, deps);
  const statusAddr = `127.0.0.1:${status.ports.grpc}`;
  const nodes: TestNode[] = [];
  const clients = new Set<ChatClient>();

  const addNode = async (extra: ChatTuning = {}): Promise<TestNode> => {
    const name = `chat-${nodes.length + 1}`;
    const config = testConfig({
      jwtSecret: base.jwtSecret,
      status: { ...base.status, address: statusAddr },
      chat: { name, ...tuning, ...extra },
    });
    // Several nodes share one memory engine here, so routing must go through presence and gRPC.
    const handle = await startChat(config, deps, { routing: "cluster" });
    const node = { name, config, handle, url: `ws://127.0.0.1:${handle.ports.ws}/ws` };
    nodes.push(node);
    return node;
  };
  await addNode();

  const track = (c: ChatClient) => {
    clients.add(c);
    c.closed.then(() => clients.delete(c));
    return c;
  };

  return {
    store,
    engine,
    nodes,
    url: nodes[0].url,
    addNode,
    user: (name) => store.createUser({ email: `${name}@example.com`, name, passwordHash: "x" }),
    token: async (userId) => (await signToken(base.jwtSecret, userId, 3600)).token,
    async connect(user, options = {}) {
      const token = (await signToken(base.jwtSecret, user.id, 3600)).token;
      return track(await connect(nodes[options.node ?? 0].url, token, options));
    },
    async befriend(a, b) {
      await store.createFriendRequest(a.id, b.id, "");
      await store.acceptFriendRequest(b.id, a.id);
    },
    track,
    async close() {
      await Promise.all([...clients].map((c) => c.close()));
      for (const n of nodes.reverse()) await n.handle.close();
      await status.close();
      await store.close();
      await engine.close();
      await dir.remove();
    },
  };
}
