/**
 * Test-only: one chat node's sessions with no socket, no status role and no
 * gRPC. `startTestNode()` builds the node's ChatContext (as the chat role's
 * start() does) on a temporary SQLite store and a memory engine (or an
 * engine URL the test gives), runs its heartbeat sweep, and opens sessions
 * on fake connections (_fake_conn.ts) driven by the WebSocket test client.
 * Tests of the transport, of several nodes and of the role's listeners use
 * real sockets instead (tests/chat_transport_test.ts, tests/chat_cross_node_test.ts).
 */
import type { ResolvedConfig } from "../config.ts";
import { openEngine } from "../engine/mod.ts";
import type { Engine } from "../engine/types.ts";
import { type Logger, silentLogger } from "../log.ts";
import { Plane } from "../plane.ts";
import { openStore } from "../store/mod.ts";
import type { Store, User } from "../store/types.ts";
import { signToken } from "../tokens.ts";
import {
  ChatClient,
  type ConnectOptions,
  type InboxOptions,
  tempDir,
  testConfig,
} from "../../testing/mod.ts";
import type { ChatContext } from "./chat_context.ts";
import { allDone, closeAll } from "./drain.ts";
import { chatContext, type StartOptions } from "./mod.ts";
import { Session } from "./session.ts";
import { type InboxSweep, startInboxSweep } from "./head_sweep.ts";
import { startSweep } from "./sweep.ts";
import { fakeConnection } from "./_fake_conn.ts";

export interface TestNodeOptions extends StartOptions {
  /** Chat settings over the test defaults (heartbeat 30 s). */
  chat?: Partial<ResolvedConfig["chat"]>;
  /** An engine URL (e.g. a private redis-server); a memory engine by default. */
  engineUrl?: string;
  log?: Logger;
}

export interface TestNode {
  ctx: ChatContext;
  store: Store;
  engine: Engine;
  /** The node's open sessions (what start() keeps as `sockets`). */
  sockets: Set<Session>;
  /** The node's inbox sweep (heads and presence upkeep, every chat.headCheckMs). */
  inboxSweep: InboxSweep;
  /** A registered user named `name` (e-mail name@example.com). */
  user(name: string): Promise<User>;
  token(userId: number): Promise<string>;
  /** Makes two users friends (through the store). */
  befriend(a: User, b: User): Promise<void>;
  /** A new connection that has not authenticated; `token` as if offered as a subprotocol. */
  open(options?: { token?: string; inbox?: InboxOptions }): Client;
  /** A user's authenticated client (it pings unless `ping: false`); closed by close(). */
  connect(user: User, options?: TestConnectOptions): Promise<Client>;
  close(): Promise<void>;
}

export type TestConnectOptions = Pick<
  ConnectOptions,
  "ping" | "via" | "device" | "label" | "quiet" | "inbox"
>;

/** A client over a fake connection, and what the test may do to that connection. */
export type Client = ChatClient & {
  /** Sets how many bytes the client leaves unread (what the session sees as buffered). */
  setUnread(bytes: number): void;
  /** Whether the session has paused reading this connection. */
  readingPaused(): boolean;
};

export async function startTestNode(options: TestNodeOptions = {}): Promise<TestNode> {
  const dir = await tempDir();
  const log = options.log ?? silentLogger;
  const store = await openStore(`sqlite:${dir.path}/parley.db`, { log });
  await store.migrate();
  const engine = await openEngine(options.engineUrl ?? "memory:", { log });
  const config = testConfig({ chat: { name: "chat-1", heartbeatMs: 30_000, ...options.chat } });
  // A plane of its own: a cluster router here would dial other nodes over gRPC (there are none).
  const ctx = chatContext(config, { store, engine, log, plane: new Plane() }, options);
  const sockets = new Set<Session>();
  const sweep = startSweep(ctx, sockets);
  const inboxSweep = startInboxSweep(ctx);
  const clients = new Set<ChatClient>();

  const open = (opts: { token?: string; inbox?: InboxOptions } = {}): Client => {
    const fake = fakeConnection();
    const s: Session = new Session(ctx, fake.conn, { token: opts.token ?? null }, () => {
      sockets.delete(s);
    });
    sockets.add(s);
    fake.attach(s);
    queueMicrotask(() => s.onOpen());
    const client = Object.assign(ChatClient.over(fake.socket, opts.inbox), {
      setUnread: fake.setUnread,
      readingPaused: fake.paused,
    });
    clients.add(client);
    client.closed.then(() => clients.delete(client));
    return client;
  };

  const token = async (userId: number) => (await signToken(config.jwtSecret, userId, 3600)).token;

  return {
    ctx,
    store,
    engine,
    sockets,
    inboxSweep,
    user: (name) => store.createUser({ email: `${name}@example.com`, name, passwordHash: "x" }),
    token,
    async befriend(a, b) {
      await store.createFriendRequest(a.id, b.id, "");
      await store.acceptFriendRequest(b.id, a.id);
    },
    open,
    async connect(user, opts = {}) {
      const t = await token(user.id);
      const client = open({ token: opts.via === "subprotocol" ? t : undefined, inbox: opts.inbox });
      const { device, label, quiet } = opts;
      const fields = Object.fromEntries(
        Object.entries({ device, label, quiet }).filter(([, v]) => v !== undefined),
      );
      const welcome = opts.via === "subprotocol"
        ? await client.awaitWelcome()
        : await client.auth(t, 5000, fields);
      if (opts.ping ?? true) client.startPinging(Math.max(50, welcome.heartbeat_ms / 2));
      return client;
    },
    async close() {
      for (const c of clients) c.stopPinging();
      sweep.stop();
      await inboxSweep.stop();
      closeAll(sockets);
      await allDone(sockets, 3000);
      await ctx.writer.settle();
      await ctx.cursors.close();
      ctx.router.close();
      await store.close();
      await engine.close();
      await dir.remove();
    },
  };
}
