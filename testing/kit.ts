/**
 * What Parley's tests share: the real MySQL and Redis the tests run against
 * (each test gets its own database and key prefix), an SMTP server that
 * captures mail (npm:smtp-server), free ports, and child processes of
 * main.ts for cluster tests.
 *
 * MySQL and Redis come from PARLEY_TEST_MYSQL_URL (default
 * mysql://root@127.0.0.1:3306) and PARLEY_TEST_REDIS_URL (default
 * redis://127.0.0.1:6379); .ci/run makes sure both are up.
 */
import { SMTPServer } from "smtp-server";
import mysql from "mysql2/promise";
import { createServer } from "node:net";

export const MYSQL_URL = Deno.env.get("PARLEY_TEST_MYSQL_URL") ?? "mysql://root@127.0.0.1:3306";
export const REDIS_URL = Deno.env.get("PARLEY_TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";

const ROOT = new URL("../", import.meta.url);
export const REPO_DIR = decodeURIComponent(ROOT.pathname);

function uniq(): string {
  return `${Date.now().toString(36)}${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
}

/** MYSQL_URL without a database, for creating and dropping them. */
function serverUrl(): string {
  const url = new URL(MYSQL_URL);
  url.pathname = "";
  return url.toString();
}

/** A fresh, empty MySQL database; `drop()` removes it. */
export async function freshMysql(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `parley_t_${uniq()}`;
  const conn = await mysql.createConnection({ uri: serverUrl() });
  try {
    await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await conn.end();
  }
  const url = new URL(MYSQL_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = await mysql.createConnection({ uri: serverUrl() });
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await c.end();
      }
    },
  };
}

/** A Redis URL whose keys all carry a fresh prefix (`?prefix=`), so tests never collide. */
export function freshRedis(): { url: string; prefix: string } {
  const prefix = `parley_t_${uniq()}:`;
  return { url: `${REDIS_URL}/0?prefix=${encodeURIComponent(prefix)}`, prefix };
}

/** A fresh temporary folder for a test's data dir; removed by `remove()`. */
export async function tempDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "parley_t_" });
  return { path, remove: () => Deno.remove(path, { recursive: true }).catch(() => {}) };
}

/** Ports freePort() handed out in this process, never handed out twice. */
const handedOut = new Set<number>();

function probePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A TCP port that was free a moment ago (for child processes that need a
 * fixed port). The kernel may offer a just-closed port again, so ports
 * already handed out to this process are skipped: a cluster's five ports
 * are always five different ones.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await probePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

export interface Mail {
  from: string;
  to: string[];
  raw: string;
}

export interface SmtpCapture {
  url: string;
  port: number;
  mails: Mail[];
  /** Resolves with the first mail to `to` received after `since` (index into mails). */
  waitFor(to: string, options?: { timeoutMs?: number; since?: number }): Promise<Mail>;
  /** The 6-digit code in the newest mail to `to` (waits for it). */
  codeFor(to: string, options?: { timeoutMs?: number; since?: number }): Promise<string>;
  close(): Promise<void>;
}

/** Decodes quoted-printable and base64 parts enough to find text in a raw mail. */
export function mailText(raw: string): string {
  const qp = raw.replace(/=\r?\n/g, "").replace(
    /=([0-9A-F]{2})/g,
    (_, h) => String.fromCharCode(parseInt(h, 16)),
  );
  const b64 = [...raw.matchAll(/\r?\n\r?\n([A-Za-z0-9+/=\r\n]{20,})(?:\r?\n--|$)/g)]
    .map((m) => {
      try {
        return atob(m[1].replace(/\s+/g, ""));
      } catch {
        return "";
      }
    }).join("\n");
  return qp + "\n" + b64;
}

/** A real SMTP server on a free loopback port that keeps every mail it gets. */
export async function startSmtp(): Promise<SmtpCapture> {
  const mails: Mail[] = [];
  const waiters: (() => void)[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Uint8Array[] = [];
      stream.on("data", (c: Uint8Array) => chunks.push(c));
      stream.on("end", () => {
        const raw = new TextDecoder().decode(
          chunks.reduce((a, b) => {
            const out = new Uint8Array(a.length + b.length);
            out.set(a);
            out.set(b, a.length);
            return out;
          }, new Uint8Array()),
        );
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
          raw,
        });
        for (const w of waiters.splice(0)) w();
        callback();
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.server.address();
      resolve(typeof addr === "object" && addr ? addr.port : 0);
    });
  });
  const waitFor = async (to: string, options: { timeoutMs?: number; since?: number } = {}) => {
    const want = to.toLowerCase();
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    for (;;) {
      for (let i = mails.length - 1; i >= (options.since ?? 0); i--) {
        if (mails[i].to.includes(want)) return mails[i];
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no mail to ${to} within ${options.timeoutMs ?? 10_000} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  };
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    mails,
    waitFor,
    async codeFor(to, options) {
      const mail = await waitFor(to, options);
      const m = mailText(mail.raw).match(/\b(\d{6})\b/);
      if (!m) throw new Error(`no 6-digit code in the mail to ${to}`);
      return m[1];
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The line main.ts logs once every role listens, with the ports they bound. */
export const READY = "parley is running";

/** Role → listener → port, from the READY line: `{ chat: { ws: 8090, grpc: 50055 } }`. */
export type BoundPorts = Record<string, Record<string, number>>;

export interface Child {
  proc: Deno.ChildProcess;
  pid: number;
  /** Everything the process wrote to stderr and stdout so far (its JSON log). */
  log(): string;
  /** Waits until a log line contains `text`. */
  waitForLog(text: string, timeoutMs?: number): Promise<void>;
  /** Waits for the READY line and returns the ports it names. */
  ready(timeoutMs?: number): Promise<BoundPorts>;
  /** The exit status, once the process has ended (null while it runs). */
  readonly exit: Deno.CommandStatus | null;
  readonly status: Promise<Deno.CommandStatus>;
  /** Whether it was spawned in a process group of its own. */
  readonly group: boolean;
  /** Signals the process (SIGTERM by default) and waits for it to end. */
  kill(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /**
   * Signals every process in the child's process group, as systemd
   * (KillMode=control-group), Docker or a terminal's Ctrl-C do. Needs
   * `group: true` at spawn.
   */
  killGroup(signal: Deno.Signal): void;
}

export interface SpawnOptions {
  /** Start the child in a process group of its own (for killGroup). */
  group?: boolean;
  /** Run it through `deno task serve`, as an operator would, instead of `deno run` directly. */
  viaTask?: boolean;
}

/** The permissions `deno task serve` grants main.ts (keep in step with deno.json). */
export const SERVE_PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--allow-ffi",
  "--allow-run=deno",
];

/** The ports in the READY line of `log`, or null if it has not been written yet. */
export function readyPorts(log: string): BoundPorts | null {
  for (const line of log.split("\n")) {
    if (!line.includes(READY)) continue;
    try {
      return (JSON.parse(line) as { ports: BoundPorts }).ports;
    } catch { /* not a whole JSON line yet */ }
  }
  return null;
}

/** Runs `main.ts` with `args` and `env` as a child process, as `deno task serve` would. */
export function spawnServer(
  args: string[],
  env: Record<string, string>,
  options: SpawnOptions = {},
): Child {
  const cmd = options.viaTask
    ? ["task", "--quiet", "serve", ...args]
    : ["run", ...SERVE_PERMISSIONS, `${REPO_DIR}main.ts`, ...args];
  const proc = new Deno.Command(Deno.execPath(), {
    args: cmd,
    env: { NO_COLOR: "1", ...env },
    cwd: REPO_DIR,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: options.group ?? false,
  }).spawn();
  let text = "";
  const listeners: (() => void)[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      text += dec.decode(chunk, { stream: true });
      for (const l of listeners.splice(0)) l();
    }
  };
  const pumps = Promise.all([pump(proc.stderr), pump(proc.stdout)]);
  let exit: Deno.CommandStatus | null = null;
  const status = proc.status.then(async (s) => {
    exit = s;
    await pumps;
    for (const l of listeners.splice(0)) l();
    return s;
  });
  const waitFor = async <T>(what: string, found: () => T | null, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = found();
      if (v !== null) return v;
      if (exit) throw new Error(`process exited (${exit.code}) before ${what}:\n${text}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms:\n${text}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        listeners.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  };
  return {
    proc,
    pid: proc.pid,
    log: () => text,
    get exit() {
      return exit;
    },
    status,
    group: options.group ?? false,
    async waitForLog(needle, timeoutMs = 30_000) {
      await waitFor(
        `"${needle}" in the log`,
        () => (text.includes(needle) ? true : null),
        timeoutMs,
      );
    },
    ready: (timeoutMs = 30_000) => waitFor(`"${READY}"`, () => readyPorts(text), timeoutMs),
    async kill(signal: Deno.Signal = "SIGTERM") {
      if (!exit) {
        try {
          proc.kill(signal);
        } catch { /* already gone */ }
      }
      return await status;
    },
    killGroup(signal) {
      if (!options.group) throw new Error("killGroup() needs a child spawned with group: true");
      try {
        Deno.kill(-proc.pid, signal);
      } catch { /* the group is empty: every process in it ended */ }
    },
  };
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(
  fn: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${options.what ?? "a condition"}${last ? `: ${last}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}
