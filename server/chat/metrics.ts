/**
 * The chat node's Prometheus metrics (served on /metrics): sessions,
 * frames, stored messages, deliveries across nodes, delivery latency and
 * kicks. One instance per running chat role.
 */
import { type Counter, Metrics } from "../metrics.ts";

/**
 * A counter bumped for every frame: plain additions here, handed to
 * prom-client (whose inc() hashes and validates labels each call) when the
 * metrics are read. `inc()` takes the counter's one label, or none.
 */
export class Tally<L extends string = never> {
  #counts = new Map<string, number>();

  constructor(readonly counter: Counter<L>, readonly label?: L) {
    (counter as unknown as { collect: () => void }).collect = () => this.#flush();
  }

  inc(labels?: Partial<Record<L, string>>): void {
    const key = this.label && labels ? labels[this.label] ?? "" : "";
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  #flush(): void {
    for (const [key, n] of this.#counts) {
      if (this.label) this.counter.inc({ [this.label]: key } as Partial<Record<L, string>>, n);
      else this.counter.inc(n);
    }
    this.#counts.clear();
  }
}

export function chatMetrics(node: string) {
  const m = new Metrics({ labels: { role: "chat", node } });
  return {
    registry: m,
    sessions: m.gauge("parley_chat_sessions", "Open authenticated sessions on this node"),
    unauthenticated: m.gauge(
      "parley_chat_unauthenticated_sockets",
      "Open sockets that have not authenticated yet",
    ),
    framesIn: new Tally(
      m.counter("parley_chat_frames_in_total", "Frames received from clients", ["type"]),
      "type",
    ),
    framesOut: new Tally(m.counter("parley_chat_frames_out_total", "Frames sent to clients")),
    invalidFrames: m.counter(
      "parley_chat_invalid_frames_total",
      "Client frames rejected at the edge, by error code",
      ["code"],
    ),
    messagesStored: new Tally(
      m.counter("parley_chat_messages_stored_total", "Messages stored (new ones)"),
    ),
    crossNode: m.counter(
      "parley_chat_cross_node_deliveries_total",
      "Events sent to other chat nodes over gRPC Deliver, by outcome",
      ["result"],
    ),
    deliveryLatency: m.histogram(
      "parley_chat_delivery_latency_seconds",
      "From a message being stored to it being pushed to the recipient's session",
      ["path"],
    ),
    kicks: m.counter("parley_chat_kicks_total", "Sessions ended by a newer login or an admin", [
      "where",
    ]),
    closes: m.counter("parley_chat_closes_total", "Sockets closed, by close code", ["code"]),
  };
}

export type ChatMetrics = ReturnType<typeof chatMetrics>;
