/**
 * The internal plane, tried as an attacker would: raw @grpc/grpc-js calls,
 * built from the public .proto files, with no credential and with a wrong
 * one, against every internal service of a running Parley; and a default
 * start checked for what it exposes beyond loopback. Issue 8, item 1.
 */
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";
import { type ChatClient, eventually, spawnServer, tempDir } from "../testing/mod.ts";
import {
  ADMIN_TOKEN,
  befriend,
  gateCall,
  login,
  loginAndConnect,
  type Parley,
  register,
  startSingle,
  withLogs,
} from "./cluster.ts";

// --- an attacker's client: stock grpc-js and the .proto files ---

type Raw = grpc.Client & Record<string, unknown>;

function rawClient(file: string, service: string, address: string): Raw {
  const def = loader.loadSync(fileURLToPath(new URL(`../proto/${file}`, import.meta.url)), {
    keepCase: true,
    longs: Number,
    defaults: true,
  });
  let ctor: unknown = grpc.loadPackageDefinition(def);
  for (const part of service.split(".")) ctor = (ctor as Record<string, unknown>)[part];
  const Ctor = ctor as grpc.ServiceClientConstructor;
  return new Ctor(address, grpc.credentials.createInsecure()) as Raw;
}

interface Outcome {
  code: grpc.status | "ok";
  parleyCode?: string;
}

function rawCall(client: Raw, method: string, req: unknown, md: grpc.Metadata): Promise<Outcome> {
  return new Promise((resolve) => {
    const fn = client[method] as (...args: unknown[]) => void;
    fn.call(client, req, md, { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null) => {
      if (!err) return resolve({ code: "ok" });
      const code = err.metadata?.get("parley-code")[0];
      resolve({ code: err.code, parleyCode: typeof code === "string" ? code : undefined });
    });
  });
}

/** The credentials an attacker might try: none, a guessed secret, the admin token as the secret. */
function attempts(): [string, grpc.Metadata][] {
  const none = new grpc.Metadata();
  const guessed = new grpc.Metadata();
  guessed.set("x-parley-cluster", "guessed-cluster-secret-0123456789-0123456789");
  const adminAsSecret = new grpc.Metadata();
  adminAsSecret.set("x-parley-cluster", ADMIN_TOKEN);
  return [["no credential", none], ["a wrong secret", guessed], ["the admin token", adminAsSecret]];
}

Deno.test({
  name:
    "raw gRPC calls without the cluster secret are refused by verify, status and chat, and change nothing",
  async fn() {
    const p: Parley = await startSingle();
    const clients: ChatClient[] = [];
    const raws: Raw[] = [];
    try {
      const alice = await register(p, "alice");
      const bob = await register(p, "bob");
      const a = await loginAndConnect(p, alice);
      const b = await loginAndConnect(p, bob);
      clients.push(a.client, b.client);
      await a.client.syncMessages();
      await b.client.syncMessages();
      await befriend({ client: a.client, account: alice }, { client: b.client, account: bob });
      const solo = p.nodes.get("solo")!;
      const chat = rawClient("chat.proto", "parley.chat.ChatNode", solo.grpcAddr);
      const status = rawClient("status.proto", "parley.status.StatusService", p.status.target);
      const verify = rawClient("verify.proto", "parley.verify.VerifyService", p.verifyAddr);
      raws.push(chat, status, verify);

      const forged = (type: string, extra: object) => JSON.stringify({ type, ...extra });
      const rogue = {
        name: "rogue",
        ws_url: "ws://attacker.example:8090/ws",
        grpc_addr: "127.0.0.1:9",
        sessions: 0,
        started_at_ms: Date.now(),
        state: "up",
      };
      const victim = "victim@example.test";
      const calls: [Raw, string, unknown][] = [
        [chat, "Deliver", {
          items: [
            {
              user_id: bob.id,
              frame: forged("msg.new", {
                message: { id: 999999, from: alice.id, to: bob.id, text: "FORGED", sent_at: 1 },
              }),
            },
            {
              user_id: bob.id,
              frame: forged("reconnect", { chat_url: "ws://attacker.example/ws", reason: "x" }),
            },
          ],
        }],
        [chat, "Kick", { user_id: bob.id, session_id: "", reason: "FORGED kick" }],
        [status, "RegisterNode", rogue],
        [status, "Heartbeat", { name: "rogue", sessions: 0, state: "up" }],
        [status, "DeregisterNode", { name: "solo" }],
        [status, "PickNode", {}],
        [status, "Kick", { user: { id: bob.id, login: "" }, reason: "FORGED", token_id: "" }],
        [status, "ListNodes", {}],
        [status, "Presence", { id: bob.id, login: "" }],
        [status, "ListOnline", { cursor: "", limit: 10 }],
        [status, "UserInfo", { id: bob.id, login: "" }],
        [status, "Stats", {}],
        [verify, "SendCode", { email: victim, purpose: "reset_password" }],
        [verify, "CheckCode", { email: victim, purpose: "register", code: "123456" }],
      ];
      const admin = new Set(["ListNodes", "Presence", "ListOnline", "UserInfo", "Stats"]);
      for (const [what, md] of attempts()) {
        for (const [client, method, req] of calls) {
          assert.deepEqual(await rawCall(client, method, req, md), {
            code: grpc.status.UNAUTHENTICATED,
            parleyCode: admin.has(method) ? "admin_unauthorized" : "unauthenticated",
          }, `${method} with ${what}`);
        }
      }

      // Nothing changed. The rogue node was never registered, solo never deregistered:
      const { nodes } = await p.status.ListNodes({}, p.admin);
      assert.deepEqual(nodes.map((n) => n.name), ["solo"]);
      for (let i = 0; i < 6; i++) assert.equal((await login(p, alice)).chat_url, solo.wsUrl);
      // Bob was neither kicked nor sent the forged frames: the next frame he
      // gets is alice's real message.
      const sent = (await a.client.request("msg.send", {
        to: bob.id,
        text: "real",
        client_id: "real-1",
      })).message;
      assert.deepEqual((await b.client.next("msg.new")).message, sent);
      assert.ok(b.client.isOpen);
      const seen = JSON.stringify(b.client.frames);
      assert.ok(!seen.includes("FORGED") && !seen.includes("attacker"), seen.slice(0, 2000));
      // No mail went to the victim: a code requested afterwards is the only mail to them.
      const since = p.smtp.mails.length;
      await gateCall(p.gateUrl, "POST", "/api/v1/codes", {
        body: { email: victim, purpose: "register" },
      });
      await p.smtp.waitFor(victim, { since });
      assert.equal(p.smtp.mails.filter((m) => m.to.includes(victim)).length, 1);
      // And the refusals were logged, without the secret that was tried.
      await eventually(() => p.logs().includes("refused an internal call"), {
        what: "a warning about the refused calls",
      });
      assert.ok(!p.logs().includes("guessed-cluster-secret"));
    } catch (e) {
      throw withLogs(e, p);
    } finally {
      raws.forEach((c) => c.close());
      for (const c of clients) await c.close().catch(() => {});
      await p.close();
    }
  },
});

// --- what a default start exposes ---

/**
 * The addresses the listening TCP sockets on `ports` are bound to, from
 * `ss` (netlink: a consistent view, where /proc/net/tcp read in pages can
 * miss a socket while other processes open and close theirs).
 */
async function listeners(ports: number[]): Promise<Map<number, string[]>> {
  const out = await new Deno.Command("ss", { args: ["-Hltn"], stdout: "piped" }).output();
  assert.ok(out.success, "ss -Hltn failed");
  const bound = new Map<number, string[]>(ports.map((p) => [p, []]));
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const local = line.trim().split(/\s+/)[3];
    const m = local?.match(/^\[?(.*?)\]?(?:%\w+)?:(\d+)$/);
    if (m && bound.has(Number(m[2]))) bound.get(Number(m[2]))!.push(m[1] === "*" ? "::" : m[1]);
  }
  return bound;
}

async function canConnect(hostname: string, port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname, port })).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "a start with no config listens where the environment says and exposes only the gate and the chat WebSocket beyond loopback",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const dir = await tempDir();
    // Ports only: every host is left at its default. The verify port follows its address.
    const child = spawnServer([], {
      PARLEY_DATA_DIR: `${dir.path}/data`,
      PARLEY_GATE_PORT: "0",
      PARLEY_CHAT_PORT: "0",
      PARLEY_CHAT_GRPC_PORT: "0",
      PARLEY_VERIFY_ADDR: "127.0.0.1:0",
      PARLEY_STATUS_PORT: "0",
    });
    try {
      await child.waitForLog("parley is running");
      const line = child.log().split("\n").find((l) => l.includes("parley is running"))!;
      const ports = JSON.parse(line).ports as Record<string, Record<string, number>>;
      const bound = await listeners(Object.values(ports).flatMap((r) => Object.values(r)));
      const at = (port: number) => bound.get(port) ?? [];
      const wildcard = (port: number) => at(port).some((a) => a === "0.0.0.0" || a === "::");
      assert.ok(wildcard(ports.gate.http), `gate on ${at(ports.gate.http)}`);
      assert.ok(wildcard(ports.chat.ws), `chat WebSocket on ${at(ports.chat.ws)}`);
      for (
        const [role, port] of [
          ["verify", ports.verify.grpc],
          ["status", ports.status.grpc],
          ["chat gRPC", ports.chat.grpc],
        ] as const
      ) {
        assert.deepEqual(at(port), ["127.0.0.1"], `${role} (port ${port}) binds loopback only`);
      }
      // From another address of this machine: the gate and the WebSocket answer, nothing else.
      const outside = Deno.networkInterfaces().find((i) =>
        i.family === "IPv4" && !i.address.startsWith("127.")
      );
      if (outside) {
        assert.ok(await canConnect(outside.address, ports.gate.http));
        assert.ok(await canConnect(outside.address, ports.chat.ws));
        for (const port of [ports.verify.grpc, ports.status.grpc, ports.chat.grpc]) {
          assert.equal(await canConnect(outside.address, port), false, `port ${port}`);
        }
      }
      // The single process made its own cluster secret, readable by its owner only.
      const key = `${dir.path}/data/cluster.key`;
      assert.match((await Deno.readTextFile(key)).trim(), /^[A-Za-z0-9_-]{43}$/);
      assert.equal((await Deno.stat(key)).mode! & 0o777, 0o600);
      // The gate reaches verify (in-process) and mails to the outbox.
      const sent = await gateCall(`http://127.0.0.1:${ports.gate.http}`, "POST", "/api/v1/codes", {
        body: { email: "new@example.test", purpose: "register" },
      });
      assert.equal(sent.status, 202);
    } finally {
      await child.kill("SIGTERM");
      await dir.remove();
    }
  },
});

async function exitOf(args: string[], env: Record<string, string>) {
  const child = spawnServer(args, env);
  const status = await child.proc.status;
  await child.kill();
  return { code: status.code, log: child.log() };
}

Deno.test("a process that would dial its own role on another port, or a cluster process without the secret, exits 2 and says why", async () => {
  const dir = await tempDir();
  try {
    const env = {
      PARLEY_DATA_DIR: dir.path,
      PARLEY_CLUSTER_SECRET: "c".repeat(40),
      PARLEY_JWT_SECRET: "j".repeat(40),
    };
    const mismatch = await exitOf(["--role", "verify,gate"], {
      ...env,
      PARLEY_VERIFY_ADDR: "127.0.0.1:6001",
      PARLEY_VERIFY_PORT: "6002",
    });
    assert.equal(mismatch.code, 2, mismatch.log);
    assert.match(mismatch.log, /verify\.address is 127\.0\.0\.1:6001.*port 6002.*gate/);
    const { PARLEY_CLUSTER_SECRET: _, ...noSecret } = env;
    const alone = await exitOf(["--role", "chat"], noSecret);
    assert.equal(alone.code, 2, alone.log);
    assert.match(alone.log, /runs only chat.*PARLEY_CLUSTER_SECRET/);
    // Nothing was generated for it.
    assert.equal(await Deno.stat(`${dir.path}/cluster.key`).catch(() => null), null);
  } finally {
    await dir.remove();
  }
});
