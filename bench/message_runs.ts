/**
 * The message runs of a pass, as its profile sets them: the closed loop
 * that measures throughput, the open loop at a fixed rate that measures
 * latency, and the processes whose CPU each run accounts per message.
 */
import type { Endpoint } from "./load/clients.ts";
import type { Pace } from "./load/jobs.ts";
import { type CpuWatch, servicePids } from "./cpu.ts";
import type { Profile } from "./plan.ts";
import type { Proc } from "./procs.ts";
import { runMessages } from "./scenarios.ts";

export type Pairs = { from: Endpoint; to: Endpoint }[];

const closedLoop = (p: Profile): Pace => ({ type: "closed", window: p.throughput.window });
const openLoop = (p: Profile): Pace => ({
  type: "open",
  ratePerPair: p.latency.perPair,
  maxInFlight: 64,
});

type Target = "parley" | "relay" | "socketio";

export function throughputRun(p: Profile, target: Target, pairs: Pairs, cpu: CpuWatch[]) {
  return runMessages({
    target,
    pairs,
    pace: closedLoop(p),
    durationMs: p.throughput.durationMs,
    warmupMs: p.throughput.warmupMs,
    workers: p.workers,
    cpu,
  });
}

export function latencyRun(p: Profile, target: Target, pairs: Pairs, cpu: CpuWatch[]) {
  return runMessages({
    target,
    pairs,
    pace: openLoop(p),
    durationMs: p.latency.durationMs,
    warmupMs: p.latency.warmupMs,
    workers: p.workers,
    cpu,
  });
}

/** The processes a run's CPU is accounted to: `procs` by name, and the local MySQL and Redis. */
export async function cpuWatch(procs: Proc[], services = true): Promise<CpuWatch[]> {
  const own = procs.map((pr) => ({ name: pr.name, pid: pr.pid }));
  return services ? [...own, ...await servicePids()] : own;
}
