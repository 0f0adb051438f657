/**
 * Faults for the chaos tests that never touch the shared MariaDB and Redis:
 * a private redis-server the test can kill and start again on the same port
 * with its data gone, and a TCP proxy between the cluster and MySQL that
 * the test can cut (every connection dropped, new ones refused) and
 * restore. Chat nodes and the status role are stopped and killed through
 * the cluster (tests/cluster.ts).
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { freePort, MYSQL_URL, tempDir } from "../testing/mod.ts";

async function accepts(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`nothing listens on ${port}: ${e}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A redis-server of the test's own, without persistence: a restart loses every key. */
export class PrivateRedis {
  #proc: Deno.ChildProcess | null = null;
  #dir: { path: string; remove(): Promise<void> } | null = null;
  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort());
    await r.#spawn();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  async #spawn(): Promise<void> {
    this.#dir ??= await tempDir();
    this.#proc = new Deno.Command("redis-server", {
      args: ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        .concat(["no", "--dir", this.#dir.path]),
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await accepts(this.port, 10_000);
  }

  /** SIGKILLs the server; nothing listens on its port until start(). */
  async kill(): Promise<void> {
    const p = this.#proc;
    this.#proc = null;
    if (!p) return;
    try {
      p.kill("SIGKILL");
    } catch { /* already gone */ }
    await p.status;
  }

  /** Starts it again, empty, on the same port; resolves once it accepts connections. */
  async start(): Promise<void> {
    if (this.#proc) throw new Error("the private redis-server is running");
    await this.#spawn();
  }

  async stop(): Promise<void> {
    await this.kill();
    await this.#dir?.remove();
  }
}

/** A TCP proxy to the test MySQL server that a test can cut and restore. */
export class MysqlProxy {
  #server: Server | null = null;
  #sockets = new Set<Socket>();
  /** Connections dropped by cut(). */
  dropped = 0;
  private constructor(readonly port: number) {}

  static async start(): Promise<MysqlProxy> {
    const p = new MysqlProxy(await freePort());
    await p.restore();
    return p;
  }

  /** `url` (a database on the test MySQL) with this proxy as its host. */
  via(url: string): string {
    const u = new URL(url);
    u.hostname = "127.0.0.1";
    u.port = String(this.port);
    return u.toString();
  }

  /** Listens again: new connections reach MySQL. */
  async restore(): Promise<void> {
    if (this.#server) return;
    const target = new URL(MYSQL_URL);
    const server = createServer((client) => {
      const upstream = createConnection(Number(target.port || 3306), target.hostname);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => this.#sockets.delete(s));
      }
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.#server = server;
  }

  /** Drops every open connection and refuses new ones until restore(). */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    const closed = new Promise((resolve) => server?.close(resolve) ?? resolve(null));
    for (const s of this.#sockets) {
      s.destroy();
      this.dropped++;
    }
    await closed;
  }

  async stop(): Promise<void> {
    await this.cut();
  }
}
