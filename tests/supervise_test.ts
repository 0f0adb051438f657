/**
 * `deno task serve --supervise` as an operator runs it: every role a child
 * process on MySQL + Redis. A role killed with SIGKILL is back within
 * seconds on the same port, `parley-admin nodes` shows the chat node's
 * restart, and SIGTERM stops every role cleanly. A role that cannot start
 * is a crash loop: the supervisor stops the others and exits 1.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import {
  type Child,
  connect,
  eventually,
  freshMysql,
  freshRedis,
  memoryLogger,
  spawnServer,
  startSmtp,
  tempDir,
} from "../testing/mod.ts";
import { ADMIN_ARGS, run, show } from "../cli/_test_helpers.ts";
import { adminMetadata, statusClient } from "../proto/services.ts";
import { resolveConfig } from "../server/config.ts";
import { supervise } from "../server/supervise/mod.ts";
import {
  CLUSTER_SECRET,
  dropRedisPrefix,
  gateCall,
  login,
  type Parley,
  register,
} from "./cluster.ts";

interface Supervised {
  pids: Record<string, number>;
  ports: Record<string, Record<string, number>>;
}

/** The supervisor's "parley is running (supervised)" lines, latest last. */
function supervisedLines(child: Child): Supervised[] {
  return child.log().split("\n").filter((l) => l.includes("parley is running (supervised)"))
    .map((l) => JSON.parse(l));
}

/** The pid the supervisor last logged starting `role` with. */
function pidOf(child: Child, role: string): number {
  const lines = child.log().split("\n").filter((l) =>
    l.includes('"msg":"role started"') && l.includes(`"role":"${role}"`)
  );
  return JSON.parse(lines[lines.length - 1]).pid;
}

Deno.test({
  name:
    "deno task serve --supervise: a role killed with SIGKILL is back within seconds, parley-admin nodes shows the restart, SIGTERM stops every role",
  async fn() {
    const [smtp, db, dir] = await Promise.all([startSmtp(), freshMysql(), tempDir()]);
    const redis = freshRedis();
    const path = `${dir.path}/parley.json`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        dataDir: `${dir.path}/data`,
        storeUrl: db.url,
        engineUrl: redis.url,
        smtpUrl: smtp.url,
        verify: { host: "127.0.0.1", port: 0 },
        status: { host: "127.0.0.1", port: 0, nodeTtlMs: 3000 },
        gate: {
          host: "127.0.0.1",
          port: 0,
          loginsPerIpPerMinute: 10_000,
          loginsPerAccountPerHour: 10_000,
        },
        chat: { name: "chat-1", host: "127.0.0.1", port: 0, grpcPort: 0 },
      }),
    );
    // No secrets given: the supervisor makes them under dataDir, as one
    // process running every role would, and hands them to its children.
    const sup = spawnServer(["--supervise", "--config", path], {}, {
      group: true,
      viaTask: true,
    });
    try {
      await sup.waitForLog("parley is running (supervised)");
      const key = (name: string) =>
        Deno.readTextFile(`${dir.path}/data/${name}`).then((s) => s.trim());
      const [CLUSTER_SECRET, ADMIN_TOKEN] = [await key("cluster.key"), await key("admin.token")];
      const { ports } = supervisedLines(sup)[0];
      const p = { gateUrl: `http://127.0.0.1:${ports.gate.http}`, smtp } as Parley;
      const statusAddr = `127.0.0.1:${ports.status.grpc}`;
      const status = statusClient(statusAddr, { clusterSecret: CLUSTER_SECRET });
      const admin = { metadata: adminMetadata(ADMIN_TOKEN) };
      const alice = await register(p, "alice");
      try {
        for (const role of ["chat", "gate", "status", "verify"]) {
          const killedAt = Date.now();
          Deno.kill(pidOf(sup, role), "SIGKILL");
          // Back: logging in and connecting to the node the gate names works
          // again (gate, status, chat), and so does asking for a code (verify).
          await eventually(async () => {
            const reply = await login(p, alice);
            const client = await connect(reply.chat_url, reply.token, { timeoutMs: 2000 });
            await client.close();
            const code = await gateCall(p.gateUrl, "POST", "/api/v1/codes", {
              body: { email: `${role}@example.test`, purpose: "register" },
            });
            return code.status === 202;
          }, { timeoutMs: 10_000, intervalMs: 100, what: `${role} to be back` });
          const back = Date.now() - killedAt;
          console.log(`${role}: from SIGKILL to login, chat and codes working: ${back} ms`);
          assert.ok(back < 8000, `${role} back after ${back} ms`);
        }
        const { nodes } = await status.ListNodes({}, admin);
        assert.equal(nodes.length, 1);
        assert.equal(nodes[0].restarts, 1, JSON.stringify(nodes[0]));
        const r = await run(ADMIN_ARGS, ["nodes"], {
          env: { PARLEY_STATUS_ADDR: statusAddr, PARLEY_ADMIN_TOKEN: ADMIN_TOKEN },
        });
        assert.equal(r.code, 0, show(r));
        assert.match(r.stdout, /^NAME\s+STATE\s+SESSIONS\s+HEARTBEAT\s+UP\s+RESTARTS/);
        assert.match(r.stdout, /^chat-1\s+up\s+\d+\s+.*\s1\s+ws:\/\//m, r.stdout);
      } finally {
        status.close();
      }
      assert.equal(sup.log().match(/role exited; restarting it/g)?.length, 4);

      // SIGTERM to the whole group, as systemd's default KillMode does.
      sup.killGroup("SIGTERM");
      const exit = await sup.status;
      assert.equal(exit.code, 0, sup.log().slice(-3000));
      assert.equal(sup.log().match(/"msg":"role stopped"/g)?.length, 4);
      assert.doesNotMatch(sup.log(), /"level":"error","msg":"(?!role exited)/);
    } finally {
      sup.killGroup("SIGKILL");
      await sup.status;
      await smtp.close();
      await db.drop().catch(() => {});
      await dropRedisPrefix(redis.prefix);
      await dir.remove();
    }
  },
});

Deno.test("a role that keeps dying is a crash loop: the supervisor stops every role and exits 1", async () => {
  const dir = await tempDir();
  const redis = freshRedis();
  // The gate's port is taken, so the gate exits at every start.
  const taken = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => taken.once("listening", r));
  const port = (taken.address() as { port: number }).port;
  try {
    const path = `${dir.path}/parley.json`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        dataDir: `${dir.path}/data`,
        storeUrl: `sqlite:${dir.path}/parley.db`,
        engineUrl: redis.url,
        clusterSecret: CLUSTER_SECRET,
        jwtSecret: CLUSTER_SECRET,
        roles: ["verify", "gate"],
        verify: { host: "127.0.0.1", port: 0 },
        gate: { host: "127.0.0.1", port },
      }),
    );
    const config = resolveConfig({ config: path }, { env: {} });
    const { log, lines } = memoryLogger();
    const children: string[] = [];
    const code = await supervise(config, {
      log,
      configFile: path,
      limits: { firstBackoffMs: 50, maxRestarts: 2, periodMs: 60_000 },
      output: (l) => children.push(l),
    });
    assert.equal(code, 1);
    const msgs = lines.map((l) => `${l.msg} ${l.role ?? ""}`.trim());
    assert.equal(msgs.filter((m) => m === "role exited; restarting it gate").length, 3);
    assert.ok(msgs.includes("crash loop: stopping every role gate"), msgs.join("\n"));
    assert.ok(msgs.includes("role stopped verify"), msgs.join("\n"));
  } finally {
    taken.close();
    await dir.remove();
    await dropRedisPrefix(redis.prefix);
  }
});
