/**
 * The benchmark scenarios, each independent of what it is pointed at: a
 * message run (closed loop for throughput, open loop at a fixed rate for
 * latency), held idle sessions with the RSS they cost each server process,
 * and a login storm beside the KDF's own rate. bench/mod.ts points them at
 * Parley and at the baselines and prints the table.
 */
import type { Endpoint, TargetKind } from "./load/clients.ts";
import type { Kdf } from "./load/kdf.ts";
import type {
  LoginsJob,
  LoginsResult,
  MessagesJob,
  MessagesResult,
  Pace,
  SessionsJob,
  SessionsResult,
} from "./load/jobs.ts";
import { goSoon, runWorkers, sourceAddresses, split } from "./load/pool.ts";
import { addFaults, type Faults, Histogram, noFaults } from "./load/stats.ts";
import type { Proc } from "./procs.ts";
import { type CpuWatch, type CpuWindow, sampleWindow, usPerMessage } from "./cpu.ts";

export interface MessageSummary {
  /** Delivered messages per second inside the measured window. */
  rate: number;
  sent: number;
  acked: number;
  unacked: number;
  delivered: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number; mean: number };
  faults: Faults;
  errors: Record<string, number>;
  closedEarly: number;
  /** CPU time per delivered message in the window, in µs, per process (bench/cpu.ts). */
  cpuUsPerMessage?: Record<string, number>;
}

export interface MessageRun {
  target: TargetKind;
  pairs: { from: Endpoint; to: Endpoint }[];
  pace: Pace;
  durationMs: number;
  warmupMs: number;
  workers: number;
  textBytes?: number;
  /** Processes whose CPU is accounted per message (the load generator's always is). */
  cpu?: CpuWatch[];
}

let runs = 0;
/** A tag no earlier run of this process used (texts and client ids start with it). */
const freshTag = () => `r${Date.now().toString(36)}${(runs++).toString(36)}`;

export async function runMessages(run: MessageRun): Promise<MessageSummary> {
  const tag = freshTag();
  const jobs: MessagesJob[] = split(run.pairs, run.workers).map((pairs, w) => ({
    kind: "messages",
    target: run.target,
    tag,
    pairs,
    localAddresses: sourceAddresses(w, 4),
    pace: run.pace,
    durationMs: run.durationMs,
    warmupMs: run.warmupMs,
    graceMs: 10_000,
    textBytes: run.textBytes ?? 100,
    connectConcurrency: 64,
  }));
  let window: Promise<CpuWindow> | undefined;
  const results = await runWorkers(jobs, (_ready, pids) => {
    const go = goSoon(500);
    const load = pids.map((pid) => ({ name: "load generator", pid }));
    window = sampleWindow(
      [...run.cpu ?? [], ...load],
      go.startAt + run.warmupMs,
      go.startAt + run.durationMs,
    );
    return go;
  }) as MessagesResult[];
  const latency = Histogram.from(results.map((r) => r.latency));
  const errors: Record<string, number> = {};
  for (const r of results) {
    for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  }
  const sum = (f: (r: MessagesResult) => number) => results.reduce((s, r) => s + f(r), 0);
  const windowMs = Math.max(...results.map((r) => r.windowMs));
  const rate = windowMs > 0 ? sum((r) => r.deliveredInWindow) / (windowMs / 1000) : 0;
  return {
    rate,
    sent: sum((r) => r.sent),
    acked: sum((r) => r.acked),
    unacked: sum((r) => r.unacked),
    delivered: sum((r) => r.delivered),
    latencyMs: {
      p50: latency.quantile(0.5),
      p95: latency.quantile(0.95),
      p99: latency.quantile(0.99),
      max: latency.max,
      mean: latency.mean,
    },
    faults: results.map((r) => r.faults).reduce(addFaults, noFaults()),
    errors,
    closedEarly: sum((r) => r.closedEarly),
    cpuUsPerMessage: window ? usPerMessage(await window, rate) : undefined,
  };
}

/** Pairs (from, to) of endpoints; `url(user, role)` says where each end connects. */
export function makePairs(
  users: [number, number][],
  endpoint: (user: number, role: "from" | "to") => Endpoint,
): { from: Endpoint; to: Endpoint }[] {
  return users.map(([a, b]) => ({ from: endpoint(a, "from"), to: endpoint(b, "to") }));
}

export interface SessionsSummary {
  /** Sessions asked for. */
  asked: number;
  /** Sessions opened (authenticated, for Parley). */
  sessions: number;
  /** Sessions that could not be opened, and the first one's error. */
  failed: number;
  firstError: string | null;
  /** Opened sessions still open at the end of the hold. */
  alive: number;
  closeCodes: Record<string, number>;
  /** When sessions failed or dropped: the first error and warning lines the servers logged. */
  serverLines?: string[];
  /** Per measured process: sessions it held and its RSS before and after. */
  processes: {
    name: string;
    sessions: number;
    rssBeforeKb: number;
    rssAfterKb: number;
    kbPerSession: number;
  }[];
}

/** Max sockets per load worker: the fd limit is 20,000 and each process needs some of its own. */
export const SOCKETS_PER_WORKER = 15_000;

/**
 * Opens `endpoints` (idle sessions), holds them `holdMs` (Parley's clients
 * keep pinging at the advertised heartbeat meanwhile), and reads the RSS
 * of each process before and after. `owner(i)` says which process holds
 * endpoint i. Sessions that fail to open are counted, not fatal: the
 * summary says how many, and why the first one failed.
 */
export async function runSessions(run: {
  target: TargetKind;
  endpoints: Endpoint[];
  procs: Proc[];
  owner: (i: number) => number;
  holdMs: number;
}): Promise<SessionsSummary> {
  const before = await Promise.all(run.procs.map((p) => p.rssKb()));
  const counts = run.procs.map(() => 0);
  run.endpoints.forEach((_, i) => counts[run.owner(i)]++);
  const workers = Math.max(2, Math.ceil(run.endpoints.length / SOCKETS_PER_WORKER));
  const jobs: SessionsJob[] = split(run.endpoints, workers).map((endpoints, w) => ({
    kind: "sessions",
    target: run.target,
    endpoints,
    localAddresses: sourceAddresses(w, 4),
    connectConcurrency: 100,
  }));
  let after: number[] = [];
  const results = await runWorkers(jobs, async () => {
    await new Promise((r) => setTimeout(r, run.holdMs));
    after = await Promise.all(run.procs.map((p) => p.rssKb()));
    return { cmd: "stop" };
  }, { allowFailures: true }) as SessionsResult[];
  const closeCodes: Record<string, number> = {};
  for (const r of results) {
    for (const [k, v] of Object.entries(r.closeCodes)) closeCodes[k] = (closeCodes[k] ?? 0) + v;
  }
  return {
    asked: run.endpoints.length,
    sessions: results.reduce((s, r) => s + r.connected, 0),
    failed: results.reduce((s, r) => s + r.failed, 0),
    firstError: results.find((r) => r.firstError)?.firstError ?? null,
    alive: results.reduce((s, r) => s + r.alive, 0),
    closeCodes,
    processes: run.procs.map((p, i) => ({
      name: p.name,
      sessions: counts[i],
      rssBeforeKb: before[i],
      rssAfterKb: after[i],
      kbPerSession: counts[i] ? (after[i] - before[i]) / counts[i] : 0,
    })),
  };
}

export interface LoginSummary {
  rate: number;
  completed: number;
  errors: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
}

export async function runLogins(run: {
  gateUrl: string;
  users: { login: string; password: string }[];
  concurrency: number;
  durationMs: number;
}): Promise<LoginSummary> {
  const job: LoginsJob = {
    kind: "logins",
    gateUrl: run.gateUrl,
    users: run.users,
    localAddresses: sourceAddresses(0, 4),
    concurrency: run.concurrency,
    durationMs: run.durationMs,
  };
  const [r] = await runWorkers([job], () => goSoon(300)) as LoginsResult[];
  const h = Histogram.from([r.latency]);
  return {
    rate: r.completed / (r.windowMs / 1000),
    completed: r.completed,
    errors: r.errors,
    latencyMs: { p50: h.quantile(0.5), p99: h.quantile(0.99), max: h.max },
  };
}

/** The KDF's own checks per second, in a process of its own (bench/load/kdf.ts). */
export async function runKdf(
  concurrency: number,
  durationMs: number,
  kdf: Kdf = "argon2id",
): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-env",
      "--allow-read",
      "--allow-ffi",
      new URL("./load/kdf.ts", import.meta.url).pathname,
      String(concurrency),
      String(durationMs),
      kdf,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`kdf run failed: ${new TextDecoder().decode(out.stderr)}`);
  const { hashes, ms } = JSON.parse(new TextDecoder().decode(out.stdout));
  return hashes / (ms / 1000);
}
