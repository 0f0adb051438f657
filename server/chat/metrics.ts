/**
 * The chat node's Prometheus metrics (served on /metrics): sessions,
 * frames, stored messages, deliveries across nodes, delivery latency and
 * kicks. One instance per running chat role.
 */
import { Metrics } from "../metrics.ts";

export function chatMetrics(node: string) {
  const m = new Metrics({ labels: { role: "chat", node } });
  return {
    registry: m,
    sessions: m.gauge("parley_chat_sessions", "Open authenticated sessions on this node"),
    unauthenticated: m.gauge(
      "parley_chat_unauthenticated_sockets",
      "Open sockets that have not authenticated yet",
    ),
    framesIn: m.counter("parley_chat_frames_in_total", "Frames received from clients", ["type"]),
    framesOut: m.counter("parley_chat_frames_out_total", "Frames sent to clients"),
    invalidFrames: m.counter(
      "parley_chat_invalid_frames_total",
      "Client frames rejected at the edge, by error code",
      ["code"],
    ),
    messagesStored: m.counter("parley_chat_messages_stored_total", "Messages stored (new ones)"),
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
