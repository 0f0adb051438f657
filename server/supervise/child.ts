/**
 * One supervised role process: `deno run main.ts --role R --config FILE`
 * with the permissions `deno task serve` grants, its log lines passed
 * through to the supervisor's stderr as they come (they are JSON already),
 * the ports it bound read from its "parley is running" line, and the last
 * lines kept for the report when it dies.
 */

/**
 * The permissions this process was granted, minus --allow-run: a role gets
 * what `deno task serve` gave the supervisor, read from the running process
 * so the two cannot drift apart (e.g. --allow-ffi for the Argon2 addon).
 */
export function servePermissions(): string[] {
  const names = ["net", "read", "write", "env", "sys", "ffi"] as const;
  return names
    .filter((name) => Deno.permissions.querySync({ name }).state === "granted")
    .map((name) => `--allow-${name}`);
}

const MAIN = new URL("../../main.ts", import.meta.url);
const READY = "parley is running";
const TAIL_LINES = 20;

export type Ports = Record<string, Record<string, number>>;

export interface RoleProcess {
  pid: number;
  startedAt: number;
  /** Resolves with the READY line's ports, or null if the process ended first. */
  ready: Promise<Ports | null>;
  status: Promise<Deno.CommandStatus>;
  /** The last lines it wrote. */
  tail(): string[];
  signal(sig: Deno.Signal): void;
}

const encoder = new TextEncoder();

function toStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/**
 * Starts `main.ts` with `args`; the child inherits the environment, plus
 * `env`. Its lines go to `output`.
 */
export function spawnRole(
  args: string[],
  env: Record<string, string> = {},
  output: (line: string) => void = toStderr,
): RoleProcess {
  const proc = new Deno.Command("deno", {
    args: ["run", ...servePermissions(), MAIN.pathname, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const { promise: ready, resolve: setReady } = Promise.withResolvers<Ports | null>();
  const onLine = (line: string) => {
    output(line);
    lines.push(line);
    if (lines.length > TAIL_LINES) lines.shift();
    if (line.includes(READY)) {
      try {
        setReady((JSON.parse(line) as { ports: Ports }).ports);
      } catch { /* not the JSON line itself */ }
    }
  };
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of stream) {
      buf += dec.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        onLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    }
    if (buf) onLine(buf);
  };
  const pumps = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  const status = proc.status.then(async (s) => {
    await pumps;
    setReady(null);
    return s;
  });
  return {
    pid: proc.pid,
    startedAt: Date.now(),
    ready,
    status,
    tail: () => [...lines],
    signal(sig) {
      try {
        proc.kill(sig);
      } catch { /* it has just ended */ }
    },
  };
}
