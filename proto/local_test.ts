/**
 * The transport itself, over gRPC and in-process alike: a deadline, errors
 * turned into what a gRPC caller sees (an AppError with an unmapped status,
 * a bug that is not an AppError), the access rule checked before the
 * handler, and a closed client. Served with handlers this test controls.
 */
import assert from "node:assert/strict";
import { AppError } from "./errors.ts";
import { callMetadata, connect, type Handler, type RpcClient, serve } from "./grpc.ts";
import { localClient, LocalService } from "./local.ts";
import { CHAT_NODE, type ChatNodeMethods } from "./services.ts";

const SECRET = "local-test-cluster-secret-0123456789-01";

interface Harness {
  client: (secret?: string) => RpcClient<ChatNodeMethods>;
  handled: string[];
  bugs: string[];
  close(): Promise<void>;
}

async function harness(transport: "gRPC" | "in-process"): Promise<Harness> {
  const handled: string[] = [];
  const bugs: string[] = [];
  const handlers: Record<string, Handler> = {
    Kick: async (req: { reason: string }) => {
      handled.push(req.reason);
      if (req.reason === "slow") await new Promise((r) => setTimeout(r, 500));
      if (req.reason === "teapot") throw new AppError("teapot", "short and stout", 418);
      if (req.reason === "bug") throw new TypeError("x is undefined");
      if (req.reason === "busy") throw new AppError("busy", "later", 503, 7);
      return { kicked: true };
    },
    Deliver: () => Promise.resolve({ delivered: [] }),
  };
  const impl = { ...CHAT_NODE, handlers };
  const options = {
    auth: { clusterSecrets: [SECRET] },
    onError: (method: string) => void bugs.push(method),
  };
  const clients: RpcClient<ChatNodeMethods>[] = [];
  const track = (c: RpcClient<ChatNodeMethods>) => (clients.push(c), c);
  if (transport === "gRPC") {
    const server = await serve("127.0.0.1", 0, [impl], options);
    const target = `127.0.0.1:${server.port}`;
    return {
      client: (secret) =>
        track(connect(CHAT_NODE.file, CHAT_NODE.service, target, { clusterSecret: secret })),
      handled,
      bugs,
      close: async () => {
        clients.forEach((c) => c.close());
        await server.close();
      },
    };
  }
  const local = new LocalService(impl, options);
  return {
    client: (secret) =>
      track(localClient(CHAT_NODE.file, CHAT_NODE.service, "here:1", {
        clusterSecret: secret,
        local: () => local,
        remote: () => {
          throw new Error("an in-process call must not dial");
        },
      })),
    handled,
    bugs,
    close: () => {
      clients.forEach((c) => c.close());
      local.close();
      return Promise.resolve();
    },
  };
}

const kick = (reason: string) => ({ user_id: 1, session_id: "", reason });

for (const transport of ["gRPC", "in-process"] as const) {
  Deno.test(`[${transport}] errors, deadlines and refusals look the same to the caller`, async () => {
    const h = await harness(transport);
    try {
      const c = h.client(SECRET);
      assert.deepEqual(await c.Kick(kick("hi")), { kicked: true });
      // A status with no gRPC code of its own arrives as 500, the code kept.
      await assert.rejects(c.Kick(kick("teapot")), { code: "teapot", status: 500 });
      await assert.rejects(c.Kick(kick("busy")), { code: "busy", status: 503, retryAfterS: 7 });
      // A bug is reported to onError and reaches the caller as `internal`, details hidden.
      await assert.rejects(c.Kick(kick("bug")), { code: "internal", message: "internal error" });
      assert.deepEqual(h.bugs, ["parley.chat.ChatNode.Kick"]);
      await assert.rejects(c.Kick(kick("slow"), { deadlineMs: 100 }), {
        code: "peer_unavailable",
        status: 503,
      });
      // Refused before the handler: it never saw these.
      const before = h.handled.length;
      for (const secret of [undefined, "", `${SECRET}x`, SECRET.slice(1)]) {
        await assert.rejects(h.client(secret).Kick(kick("forged")), {
          code: "unauthenticated",
          status: 401,
        });
      }
      assert.equal(h.handled.length, before);
      assert.ok(!h.handled.includes("forged"));
      c.close();
      await assert.rejects(c.Kick(kick("late")), { code: "internal" });
    } finally {
      await h.close();
    }
  });
}

Deno.test("callMetadata() sends the cluster secret only when there is one", () => {
  const md = callMetadata({ clusterSecret: SECRET }, { metadata: { authorization: "Bearer t" } });
  assert.deepEqual(md.get("x-parley-cluster"), [SECRET]);
  assert.deepEqual(md.get("authorization"), ["Bearer t"]);
  assert.deepEqual(callMetadata({}, {}).get("x-parley-cluster"), []);
});

Deno.test("a server without a cluster secret cannot be started", async () => {
  const impl = {
    ...CHAT_NODE,
    handlers: { Kick: () => Promise.resolve({}), Deliver: () => Promise.resolve({}) },
  };
  await assert.rejects(
    serve("127.0.0.1", 0, [impl], { auth: { clusterSecrets: [] } }),
    /cluster secret/,
  );
  await assert.rejects(
    serve("127.0.0.1", 0, [impl], { auth: { clusterSecrets: [""] } }),
    /cluster secret/,
  );
  assert.throws(() => new LocalService(impl, { auth: { clusterSecrets: [] } }), /cluster secret/);
});
