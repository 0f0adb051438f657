/**
 * The coordinator side of the load generator: starts one worker process per
 * job part (each with its own fd limit and event loop), waits until every
 * worker has its sockets open, then sends them all the same command — `go`
 * with a shared start time a moment ahead, or `stop` after the caller held
 * the sessions open — and collects their results.
 */
import type { Command, Job, Result, WorkerEvent } from "./jobs.ts";
import { jsonLines } from "./jobs.ts";

const WORKER = new URL("./worker.ts", import.meta.url).pathname;
const enc = new TextEncoder();

export interface Ready {
  connected: number;
  failed: number;
  firstError: string | null;
}

interface Running {
  proc: Deno.ChildProcess;
  stdin: WritableStreamDefaultWriter<Uint8Array>;
  events: AsyncGenerator<WorkerEvent>;
  stderr: Promise<string>;
}

function spawn(job: Job): Running {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys", WORKER],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stdin = proc.stdin.getWriter();
  stdin.write(enc.encode(JSON.stringify(job) + "\n"));
  return {
    proc,
    stdin,
    events: jsonLines<WorkerEvent>(proc.stdout),
    stderr: new Response(proc.stderr).text(),
  };
}

async function nextEvent(w: Running, want: WorkerEvent["event"]): Promise<WorkerEvent> {
  const r = await w.events.next();
  if (r.done) {
    throw new Error(`load worker exited before "${want}":\n${(await w.stderr).slice(-2000)}`);
  }
  if (r.value.event === "fatal") throw new Error(`load worker failed: ${r.value.message}`);
  if (r.value.event !== want) throw new Error(`load worker sent "${r.value.event}", not "${want}"`);
  return r.value;
}

/**
 * Runs `jobs` (one worker each). When all are ready, `then(ready, pids)` decides
 * what they are told: usually `{cmd: "go", startAt}`; for held sessions it
 * measures what it needs and returns `{cmd: "stop"}`. A connection that
 * failed fails the run, unless `allowFailures` (held sessions count them).
 */
export async function runWorkers(
  jobs: Job[],
  then: (ready: Ready[], pids: number[]) => Promise<Command> | Command,
  options: { allowFailures?: boolean } = {},
): Promise<Result[]> {
  const workers = jobs.map(spawn);
  try {
    const ready = await Promise.all(workers.map(async (w) => {
      const ev = await nextEvent(w, "ready");
      return ev as Extract<WorkerEvent, { event: "ready" }>;
    }));
    const failed = options.allowFailures ? undefined : ready.find((r) => r.failed > 0);
    const pids = workers.map((w) => w.proc.pid);
    const cmd: Command = failed ? { cmd: "stop" } : await then(ready, pids);
    const line = enc.encode(JSON.stringify(cmd) + "\n");
    await Promise.all(workers.map((w) => w.stdin.write(line)));
    if (failed) {
      const total = ready.reduce((s, r) => s + r.failed, 0);
      throw new Error(`${total} connections failed; first: ${failed.firstError}`);
    }
    return await Promise.all(workers.map(async (w) => {
      const ev = await nextEvent(w, "result");
      return (ev as Extract<WorkerEvent, { event: "result" }>).result;
    }));
  } finally {
    for (const w of workers) {
      await w.stdin.close().catch(() => {});
      const exit = setTimeout(() => {
        try {
          w.proc.kill("SIGKILL");
        } catch { /* gone */ }
      }, 5_000);
      await w.proc.status;
      clearTimeout(exit);
      await w.stderr.catch(() => "");
    }
  }
}

/** `{cmd: "go"}` starting `leadMs` from now, for every worker at once. */
export const goSoon = (leadMs = 300): Extract<Command, { cmd: "go" }> => ({
  cmd: "go",
  startAt: Date.now() + leadMs,
});

/** Splits `items` into `parts` nearly equal slices (round robin keeps neighbours apart). */
export function split<T>(items: T[], parts: number): T[][] {
  const out: T[][] = Array.from({ length: Math.max(1, parts) }, () => []);
  items.forEach((item, i) => out[i % out.length].push(item));
  return out.filter((p) => p.length > 0);
}

/** `count` loopback source addresses for worker `index` (127.0.0.2 upward; .1 stays the servers'). */
export function sourceAddresses(index: number, count: number): string[] {
  return Array.from({ length: count }, (_, k) => `127.0.0.${2 + index * count + k}`);
}
