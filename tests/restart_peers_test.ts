/**
 * Restarting status and verify must never take another role down. The
 * cluster runs as five processes with users chatting across two chat nodes,
 * logging in (gate → status PickNode) and asking for codes (gate → verify);
 * status and verify are each stopped with SIGTERM and started again 20
 * times. No session is torn down inside nghttp2's frame callback
 * (proto/h2_guard.ts) and each role's gRPC server ends its connections
 * without a GOAWAY (proto/listener.ts), both against denoland/deno#36788,
 * so no peer may exit.
 */
import assert from "node:assert/strict";
import { eventually, sleep } from "../testing/mod.ts";
import {
  befriend,
  type Cluster,
  connectTo,
  gateCall,
  login,
  register,
  startCluster,
  withLogs,
} from "./cluster.ts";
import { Chatter, checkStored } from "./_traffic.ts";

const RESTARTS = 20;

/** Calls `fn` every `everyMs` until stopped; counts successes. */
function repeat(fn: () => Promise<unknown>, everyMs: number) {
  const state = { ok: 0, failed: 0, running: true };
  const loop = (async () => {
    while (state.running) {
      await fn().then(() => state.ok++, () => state.failed++);
      await sleep(everyMs);
    }
  })();
  return {
    state,
    stop: async () => {
      state.running = false;
      await loop;
    },
  };
}

Deno.test({
  name:
    "status and verify restarted 20 times each under traffic: no other process exits, and every acked message is stored once",
  async fn() {
    const cluster: Cluster = await startCluster({
      nodeTtlMs: 3000,
      chat: { heartbeatMs: 1000, msgRate: 200, msgBurst: 500 },
      gate: {
        codesPerIpPerHour: 100_000,
        loginsPerAccountPerHour: 100_000,
        loginsPerIpPerMinute: 100_000,
      },
    });
    const chatters: Chatter[] = [];
    try {
      const alice = await register(cluster, "alice");
      const bob = await register(cluster, "bob");
      const carol = await register(cluster, "carol");
      const a0 = await connectTo(cluster, alice, "chat-1");
      const b0 = await connectTo(cluster, bob, "chat-2");
      await befriend(a0, b0);
      await Promise.all([a0.client.close(), b0.client.close()]);
      const a = new Chatter(cluster, alice, bob.id);
      const b = new Chatter(cluster, bob, alice.id);
      chatters.push(a, b);
      await Promise.all([a.start("chat-1"), b.start("chat-2")]);

      let n = 0;
      const logins = repeat(() => login(cluster, carol), 100);
      const codes = repeat(
        () =>
          gateCall(cluster.gateUrl, "POST", "/api/v1/codes", {
            body: { email: `u${n++}@example.test`, purpose: "register" },
          }),
        100,
      );
      const crashes: string[] = [];
      for (const [role, calls] of [["status", logins], ["verify", codes]] as const) {
        for (let i = 0; i < RESTARTS; i++) {
          // Restart only while the peers hold live connections to it.
          const before = calls.state.ok;
          await eventually(() => calls.state.ok > before + 1, {
            timeoutMs: 15_000,
            what: `calls through ${role} to succeed again (restart ${i})`,
          });
          const stopped = await cluster.stop(role);
          assert.equal(stopped.code, 0, `${role} exits 0 on SIGTERM`);
          await cluster.start(role);
          // Keep counting after a crash: start what died again, as a supervisor would.
          for (const e of cluster.unexpectedExits().slice(crashes.length)) {
            crashes.push(
              `${e.name} exited ${e.code}${e.signal ? ` (${e.signal})` : ""} ` +
                `during ${role} restart ${i}\n${e.log.slice(-400)}`,
            );
            await cluster.start(e.name);
          }
        }
      }
      await Promise.all([logins.stop(), codes.stop()]);
      await Promise.all([a.stop(), b.stop()]);

      assert.deepEqual(crashes, [], `${crashes.length} crashes in ${2 * RESTARTS} restarts`);
      assert.deepEqual([...a.errors, ...b.errors], []);
      await checkStored(a, b);
      assert.ok(a.acked.size > 100 && b.acked.size > 100, `${a.acked.size}, ${b.acked.size}`);
      assert.ok(logins.state.ok > RESTARTS && codes.state.ok > RESTARTS);
    } catch (e) {
      throw withLogs(e, cluster);
    } finally {
      await Promise.all(chatters.map((c) => c.close()));
      await cluster.close();
    }
  },
});
