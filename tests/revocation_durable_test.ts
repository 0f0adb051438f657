/**
 * Ending sessions holds without the engine and without the status role
 * (issue 8, items 2 and 4), in a cluster of separate processes (verify,
 * status, gate, one chat node) on MySQL and a private redis-server that the
 * test can restart with nothing kept:
 *
 * - after a Redis restart, a logged-out token and a token from before a
 *   password reset are still refused by the gate and the chat node;
 * - with status stopped (so the gate's Kick cannot land), a password
 *   change, a reset and a logout still end the live sessions, found by the
 *   chat node at its own re-check within a sweep;
 * - a gate or chat node in a process of its own with no JWT key exits 2.
 */
import assert from "node:assert/strict";
import { CLOSE } from "../proto/protocol.ts";
import { CHECK_MIN_INTERVAL_MS } from "../server/chat/auth_watch.ts";
import {
  type ChatClient,
  type Child,
  connect,
  eventually,
  freePort,
  freshMysql,
  RequestError,
  sleep,
  type SmtpCapture,
  spawnServer,
  startSmtp,
  tempDir,
} from "../testing/mod.ts";
import { expectError, type GateApi, gateApi, mailedCode } from "./gate_api.ts";

const JWT_SECRET = "durable-revocation-test-jwt-secret-0123456789";
const CLUSTER_SECRET = "durable-revocation-test-cluster-secret-0123456789";
const READY = "parley is running";
const HEARTBEAT_MS = 2000;

/** A redis-server with no persistence on a fixed port, which the test can kill and start again. */
class RestartableRedis {
  #proc: Deno.ChildProcess | null = null;
  constructor(readonly port: number, readonly dir: string) {}

  async start(): Promise<void> {
    this.#proc = new Deno.Command("redis-server", {
      args: [
        ...["--port", String(this.port), "--bind", "127.0.0.1"],
        ...["--save", "", "--appendonly", "no", "--dir", this.dir],
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await eventually(async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
      conn.close();
      return true;
    }, { timeoutMs: 10_000, what: `redis-server on ${this.port}` });
  }

  async stop(): Promise<void> {
    const proc = this.#proc;
    this.#proc = null;
    if (!proc) return;
    try {
      proc.kill("SIGKILL");
    } catch { /* already gone */ }
    await proc.status;
  }
}

interface Procs {
  api: GateApi;
  smtp: SmtpCapture;
  redis: RestartableRedis;
  chatUrl: string;
  /** The running process of each role. */
  roles: Map<string, Child>;
  logs(): string;
  close(): Promise<void>;
}

/** verify, status, gate and one chat node, each its own process, on MySQL and a private Redis. */
async function startProcs(): Promise<Procs> {
  const dir = await tempDir();
  const smtp = await startSmtp();
  const db = await freshMysql();
  const redis = new RestartableRedis(await freePort(), dir.path);
  const roles = new Map<string, Child>();
  const close = async () => {
    for (const c of [...roles.values()].reverse()) await c.kill("SIGKILL");
    await redis.stop();
    await smtp.close();
    await db.drop().catch(() => {});
    await dir.remove();
  };
  try {
    await redis.start();
    const [verifyPort, statusPort, gatePort, chatPort, grpcPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const configFile = `${dir.path}/cluster.json`;
    await Deno.writeTextFile(
      configFile,
      JSON.stringify({
        storeUrl: db.url,
        engineUrl: `redis://127.0.0.1:${redis.port}`,
        smtpUrl: smtp.url,
        dataDir: dir.path,
        verify: { host: "127.0.0.1", port: verifyPort, address: `127.0.0.1:${verifyPort}` },
        status: { host: "127.0.0.1", port: statusPort, address: `127.0.0.1:${statusPort}` },
        gate: { host: "127.0.0.1", port: gatePort },
        chat: {
          name: "chat-1",
          host: "127.0.0.1",
          port: chatPort,
          grpcPort,
          heartbeatMs: HEARTBEAT_MS,
        },
      }),
    );
    const env = { PARLEY_JWT_SECRET: JWT_SECRET, PARLEY_CLUSTER_SECRET: CLUSTER_SECRET };
    for (const role of ["verify", "status", "gate", "chat"]) {
      const child = spawnServer(["--role", role, "--config", configFile], env);
      roles.set(role, child);
      await child.waitForLog(READY);
    }
    return {
      api: gateApi(`http://127.0.0.1:${gatePort}`),
      smtp,
      redis,
      chatUrl: `ws://127.0.0.1:${chatPort}/ws`,
      roles,
      logs: () => [...roles.entries()].map(([r, c]) => `--- ${r}\n${c.log()}`).join("\n"),
      close,
    };
  } catch (e) {
    const logs = [...roles.values()].map((c) => c.log()).join("\n");
    await close();
    throw new Error(`the cluster did not start: ${(e as Error).message}\n${logs.slice(-4000)}`);
  }
}

async function register(p: Procs, name: string, password: string): Promise<void> {
  const email = `${name}@example.com`;
  const code = await mailedCode(p.api, p.smtp, email);
  const r = await p.api.register({ email, name, password, code });
  assert.equal(r.status, 201, JSON.stringify(r.json));
}

async function login(p: Procs, name: string, password: string): Promise<string> {
  const r = await p.api.login(name, password);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.token;
}

async function resetPassword(p: Procs, name: string, password: string): Promise<void> {
  const email = `${name}@example.com`;
  const code = await mailedCode(p.api, p.smtp, email, "reset_password");
  const r = await p.api.call("POST", "/api/v1/password/reset", {
    email,
    code,
    new_password: password,
  });
  assert.equal(r.status, 204, JSON.stringify(r.json));
}

/** The chat node refuses `token` with `code` and close 4001. */
async function chatRefuses(chatUrl: string, token: string, code: string): Promise<void> {
  await assert.rejects(
    connect(chatUrl, token),
    (e: unknown) => e instanceof RequestError && e.code === code,
  );
}

function withLogs(e: unknown, p: Procs): unknown {
  if (e instanceof Error) {
    const lines = p.logs().split("\n").filter((l) => /"level":"(warn|error)"|^---/.test(l));
    e.message += `\n${lines.slice(-40).map((l) => l.slice(0, 400)).join("\n")}`;
  }
  return e;
}

Deno.test("after a Redis restart without persistence, a logged-out token and a token from before a password reset are still refused", async () => {
  const p = await startProcs();
  try {
    await register(p, "zed", "first password");
    const loggedOut = await login(p, "zed", "first password");
    const beforeReset = await login(p, "zed", "first password");
    const out = await p.api.call("POST", "/api/v1/logout", undefined, loggedOut);
    assert.equal(out.status, 204);
    await resetPassword(p, "zed", "second password");
    const good = await login(p, "zed", "second password");

    // Redis goes away with everything it held, and comes back empty.
    await p.redis.stop();
    await p.redis.start();
    // The cluster uses the new Redis: a session starts (login lock, presence) with the good token.
    const live: ChatClient = await eventually(() => connect(p.chatUrl, good), {
      timeoutMs: 20_000,
      what: "a chat session on the restarted Redis",
    });
    assert.equal((await p.api.me(good)).status, 200);

    for (const token of [loggedOut, beforeReset]) {
      expectError(await p.api.me(token), 401, "token_revoked");
      expectError(await p.api.chatNode(token), 401, "token_revoked");
      await chatRefuses(p.chatUrl, token, "token_revoked");
    }
    assert.equal(live.events("kicked").length, 0, "the good session goes on");
    live.close();
  } catch (e) {
    throw withLogs(e, p);
  } finally {
    await p.close();
  }
});

Deno.test("with status stopped, a password change, a reset and a logout still end the live sessions within a sweep", async () => {
  const p = await startProcs();
  try {
    const names = ["amy", "cal", "bob", "dot"];
    for (const n of names) await register(p, n, `${n} password`);
    const tokens = new Map<string, string>();
    for (const n of names) tokens.set(n, await login(p, n, `${n} password`));
    const clients = new Map<string, ChatClient>();
    for (const n of names) {
      const c = await connect(p.chatUrl, tokens.get(n)!);
      c.startPinging(HEARTBEAT_MS / 2);
      clients.set(n, c);
    }

    // Status is stopped: the gate's Kick has nowhere to go.
    const status = p.roles.get("status")!;
    await status.kill("SIGKILL");

    const started = Date.now();
    const change = await p.api.call("POST", "/api/v1/password/change", {
      old_password: "amy password",
      new_password: "amy's new password",
    }, tokens.get("amy"));
    assert.equal(change.status, 204, JSON.stringify(change.json));
    await resetPassword(p, "cal", "cal's new password");
    const out = await p.api.call("POST", "/api/v1/logout", undefined, tokens.get("bob"));
    assert.equal(out.status, 204);
    const doneAt = Date.now();

    // One re-check period and one sweep, plus what a loaded machine may add.
    const within = CHECK_MIN_INTERVAL_MS + HEARTBEAT_MS / 2 + 3000;
    const expected = [["amy", "password changed"], ["cal", "password reset"], [
      "bob",
      "logged out",
    ]];
    for (const [n, reason] of expected) {
      const c = clients.get(n)!;
      assert.equal((await c.next("kicked", undefined, within)).reason, reason, n);
      assert.equal((await c.closed).code, CLOSE.KICKED, n);
    }
    const took = Date.now() - doneAt;
    assert.ok(took < within, `the sessions ended ${took} ms after the last change`);
    console.log(`ended ${took} ms after the last change (${Date.now() - started} ms in all)`);
    assert.match(p.roles.get("gate")!.log(), /could not end the live session/);

    // Dot's token holds: her session outlives several re-checks.
    const dot = clients.get("dot")!;
    await new Promise((r) => setTimeout(r, 2 * CHECK_MIN_INTERVAL_MS));
    assert.deepEqual(await dot.request("friend.list", {}), { friends: [] });
    assert.equal(dot.events("kicked").length, 0);
    dot.close();
  } catch (e) {
    throw withLogs(e, p);
  } finally {
    await p.close();
  }
});

Deno.test("a gate or a chat node started alone with no JWT key exits 2 and names the setting", async () => {
  const dir = await tempDir();
  try {
    for (const role of ["gate", "chat"]) {
      const child = spawnServer(["--role", role], {
        PARLEY_DATA_DIR: dir.path,
        PARLEY_CLUSTER_SECRET: CLUSTER_SECRET,
      });
      // A process that starts anyway is a failure, not a hang.
      const exited = await Promise.race([child.proc.status, sleep(20_000).then(() => null)]);
      await child.kill("SIGKILL");
      assert.equal(exited?.code, 2, `still running or wrong exit: ${child.log()}`);
      assert.match(child.log(), /runs only .*PARLEY_JWT_SECRET/s);
    }
    // Nothing was generated: another process could not have the same key.
    assert.equal(await Deno.stat(`${dir.path}/jwt.key`).catch(() => null), null);
  } finally {
    await dir.remove();
  }
});
