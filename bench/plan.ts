/**
 * The sizes of a bench pass (smoke, quick, full) and the shape of what a
 * pass measured.
 */
import type { TargetKind } from "./load/clients.ts";
import type { ProfileSummary } from "./profile.ts";
import type { LoginSummary, MessageSummary, SessionsSummary } from "./scenarios.ts";

export interface Profile {
  name: "smoke" | "quick" | "full";
  /** Load worker processes for message runs. */
  workers: number;
  throughput: { pairs: number; window: number; durationMs: number; warmupMs: number };
  /** Open-loop runs, one per offered rate (msg/s), each pair sending `perPair` msg/s. */
  latency: { rates: number[]; perPair: number; durationMs: number; warmupMs: number };
  capacity: { sessions: number; nodes: number; baselineSessions: number; holdMs: number };
  login: { concurrency: number; durationMs: number; users: number };
}

export const QUICK: Profile = {
  name: "quick",
  workers: 2,
  throughput: { pairs: 100, window: 8, durationMs: 5_000, warmupMs: 1_000 },
  // 250 and 1,000 pairs at 20 msg/s each: people chatting, not a firehose.
  latency: { rates: [5_000, 20_000], perPair: 20, durationMs: 6_000, warmupMs: 1_000 },
  capacity: { sessions: 3_000, nodes: 3, baselineSessions: 1_000, holdMs: 10_000 },
  login: { concurrency: 8, durationMs: 6_000, users: 400 },
};

export const FULL: Profile = {
  name: "full",
  workers: 2,
  throughput: { pairs: 400, window: 8, durationMs: 30_000, warmupMs: 5_000 },
  latency: { rates: [5_000, 20_000], perPair: 20, durationMs: 30_000, warmupMs: 5_000 },
  capacity: { sessions: 50_000, nodes: 3, baselineSessions: 17_000, holdMs: 30_000 },
  login: { concurrency: 8, durationMs: 30_000, users: 2_000 },
};

/** A few seconds and a few sockets: checks the bench itself, measures nothing. */
export const SMOKE: Profile = {
  name: "smoke",
  workers: 2,
  throughput: { pairs: 10, window: 4, durationMs: 1_500, warmupMs: 300 },
  latency: { rates: [500, 2_000], perPair: 50, durationMs: 1_500, warmupMs: 300 },
  capacity: { sessions: 150, nodes: 3, baselineSessions: 100, holdMs: 1_500 },
  login: { concurrency: 2, durationMs: 2_000, users: 20 },
};

export const SCENARIOS = ["throughput", "sqlite", "crossnode", "latency", "capacity", "login"];

/** Sender/receiver pairs of the latency run at `rate` msg/s. */
export const latencyPairs = (p: Profile, rate: number): number =>
  Math.max(1, Math.round(rate / p.latency.perPair));

/** Everything measured, by key; what a run could not measure is absent. */
export interface Measured {
  throughput: Partial<Record<TargetKind, MessageSummary>>;
  throughputSqlite?: MessageSummary;
  crossnode?: MessageSummary;
  /** By offered rate (msg/s). */
  latency: Record<number, Partial<Record<TargetKind, MessageSummary>>>;
  capacity: Partial<Record<TargetKind, SessionsSummary>>;
  /** Parley with two sessions per user (two devices on two nodes). */
  capacityMulti?: SessionsSummary;
  login?: LoginSummary;
  kdfPerSecond?: number;
  /** scrypt (the KDF before Argon2id) alone: what the login rate was bounded by before. */
  scryptPerSecond?: number;
  /** MySQL's durability settings during the run. */
  mysql?: Record<string, string>;
  /** With --profile: CPU profiles of Parley's processes during each scenario. */
  profiles: { label: string; file: string; summary: ProfileSummary }[];
}
