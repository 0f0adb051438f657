/**
 * Throwaway redis-server processes for the engine tests that must break
 * Redis (kill it under a live engine) or need a Redis Cluster, which the
 * shared test Redis is not. Each server runs on a free port with no
 * persistence in its own temporary folder.
 */
import { freePort, tempDir } from "../../testing/mod.ts";

export interface RedisServer {
  port: number;
  proc: Deno.ChildProcess;
  stop(): Promise<void>;
}

/** True if a redis-server binary can be run here. */
export async function haveRedisServer(): Promise<boolean> {
  try {
    const out = await new Deno.Command("redis-server", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start: ${e}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Starts redis-server with `args` on a free port and waits until it accepts connections. */
export async function startRedisServer(args: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const dir = await tempDir();
  const proc = new Deno.Command("redis-server", {
    args: [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir.path,
      ...args,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        proc.kill("SIGKILL");
      } catch { /* already gone */ }
      await proc.status;
      await dir.remove();
    })();
  try {
    await waitForPort(port, 10_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { port, proc, stop };
}

/** A Redis Cluster of `n` masters without replicas; `url` is its redis-cluster:// address. */
export async function startRedisCluster(
  n = 3,
): Promise<{ url: string; servers: RedisServer[]; stop(): Promise<void> }> {
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < n; i++) {
      servers.push(
        await startRedisServer([
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          "nodes.conf",
          "--cluster-node-timeout",
          "2000",
        ]),
      );
    }
    const create = await new Deno.Command("redis-cli", {
      args: [
        "--cluster",
        "create",
        ...servers.map((s) => `127.0.0.1:${s.port}`),
        "--cluster-replicas",
        "0",
        "--cluster-yes",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(create.stdout) + new TextDecoder().decode(create.stderr);
    if (!create.success || !text.includes("All 16384 slots covered")) {
      throw new Error(`redis-cli --cluster create failed:\n${text}`);
    }
    // Wait until every node agrees the cluster is up.
    for (const s of servers) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const info = await new Deno.Command("redis-cli", {
          args: ["-p", String(s.port), "cluster", "info"],
          stdout: "piped",
          stderr: "null",
        }).output();
        if (new TextDecoder().decode(info.stdout).includes("cluster_state:ok")) break;
        if (Date.now() > deadline) throw new Error(`cluster node ${s.port} never reached state ok`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url: `redis-cluster://${servers.map((s) => `127.0.0.1:${s.port}`).join(",")}`,
    servers,
    stop,
  };
}
