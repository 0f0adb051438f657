/**
 * The gate's Prometheus metrics (served at GET /metrics): HTTP requests by
 * route and status, request latency, and the account events an operator
 * watches (logins, registrations, codes requested).
 */
import { type Counter, type Histogram, Metrics } from "../metrics.ts";

export interface GateMetrics {
  registry: Metrics;
  requests: Counter<"method" | "route" | "status">;
  duration: Histogram<"method" | "route">;
  /** result: ok, failed (bad login or password), rate_limited. */
  logins: Counter<"result">;
  registrations: Counter;
  codes: Counter<"purpose">;
}

export function gateMetrics(registry = new Metrics({ labels: { role: "gate" } })): GateMetrics {
  return {
    registry,
    requests: registry.counter(
      "parley_gate_http_requests_total",
      "HTTP requests answered by the gate, by route and status.",
      ["method", "route", "status"],
    ),
    duration: registry.histogram(
      "parley_gate_http_request_duration_seconds",
      "Time from request to response at the gate.",
      ["method", "route"],
    ),
    logins: registry.counter(
      "parley_gate_logins_total",
      "Login attempts by result (ok, failed, rate_limited).",
      ["result"],
    ),
    registrations: registry.counter(
      "parley_gate_registrations_total",
      "Accounts created.",
    ),
    codes: registry.counter(
      "parley_gate_codes_requested_total",
      "Verification codes requested (and answered 202), by purpose.",
      ["purpose"],
    ),
  };
}
