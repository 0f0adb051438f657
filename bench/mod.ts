/**
 * `deno task bench [--full] [--only a,b] [--out FILE]`: starts the
 * baselines and Parley (fresh MySQL database and Redis prefix, then SQLite
 * + memory), runs the scenarios of issue 5 against each with the same load
 * generator, prints one table and writes everything to
 * bench/results/latest.json. The quick pass takes under three minutes;
 * `--full` is the long one (50,000 sessions over three chat nodes, 30 s
 * runs); `--smoke` runs every scenario for a moment with a few sockets.
 *
 * Scenarios (`--only`): throughput, sqlite, crossnode, latency, capacity, login.
 */
import { parseArgs } from "node:util";
import { type Baseline, startDenoRelay, startSocketIoRelay } from "./baselines.ts";
import { BENCH_PASSWORD, type Cluster, startCluster } from "./parley.ts";
import type { Endpoint, TargetKind } from "./load/clients.ts";
import {
  type LoginSummary,
  type MessageSummary,
  runKdf,
  runLogins,
  runMessages,
  runSessions,
  type SessionsSummary,
} from "./scenarios.ts";
import { formatTable, machine, type Row } from "./report.ts";
import { buildRows } from "./rows.ts";

export interface Profile {
  name: "smoke" | "quick" | "full";
  /** Load worker processes for message runs. */
  workers: number;
  throughput: { pairs: number; window: number; durationMs: number; warmupMs: number };
  latency: { rate: number; pairs: number; durationMs: number; warmupMs: number };
  capacity: { sessions: number; nodes: number; baselineSessions: number; holdMs: number };
  login: { concurrency: number; durationMs: number; users: number };
}

export const QUICK: Profile = {
  name: "quick",
  workers: 2,
  throughput: { pairs: 100, window: 8, durationMs: 5_000, warmupMs: 1_000 },
  // 250 pairs at 20 msg/s each: people chatting, not a firehose.
  latency: { rate: 5_000, pairs: 250, durationMs: 6_000, warmupMs: 1_000 },
  capacity: { sessions: 3_000, nodes: 3, baselineSessions: 1_000, holdMs: 10_000 },
  login: { concurrency: 8, durationMs: 6_000, users: 400 },
};

export const FULL: Profile = {
  name: "full",
  workers: 2,
  throughput: { pairs: 400, window: 8, durationMs: 30_000, warmupMs: 5_000 },
  latency: { rate: 5_000, pairs: 250, durationMs: 30_000, warmupMs: 5_000 },
  capacity: { sessions: 50_000, nodes: 3, baselineSessions: 17_000, holdMs: 30_000 },
  login: { concurrency: 8, durationMs: 30_000, users: 2_000 },
};

/** A few seconds and a few sockets: checks the bench itself, measures nothing. */
export const SMOKE: Profile = {
  name: "smoke",
  workers: 2,
  throughput: { pairs: 10, window: 4, durationMs: 1_500, warmupMs: 300 },
  latency: { rate: 500, pairs: 10, durationMs: 1_500, warmupMs: 300 },
  capacity: { sessions: 150, nodes: 3, baselineSessions: 100, holdMs: 1_500 },
  login: { concurrency: 2, durationMs: 2_000, users: 20 },
};

export const SCENARIOS = ["throughput", "sqlite", "crossnode", "latency", "capacity", "login"];

/** Everything measured, by key; what a run could not measure is absent. */
export interface Measured {
  throughput: Partial<Record<TargetKind, MessageSummary>>;
  throughputSqlite?: MessageSummary;
  crossnode?: MessageSummary;
  latency: Partial<Record<TargetKind, MessageSummary>>;
  capacity: Partial<Record<TargetKind, SessionsSummary>>;
  login?: LoginSummary;
  kdfPerSecond?: number;
}

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

export async function runBench(p: Profile, only: Set<string>, errors: string[]): Promise<Measured> {
  const m: Measured = { throughput: {}, latency: {}, capacity: {} };
  const attempt = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    say(what);
    try {
      return await fn();
    } catch (e) {
      errors.push(`${what}: ${(e as Error).message.split("\n").slice(0, 6).join("\n  ")}`);
      say(`${what} failed: ${(e as Error).message.split("\n")[0]}`);
      return undefined;
    }
  };
  const closers: (() => Promise<void>)[] = [];
  const onSignal = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    // --- baselines ---
    const wantsBaselines = ["throughput", "sqlite", "latency", "capacity"].some((s) => only.has(s));
    if (wantsBaselines) {
      for (const target of ["relay", "socketio"] as const) {
        const b: Baseline | undefined = await attempt(
          `start ${target}`,
          () => target === "relay" ? startDenoRelay() : startSocketIoRelay(),
        );
        if (!b) continue;
        closers.push(b.close);
        const ep = (user: number): Endpoint => ({ user, url: b.url });
        const pairs = (n: number) =>
          asPairs(Array.from({ length: 2 * n }, (_, i) => i + 1)).map(([a, c]) => ({
            from: ep(a),
            to: ep(c),
          }));
        if (only.has("throughput") || only.has("sqlite")) {
          m.throughput[target] = await attempt(`throughput ${target}`, () =>
            runMessages({
              target,
              pairs: pairs(p.throughput.pairs),
              pace: { type: "closed", window: p.throughput.window },
              durationMs: p.throughput.durationMs,
              warmupMs: p.throughput.warmupMs,
              workers: p.workers,
            }));
        }
        if (only.has("latency")) {
          m.latency[target] = await attempt(`latency ${target}`, () =>
            runMessages({
              target,
              pairs: pairs(p.latency.pairs),
              pace: latencyPace(p),
              durationMs: p.latency.durationMs,
              warmupMs: p.latency.warmupMs,
              workers: p.workers,
            }));
        }
        if (only.has("capacity")) {
          m.capacity[target] = await attempt(`capacity ${target}`, () =>
            runSessions({
              target,
              endpoints: Array.from({ length: p.capacity.baselineSessions }, (_, i) => ep(i + 1)),
              procs: [b.proc],
              owner: () => 0,
              holdMs: Math.min(p.capacity.holdMs, 5_000),
            }));
        }
        await b.close();
        closers.pop();
      }
    }

    // --- Parley on MySQL + Redis ---
    const clusterScenarios = ["throughput", "crossnode", "latency", "capacity", "login"];
    if (clusterScenarios.some((s) => only.has(s))) {
      const users = allocator();
      const thr = users.take(2 * p.throughput.pairs);
      const cross = users.take(2 * p.throughput.pairs);
      const lat = users.take(2 * p.latency.pairs);
      const warm = users.take(30 * p.capacity.nodes);
      const cap = users.take(p.capacity.sessions);
      const logins = users.take(p.login.users);
      const nodes = only.has("capacity") ? p.capacity.nodes : 2;
      const friends = [...asPairs(thr), ...asPairs(cross), ...asPairs(lat)];
      const cluster = await attempt(
        `start Parley (mysql+redis, ${nodes} chat nodes, ${users.used} users)`,
        () =>
          startCluster({ backend: "mysql+redis", chatNodes: nodes, users: users.used, friends }),
      );
      if (cluster) {
        closers.push(cluster.close);
        const pairsOn = async (list: number[], fromNode: number, toNode: number) => {
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
        };
        if (only.has("capacity")) {
          m.capacity.parley = await attempt(
            `capacity Parley (${cap.length} sessions on ${nodes} nodes)`,
            async () => {
              await parleySessions(cluster, warm, 0); // first sessions load code and warm caches
              return await parleySessions(cluster, cap, p.capacity.holdMs);
            },
          );
        }
        if (only.has("throughput")) {
          m.throughput.parley = await attempt(
            "throughput Parley (mysql+redis, one node)",
            async () =>
              runMessages({
                target: "parley",
                pairs: await pairsOn(thr, 0, 0),
                pace: { type: "closed", window: p.throughput.window },
                durationMs: p.throughput.durationMs,
                warmupMs: p.throughput.warmupMs,
                workers: p.workers,
              }),
          );
        }
        if (only.has("crossnode")) {
          m.crossnode = await attempt(
            "cross-node Parley (node 1 → node 2)",
            async () =>
              runMessages({
                target: "parley",
                pairs: await pairsOn(cross, 0, 1),
                pace: { type: "closed", window: p.throughput.window },
                durationMs: p.throughput.durationMs,
                warmupMs: p.throughput.warmupMs,
                workers: p.workers,
              }),
          );
        }
        if (only.has("latency")) {
          m.latency.parley = await attempt("latency Parley (one node)", async () =>
            runMessages({
              target: "parley",
              pairs: await pairsOn(lat, 0, 0),
              pace: latencyPace(p),
              durationMs: p.latency.durationMs,
              warmupMs: p.latency.warmupMs,
              workers: p.workers,
            }));
        }
        if (only.has("login")) {
          m.login = await attempt("login storm", () =>
            runLogins({
              gateUrl: cluster.gateUrl,
              users: logins.map((n) => ({ login: cluster.loginOf(n), password: BENCH_PASSWORD })),
              concurrency: p.login.concurrency,
              durationMs: p.login.durationMs,
            }));
          m.kdfPerSecond = await attempt(
            "KDF alone",
            () => runKdf(p.login.concurrency, p.login.durationMs),
          );
        }
        await cluster.close();
        closers.pop();
      }
    }

    // --- Parley on SQLite + memory (every role in one process) ---
    if (only.has("sqlite")) {
      const thr = Array.from({ length: 2 * p.throughput.pairs }, (_, i) => i + 1);
      const cluster = await attempt(
        "start Parley (sqlite+memory, one process)",
        () =>
          startCluster({
            backend: "sqlite+memory",
            chatNodes: 1,
            users: thr.length,
            friends: asPairs(thr),
          }),
      );
      if (cluster) {
        closers.push(cluster.close);
        m.throughputSqlite = await attempt("throughput Parley (sqlite+memory)", async () => {
          const tokens = await cluster.tokens(thr);
          const ep = (i: number): Endpoint => ({
            user: cluster.userIds[thr[i] - 1],
            url: cluster.nodes[0].url,
            token: tokens[i],
          });
          return await runMessages({
            target: "parley",
            pairs: Array.from({ length: p.throughput.pairs }, (_, k) => ({
              from: ep(2 * k),
              to: ep(2 * k + 1),
            })),
            pace: { type: "closed", window: p.throughput.window },
            durationMs: p.throughput.durationMs,
            warmupMs: p.throughput.warmupMs,
            workers: p.workers,
          });
        });
        await cluster.close();
        closers.pop();
      }
    }
  } finally {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  return m;
}

function latencyPace(p: Profile) {
  return { type: "open" as const, ratePerPair: p.latency.rate / p.latency.pairs, maxInFlight: 64 };
}

/** Holds authenticated idle sessions for `users`, spread round robin over the chat nodes. */
async function parleySessions(cluster: Cluster, users: number[], holdMs: number) {
  const tokens = await cluster.tokens(users);
  const n = cluster.nodes.length;
  return await runSessions({
    target: "parley",
    endpoints: users.map((u, i) => ({
      user: cluster.userIds[u - 1],
      url: cluster.nodes[i % n].url,
      token: tokens[i],
    })),
    procs: cluster.nodes.map((node) => node.proc),
    owner: (i) => i % n,
    holdMs,
  });
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      full: { type: "boolean" },
      smoke: { type: "boolean" },
      only: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      `Usage: deno task bench [--full | --smoke] [--only ${SCENARIOS.join(",")}] [--out FILE]\n` +
        `Quick pass by default (< 3 min); --full for the long one; --smoke checks the bench itself.`,
    );
    return 0;
  }
  const only = new Set(values.only ? values.only.split(",").map((s) => s.trim()) : SCENARIOS);
  for (const s of only) {
    if (!SCENARIOS.includes(s)) {
      console.error(`bench: unknown scenario "${s}" (expected ${SCENARIOS.join(", ")})`);
      return 2;
    }
  }
  const profile = values.full ? FULL : values.smoke ? SMOKE : QUICK;
  const startedAt = new Date();
  const errors: string[] = [];
  const t0 = performance.now();
  const measured = await runBench(profile, only, errors);
  const rows: Row[] = buildRows(measured);
  const host = await machine();
  const seconds = (performance.now() - t0) / 1000;

  console.log(
    `\nParley bench (${profile.name} pass, ${seconds.toFixed(0)} s) on ${host.cpu}, ` +
      `${host.cores} cores, ${host.memGb} GB, deno ${host.deno}, node ${host.node}\n`,
  );
  console.log(formatTable(rows));
  if (errors.length) console.log(`\nErrors:\n- ${errors.join("\n- ")}`);
  const out = values.out ?? new URL("./results/latest.json", import.meta.url).pathname;
  await Deno.mkdir(out.replace(/\/[^/]*$/, ""), { recursive: true });
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      { startedAt, seconds, profile, machine: host, rows, measured, errors },
      null,
      2,
    ) + "\n",
  );
  console.log(`\nWritten to ${out}`);
  return errors.length ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
