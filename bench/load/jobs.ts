/**
 * What the coordinator (bench/load/pool.ts) and its worker processes
 * (bench/load/worker.ts) say to each other: one JSON object per line, the
 * job and commands on the worker's stdin, events on its stdout.
 */
import type { Endpoint, TargetKind } from "./clients.ts";
import type { Faults, HistogramData } from "./stats.ts";

/** Senders keep `window` messages unacked (closed loop), or send at a fixed rate (open loop). */
export type Pace =
  | { type: "closed"; window: number }
  | { type: "open"; ratePerPair: number; maxInFlight: number };

export interface MessagesJob {
  kind: "messages";
  target: TargetKind;
  /** Unique per run: prefixes texts and client ids, so a stale message is told apart. */
  tag: string;
  pairs: { from: Endpoint; to: Endpoint }[];
  localAddresses: string[];
  pace: Pace;
  durationMs: number;
  /** Deliveries and latencies before this are not counted. */
  warmupMs: number;
  /** After the last send: how long to wait for outstanding acks and deliveries. */
  graceMs: number;
  textBytes: number;
  connectConcurrency: number;
}

export interface SessionsJob {
  kind: "sessions";
  target: TargetKind;
  endpoints: Endpoint[];
  localAddresses: string[];
  connectConcurrency: number;
}

export interface LoginsJob {
  kind: "logins";
  gateUrl: string;
  users: { login: string; password: string }[];
  localAddresses: string[];
  concurrency: number;
  durationMs: number;
}

export type Job = MessagesJob | SessionsJob | LoginsJob;

export type Command =
  | { cmd: "go"; startAt: number }
  | { cmd: "stop" };

export interface MessagesResult {
  kind: "messages";
  sent: number;
  acked: number;
  /** Sent, never acked and never answered with an error. */
  unacked: number;
  errors: Record<string, number>;
  delivered: number;
  /** Deliveries inside the measured window (after warm-up, before the end). */
  deliveredInWindow: number;
  windowMs: number;
  latency: HistogramData;
  faults: Faults;
  closedEarly: number;
}

export interface SessionsResult {
  kind: "sessions";
  connected: number;
  /** Sessions that could not be opened, and the first one's error. */
  failed: number;
  firstError: string | null;
  /** Sessions that were still open when told to stop. */
  alive: number;
  closeCodes: Record<string, number>;
}

export interface LoginsResult {
  kind: "logins";
  completed: number;
  windowMs: number;
  errors: Record<string, number>;
  latency: HistogramData;
}

export type Result = MessagesResult | SessionsResult | LoginsResult;

export type WorkerEvent =
  | { event: "ready"; connected: number; failed: number; firstError: string | null }
  | { event: "result"; result: Result }
  | { event: "fatal"; message: string };

/** Splits a byte stream into lines of JSON. */
export async function* jsonLines<T>(stream: ReadableStream<Uint8Array>): AsyncGenerator<T> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line) as T;
    }
  }
  if (buf.trim()) yield JSON.parse(buf) as T;
}

/** Epoch milliseconds with sub-millisecond precision, comparable across processes. */
export const now = (): number => performance.timeOrigin + performance.now();

export function countInto(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}
