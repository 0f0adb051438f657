/**
 * One bench pass: the baselines first (each started, driven, stopped),
 * then Parley on MySQL + Redis (capacity on fresh nodes, throughput,
 * cross-node, latency, login storm beside the KDF), then Parley on SQLite +
 * memory. A part that fails is recorded in `errors` and the pass goes on.
 */
import { type Baseline, startDenoRelay, startSocketIoRelay } from "./baselines.ts";
import { BENCH_PASSWORD, type Cluster, mysqlDurability, startCluster } from "./parley.ts";
import type { Endpoint } from "./load/clients.ts";
import { runKdf, runLogins, runSessions } from "./scenarios.ts";
import { startProfile, summarize } from "./profile.ts";
import type { Proc } from "./procs.ts";
import { cpuWatch, latencyRun, type Pairs, throughputRun } from "./message_runs.ts";
import { latencyPairs, type Measured, type Profile } from "./plan.ts";

const PROFILE_DIR = new URL("./results/profiles/", import.meta.url).pathname;
const say = (s: string) => console.error(`bench: ${s}`);

/** Hands out consecutive user numbers, so no two runs share a user. */
function allocator() {
  let next = 1;
  return {
    take(n: number): number[] {
      const out = Array.from({ length: n }, (_, i) => next + i);
      next += n;
      return out;
    },
    get used() {
      return next - 1;
    },
  };
}

const asPairs = (users: number[]): [number, number][] =>
  Array.from({ length: users.length / 2 }, (_, i) => [users[2 * i], users[2 * i + 1]]);

export interface RunOptions {
  /** CPU-profile Parley's processes during each scenario (results/profiles/). */
  profile?: boolean;
}

export async function runBench(
  p: Profile,
  only: Set<string>,
  errors: string[],
  options: RunOptions = {},
): Promise<Measured> {
  const m: Measured = { throughput: {}, latency: {}, capacity: {}, profiles: [] };
  const closers: (() => Promise<void>)[] = [];
  const onSignal = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  const ctx: Ctx = { p, only, errors, options, m, closers, procs: [] };
  try {
    if (["throughput", "sqlite", "latency", "capacity"].some((s) => only.has(s))) {
      for (const target of ["relay", "socketio"] as const) await baseline(ctx, target);
    }
    if (["throughput", "crossnode", "latency", "capacity", "login"].some((s) => only.has(s))) {
      await durableCluster(ctx);
    }
    if (only.has("sqlite")) await embedded(ctx);
  } finally {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  return m;
}

interface Ctx {
  p: Profile;
  only: Set<string>;
  errors: string[];
  options: RunOptions;
  m: Measured;
  closers: (() => Promise<void>)[];
  /** The processes under test now: a failed part reports their error lines. */
  procs: Proc[];
}

/**
 * The first lines at `levels` (JSON logs) each process wrote, for a failure
 * report: `perProc` of them, each cut to 400 characters.
 */
function errorLines(procs: Proc[], levels = ["error"], perProc = 2): string[] {
  const out: string[] = [];
  const marks = levels.map((l) => `"level":"${l}"`);
  for (const p of procs) {
    const lines = p.tail().split("\n").filter((l) => marks.some((m) => l.includes(m)));
    out.push(...lines.slice(0, perProc).map((l) => `${p.name}: ${l.slice(0, 400)}`));
  }
  return out;
}

async function attempt<T>(ctx: Ctx, what: string, fn: () => Promise<T>): Promise<T | undefined> {
  say(what);
  try {
    return await fn();
  } catch (e) {
    const text = (e as Error).message ?? String(e);
    const lines = [...text.split("\n").slice(0, 6), ...errorLines(ctx.procs)];
    ctx.errors.push(`${what}: ${lines.join("\n  ")}`);
    say(`${what} failed: ${text.split("\n")[0]}`);
    return undefined;
  }
}

/** Runs `fn`, sampling the CPU of `procs` meanwhile when profiling is on. */
async function profiled<T>(
  ctx: Ctx,
  label: string,
  procs: { name?: string; proc?: { name: string }; inspectPort?: number }[],
  fn: () => Promise<T>,
): Promise<T> {
  const on = ctx.options.profile ? procs.filter((x) => x.inspectPort) : [];
  const sessions = await Promise.all(on.map((x) => startProfile(x.inspectPort!)));
  try {
    return await fn();
  } finally {
    if (sessions.length) {
      await Deno.mkdir(PROFILE_DIR, { recursive: true });
      await Deno.writeTextFile(`${PROFILE_DIR}.gitignore`, "*\n");
    }
    for (const [i, session] of sessions.entries()) {
      const name = on[i].name ?? on[i].proc?.name ?? `proc${i}`;
      const profile = await session.stop();
      const file = `${PROFILE_DIR}${label}-${name}.cpuprofile`;
      await Deno.writeTextFile(file, JSON.stringify(profile));
      ctx.m.profiles.push({ label: `${label} ${name}`, file, summary: summarize(profile) });
    }
  }
}

async function baseline(ctx: Ctx, target: "relay" | "socketio"): Promise<void> {
  const { p, only, m } = ctx;
  const b: Baseline | undefined = await attempt(
    ctx,
    `start ${target}`,
    () => target === "relay" ? startDenoRelay() : startSocketIoRelay(),
  );
  if (!b) return;
  ctx.closers.push(b.close);
  ctx.procs = [b.proc];
  const cpu = await cpuWatch([b.proc], false);
  const ep = (user: number): Endpoint => ({ user, url: b.url });
  const pairs = (n: number): Pairs =>
    Array.from({ length: n }, (_, i) => ({ from: ep(2 * i + 1), to: ep(2 * i + 2) }));
  if (only.has("throughput") || only.has("sqlite")) {
    m.throughput[target] = await attempt(
      ctx,
      `throughput ${target}`,
      () => throughputRun(p, target, pairs(p.throughput.pairs), cpu),
    );
  }
  if (only.has("latency")) {
    for (const rate of p.latency.rates) {
      (m.latency[rate] ??= {})[target] = await attempt(
        ctx,
        `latency ${target} @ ${rate} msg/s`,
        () => latencyRun(p, target, pairs(latencyPairs(p, rate)), cpu),
      );
    }
  }
  if (only.has("capacity")) {
    m.capacity[target] = await attempt(ctx, `capacity ${target}`, () =>
      runSessions({
        target,
        endpoints: Array.from({ length: p.capacity.baselineSessions }, (_, i) => ep(i + 1)),
        procs: [b.proc],
        owner: () => 0,
        holdMs: Math.min(p.capacity.holdMs, 5_000),
      }));
  }
  await b.close();
  ctx.closers.pop();
}

/** Endpoints for the users in `list` (taken two by two), senders on one node, receivers on another. */
async function pairsOn(cluster: Cluster, list: number[], fromNode: number, toNode: number) {
  const tokens = await cluster.tokens(list);
  const ep = (i: number, node: number): Endpoint => ({
    user: cluster.userIds[list[i] - 1],
    url: cluster.nodes[node].url,
    token: tokens[i],
  });
  return Array.from({ length: list.length / 2 }, (_, k) => ({
    from: ep(2 * k, fromNode),
    to: ep(2 * k + 1, toNode),
  }));
}

/**
 * Holds authenticated idle sessions for `users`, `perUser` each (devices of
 * their own), spread round robin over the chat nodes: a user's sessions are
 * on different nodes.
 */
async function parleySessions(cluster: Cluster, users: number[], holdMs: number, perUser = 1) {
  const tokens = await cluster.tokens(users);
  const n = cluster.nodes.length;
  const endpoints: Endpoint[] = [];
  users.forEach((u, i) => {
    for (let d = 0; d < perUser; d++) {
      endpoints.push({
        user: cluster.userIds[u - 1],
        url: cluster.nodes[endpoints.length % n].url,
        token: tokens[i],
        device: perUser > 1 ? `bench-device-${d}` : undefined,
      });
    }
  });
  const procs = cluster.nodes.map((node) => node.proc);
  const summary = await runSessions({
    target: "parley",
    endpoints,
    procs,
    owner: (i) => i % n,
    holdMs,
  });
  // Sessions that failed or dropped: what the nodes logged about it goes in the report.
  if (summary.sessions < summary.asked || summary.alive < summary.sessions) {
    summary.serverLines = errorLines(procs, ["error", "warn"], 3);
  }
  return summary;
}

/**
 * Both capacity runs, each on fresh chat nodes: one session per user, then
 * two per user (two devices, on two nodes). The nodes are started afresh
 * after them too, so the message runs do not inherit their heaps.
 */
async function capacity(ctx: Ctx, cluster: Cluster, warm: number[], cap: number[]) {
  const { p, m } = ctx;
  const nodes = cluster.nodes.length;
  m.capacity.parley = await attempt(
    ctx,
    `capacity Parley (${cap.length} sessions on ${nodes} nodes)`,
    async () => {
      await parleySessions(cluster, warm, 0); // the first sessions load code and fill caches
      return await parleySessions(cluster, cap, p.capacity.holdMs);
    },
  );
  await cluster.restartChats();
  const half = cap.slice(0, Math.floor(cap.length / 2));
  m.capacityMulti = await attempt(
    ctx,
    `capacity Parley (${half.length} users × 2 sessions on ${nodes} nodes)`,
    async () => {
      await parleySessions(cluster, warm, 0, 2);
      return await parleySessions(cluster, half, p.capacity.holdMs, 2);
    },
  );
  await cluster.restartChats();
}

async function durableCluster(ctx: Ctx): Promise<void> {
  const { p, only, m } = ctx;
  const users = allocator();
  const thr = users.take(2 * p.throughput.pairs);
  const cross = users.take(2 * p.throughput.pairs);
  // Each latency run has users of its own: a user's earlier messages would come back in a sync.
  const lat = p.latency.rates.map((rate) => users.take(2 * latencyPairs(p, rate)));
  const warm = users.take(30 * p.capacity.nodes);
  const cap = users.take(p.capacity.sessions);
  const logins = users.take(p.login.users);
  const nodes = only.has("capacity") ? p.capacity.nodes : 2;
  const cluster = await attempt(
    ctx,
    `start Parley (mysql+redis, ${nodes} chat nodes, ${users.used} users)`,
    () =>
      startCluster({
        backend: "mysql+redis",
        chatNodes: nodes,
        users: users.used,
        friends: [...asPairs(thr), ...asPairs(cross), ...lat.flatMap(asPairs)],
        inspect: ctx.options.profile,
      }),
  );
  if (!cluster) return;
  ctx.closers.push(cluster.close);
  ctx.procs = cluster.procs;
  m.mysql = await mysqlDurability().catch(() => undefined);
  if (only.has("capacity")) await capacity(ctx, cluster, warm, cap);
  // After the capacity runs: they restart the chat nodes, which then have new pids.
  const cpu = await cpuWatch(cluster.procs);
  const [n1, n2] = cluster.nodes;
  if (only.has("throughput")) {
    m.throughput.parley = await attempt(
      ctx,
      "throughput Parley (mysql+redis, one node)",
      async () => {
        const pairs = await pairsOn(cluster, thr, 0, 0);
        return await profiled(
          ctx,
          "throughput",
          [n1],
          () => throughputRun(p, "parley", pairs, cpu),
        );
      },
    );
  }
  if (only.has("crossnode")) {
    m.crossnode = await attempt(ctx, "cross-node Parley (node 1 → node 2)", async () => {
      const pairs = await pairsOn(cluster, cross, 0, 1);
      return await profiled(
        ctx,
        "crossnode",
        [n1, n2],
        () => throughputRun(p, "parley", pairs, cpu),
      );
    });
  }
  if (only.has("latency")) {
    for (const [k, rate] of p.latency.rates.entries()) {
      (m.latency[rate] ??= {}).parley = await attempt(
        ctx,
        `latency Parley @ ${rate} msg/s (one node)`,
        async () => {
          const pairs = await pairsOn(cluster, lat[k], 0, 0);
          return await profiled(
            ctx,
            `latency${rate}`,
            [n1],
            () => latencyRun(p, "parley", pairs, cpu),
          );
        },
      );
    }
  }
  if (only.has("login")) await loginStorm(ctx, cluster, logins);
  await cluster.close();
  ctx.closers.pop();
}

/** Logins through the gate up to the welcome, then the KDF alone and scrypt alone at the same concurrency. */
async function loginStorm(ctx: Ctx, cluster: Cluster, logins: number[]): Promise<void> {
  const { p, m } = ctx;
  m.login = await attempt(
    ctx,
    "login storm",
    () =>
      profiled(ctx, "login", [cluster.core, cluster.nodes[0]], () =>
        runLogins({
          gateUrl: cluster.gateUrl,
          users: logins.map((n) => ({ login: cluster.loginOf(n), password: BENCH_PASSWORD })),
          concurrency: p.login.concurrency,
          durationMs: p.login.durationMs,
        })),
  );
  m.kdfPerSecond = await attempt(
    ctx,
    "KDF alone",
    () => runKdf(p.login.concurrency, p.login.durationMs),
  );
  m.scryptPerSecond = await attempt(
    ctx,
    "scrypt alone (the KDF before Argon2id)",
    () => runKdf(p.login.concurrency, Math.min(p.login.durationMs, 10_000), "scrypt"),
  );
}

async function embedded(ctx: Ctx): Promise<void> {
  const { p, m } = ctx;
  const thr = Array.from({ length: 2 * p.throughput.pairs }, (_, i) => i + 1);
  const cluster = await attempt(
    ctx,
    "start Parley (sqlite+memory, one process)",
    () =>
      startCluster({
        backend: "sqlite+memory",
        chatNodes: 1,
        users: thr.length,
        friends: asPairs(thr),
        inspect: ctx.options.profile,
      }),
  );
  if (!cluster) return;
  ctx.closers.push(cluster.close);
  ctx.procs = cluster.procs;
  const cpu = await cpuWatch(cluster.procs, false);
  m.throughputSqlite = await attempt(ctx, "throughput Parley (sqlite+memory)", async () => {
    const pairs = await pairsOn(cluster, thr, 0, 0);
    return await profiled(
      ctx,
      "throughput-sqlite",
      [cluster.nodes[0]],
      () => throughputRun(p, "parley", pairs, cpu),
    );
  });
  await cluster.close();
  ctx.closers.pop();
}
