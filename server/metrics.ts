/**
 * Prometheus metrics shared by the roles that serve HTTP (gate, chat): a
 * thin layer over npm:prom-client that gives each role instance its own
 * registry, so that several roles (or several copies of one role in a
 * test) can live in one process without their metric names clashing, and
 * renders it in the Prometheus text format for a `/metrics` endpoint.
 */
import client from "prom-client";

export type Counter<L extends string = string> = client.Counter<L>;
export type Gauge<L extends string = string> = client.Gauge<L>;
export type Histogram<L extends string = string> = client.Histogram<L>;

/** Seconds; from 1 ms to 10 s, fine-grained where HTTP and gRPC calls usually land. */
export const LATENCY_BUCKETS = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

export interface MetricsOptions {
  /** Labels added to every series, e.g. `{ role: "gate" }`. */
  labels?: Record<string, string>;
}

/** One registry of metrics. Asking twice for the same name returns the same metric. */
export class Metrics {
  readonly registry: client.Registry;

  constructor(options: MetricsOptions = {}) {
    this.registry = new client.Registry();
    if (options.labels) this.registry.setDefaultLabels(options.labels);
  }

  counter<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
  ): Counter<L> {
    return this.#existing(name, "counter") as Counter<L> | undefined ??
      new client.Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
  ): Gauge<L> {
    return this.#existing(name, "gauge") as Gauge<L> | undefined ??
      new client.Gauge<L>({ name, help, labelNames, registers: [this.registry] });
  }

  histogram<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets: number[] = LATENCY_BUCKETS,
  ): Histogram<L> {
    return this.#existing(name, "histogram") as Histogram<L> | undefined ??
      new client.Histogram<L>({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  /** The Content-Type header for `text()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text exposition format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  #existing(name: string, type: string): unknown {
    const m = this.registry.getSingleMetric(name);
    if (!m) return undefined;
    // prom-client sets `type` on every metric but leaves it out of its typings.
    const actual = (m as unknown as { type?: string }).type;
    if (actual !== type) throw new Error(`metric ${name} already registered as a ${actual}`);
    return m;
  }
}
