/**
 * The verify and status client contract, run against both transports of
 * the internal plane: over gRPC (a caller in another process) and
 * in-process (roles that share a process, as main.ts runs them). Each case
 * is one Deno.test per transport; both must see the same replies, the same
 * errors (code, HTTP status, retry-after) and the same refusals.
 */
import assert from "node:assert/strict";
import { AppError } from "../proto/errors.ts";
import type { RpcClient } from "../proto/grpc.ts";
import {
  adminMetadata,
  type NodeInfo,
  STATUS,
  type StatusMethods,
  VERIFY,
  type VerifyMethods,
} from "../proto/services.ts";
import { type SmtpCapture, startSmtp, testConfig, testDeps } from "../testing/mod.ts";
import type { ResolvedConfig } from "./config.ts";
import { openEngine } from "./engine/mod.ts";
import type { Engine } from "./engine/types.ts";
import { silentLogger } from "./log.ts";
import { Plane } from "./plane.ts";
import type { RoleHandle } from "./role.ts";
import { start as startStatus } from "./status/mod.ts";
import { openStore } from "./store/mod.ts";
import type { Store } from "./store/types.ts";
import { start as startVerify } from "./verify/mod.ts";

type Transport = "gRPC" | "in-process";
const TRANSPORTS: Transport[] = ["gRPC", "in-process"];
const TOKEN = "contract-admin-token-0123456789";
const admin = { metadata: adminMetadata(TOKEN) };

interface Caller {
  verify: RpcClient<VerifyMethods>;
  status: RpcClient<StatusMethods>;
}

interface Rig {
  /** A cluster member: sends the cluster secret. */
  member: Caller;
  /** No cluster secret at all (as parley-admin, or anyone who reaches the port). */
  anonymous: Caller;
  /** A secret, but not the cluster's. */
  wrong: Caller;
  smtp: SmtpCapture;
  store: Store;
  statusRole: RoleHandle;
  close(): Promise<void>;
}

async function rig(transport: Transport): Promise<Rig> {
  const smtp = await startSmtp();
  const engine: Engine = await openEngine("memory:", { log: silentLogger });
  const store = await openStore("sqlite::memory:", { log: silentLogger });
  await store.migrate();
  const config = testConfig({ smtpUrl: smtp.url, adminToken: TOKEN });
  // In-process: the roles and their callers share one plane, as in main.ts.
  // gRPC: each role serves on a plane of its own, and the callers' plane
  // serves nothing, so every call crosses the wire.
  const shared = new Plane();
  const deps = transport === "in-process"
    ? { ...testDeps({ engine, store }), plane: shared }
    : testDeps({ engine, store });
  const verifyRole = await startVerify(config, deps);
  const statusRole = await startStatus(config, deps);
  const callers = transport === "in-process" ? shared : new Plane();
  const callerWith = (c: ResolvedConfig): Caller => ({
    verify: callers.client(c, VERIFY, `127.0.0.1:${verifyRole.ports.grpc}`),
    status: callers.client(c, STATUS, `127.0.0.1:${statusRole.ports.grpc}`),
  });
  const member = callerWith(config);
  const anonymous = callerWith({ ...config, clusterSecret: "" });
  const wrong = callerWith({ ...config, clusterSecret: `${config.clusterSecret}-not` });
  return {
    member,
    anonymous,
    wrong,
    smtp,
    store,
    statusRole,
    async close() {
      for (const c of [member, anonymous, wrong]) {
        c.verify.close();
        c.status.close();
      }
      await statusRole.close();
      await verifyRole.close();
      await store.close();
      await engine.close();
      await smtp.close();
    },
  };
}

/** One Deno.test per transport. */
function contract(name: string, fn: (r: Rig) => Promise<void>): void {
  for (const transport of TRANSPORTS) {
    Deno.test(`[${transport}] ${name}`, async () => {
      const r = await rig(transport);
      try {
        await fn(r);
      } finally {
        await r.close();
      }
    });
  }
}

const isError = (code: string, status: number, retryAfterS?: number) => (e: unknown) => {
  assert.ok(e instanceof AppError, `an AppError, got ${e}`);
  assert.equal(e.code, code);
  assert.equal(e.status, status);
  if (retryAfterS !== undefined) assert.equal(e.retryAfterS, retryAfterS);
  return true;
};

function node(name: string, sessions = 0): NodeInfo {
  return {
    name,
    ws_url: `ws://127.0.0.1:9/${name}`,
    grpc_addr: `127.0.0.1:9`,
    sessions,
    started_at_ms: Date.now(),
    state: "up",
    heartbeat_age_ms: 0,
    restarts: 0,
  };
}

contract("SendCode mails a code that CheckCode accepts exactly once", async (r) => {
  const before = Date.now();
  const reply = await r.member.verify.SendCode({ email: "Ann@Example.com", purpose: "register" });
  assert.deepEqual(Object.keys(reply).sort(), ["expires_at_ms", "resend_after_s"]);
  assert.equal(reply.resend_after_s, 60);
  assert.ok(reply.expires_at_ms > before && Number.isSafeInteger(reply.expires_at_ms));
  const code = await r.smtp.codeFor("ann@example.com");
  const check = { email: "ann@example.com", purpose: "register" as const, code };
  assert.deepEqual(await r.member.verify.CheckCode(check), { ok: true });
  await assert.rejects(r.member.verify.CheckCode(check), isError("code_expired", 400));
});

contract("verify errors keep their code, status and retry-after", async (r) => {
  const v = r.member.verify;
  await v.SendCode({ email: "bo@example.com", purpose: "register" });
  await assert.rejects(
    v.SendCode({ email: "bo@example.com", purpose: "register" }),
    (e) => isError("code_rate_limited", 429)(e) && (e as AppError).retryAfterS! >= 59,
  );
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    v.SendCode({ email: "bo@example.com", purpose: "lunch" as any }),
    isError("invalid_purpose", 400),
  );
  await assert.rejects(
    v.SendCode({ email: "not an address", purpose: "register" }),
    isError("invalid_email", 400),
  );
  await assert.rejects(
    v.CheckCode({ email: "bo@example.com", purpose: "register", code: "12345x" }),
    isError("code_invalid", 400),
  );
});

contract("status registry calls: pick, heartbeat, deregister, and their errors", async (r) => {
  const s = r.member.status;
  await assert.rejects(s.PickNode({}), isError("no_chat_node", 503, 1));
  assert.deepEqual(await s.RegisterNode(node("n1", 3)), {});
  assert.deepEqual(await s.RegisterNode(node("n2", 1)), {});
  const picked = await s.PickNode({});
  assert.equal(picked.name, "n2");
  assert.equal(typeof picked.heartbeat_age_ms, "number");
  assert.deepEqual(Object.keys(picked).sort(), Object.keys(node("x")).sort());
  await assert.rejects(
    s.Heartbeat({ name: "ghost", sessions: 1, state: "up" }),
    isError("node_unknown", 404),
  );
  await assert.rejects(s.RegisterNode({ ...node("n3"), name: "" }), isError("invalid_node", 400));
  await s.DeregisterNode({ name: "n2" });
  assert.equal((await s.PickNode({})).name, "n1");
});

contract("a request reaches the handler as the protobuf codec delivers it", async (r) => {
  // int32 truncates and unknown fields are dropped on the wire: in-process too.
  await r.member.status.RegisterNode({ ...node("n1"), sessions: 2.7, bogus: 1 } as NodeInfo);
  const { nodes } = await r.member.status.ListNodes({}, admin);
  assert.equal(nodes.length, 1);
  assert.equal(nodes[0].sessions, 2);
  assert.equal(Object.hasOwn(nodes[0], "bogus"), false);
});

contract("replies carry every field, with int64 as numbers", async (r) => {
  const ann = await r.store.createUser({ email: "an@example.com", name: "an", passwordHash: "x" });
  const info = await r.member.status.UserInfo({ id: ann.id, login: "" }, admin);
  assert.deepEqual(info, {
    id: ann.id,
    email: "an@example.com",
    name: "an",
    display_name: ann.displayName,
    bio: "",
    created_at_ms: ann.createdAt,
    friends: 0,
    messages: 0,
    presence: {
      user_id: ann.id,
      name: "an",
      online: false,
      node: "",
      session_id: "",
      since_ms: 0,
      last_seen_ms: 0,
      sessions: [],
    },
  });
  await assert.rejects(
    r.member.status.Presence({ id: ann.id + 100, login: "" }, admin),
    isError("user_not_found", 404),
  );
});

contract("admin methods need the admin token; Kick takes it or the cluster secret", async (r) => {
  const adminOnly = ["ListNodes", "Presence", "ListOnline", "UserInfo", "Stats"] as const;
  const req = { id: 1, login: "x" };
  // deno-lint-ignore no-explicit-any
  const call = (c: Caller, m: string, options?: object) => (c.status as any)[m](req, options);
  for (const m of adminOnly) {
    await assert.rejects(call(r.member, m), isError("admin_unauthorized", 401), m);
    await assert.rejects(call(r.anonymous, m), isError("admin_unauthorized", 401), m);
  }
  assert.equal((await r.anonymous.status.Stats({}, admin)).users, 0);
  assert.equal((await r.member.status.Stats({}, admin)).users, 0);
  const kick = { user: { id: 0, login: "nobody" }, reason: "" };
  await assert.rejects(r.member.status.Kick(kick), isError("user_not_found", 404));
  await assert.rejects(r.anonymous.status.Kick(kick, admin), isError("user_not_found", 404));
  await assert.rejects(r.anonymous.status.Kick(kick), isError("unauthenticated", 401));
  await assert.rejects(r.wrong.status.Kick(kick), isError("unauthenticated", 401));
});

contract(
  "a call without the cluster secret, or with a wrong one, is refused and changes nothing",
  async (r) => {
    for (const c of [r.anonymous, r.wrong]) {
      const refused = isError("unauthenticated", 401);
      await assert.rejects(
        c.verify.SendCode({ email: "vic@example.com", purpose: "register" }),
        refused,
      );
      await assert.rejects(
        c.verify.CheckCode({ email: "vic@example.com", purpose: "register", code: "123456" }),
        refused,
      );
      await assert.rejects(c.status.RegisterNode(node("rogue")), refused);
      await assert.rejects(
        c.status.Heartbeat({ name: "rogue", sessions: 0, state: "up" }),
        refused,
      );
      await assert.rejects(c.status.DeregisterNode({ name: "rogue" }), refused);
      await assert.rejects(c.status.PickNode({}), refused);
      // The admin token does not open the cluster's own methods.
      await assert.rejects(c.status.RegisterNode(node("rogue"), admin), refused);
    }
    assert.deepEqual((await r.member.status.ListNodes({}, admin)).nodes, []);
    // A code mailed after the refusals is the only mail: none went to the victim.
    await r.member.verify.SendCode({ email: "marker@example.com", purpose: "register" });
    await r.smtp.waitFor("marker@example.com");
    assert.deepEqual(r.smtp.mails.map((m) => m.to), [["marker@example.com"]]);
    // And the victim can still be sent a code (the refused call set no resend block).
    await r.member.verify.SendCode({ email: "vic@example.com", purpose: "register" });
  },
);

contract("a stopped role answers peer_unavailable", async (r) => {
  await r.member.status.RegisterNode(node("n1"));
  await r.statusRole.close();
  await assert.rejects(r.member.status.PickNode({}), isError("peer_unavailable", 503, 1));
});

Deno.test("[in-process] roles that share a plane never dial each other", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  const store = await openStore("sqlite::memory:", { log: silentLogger });
  await store.migrate();
  const plane = new Plane();
  const config = testConfig({ adminToken: TOKEN });
  const role = await startStatus(config, { ...testDeps({ engine, store }), plane });
  // Nothing listens on port 1: only an in-process call can succeed.
  const status = plane.client(config, STATUS, "127.0.0.1:1");
  try {
    await status.RegisterNode(node("n1"));
    assert.equal((await status.PickNode({})).name, "n1");
  } finally {
    status.close();
    await role.close();
    await store.close();
    await engine.close();
  }
});
