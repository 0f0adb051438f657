/**
 * Turns what a bench run measured into the table's rows, each beside the
 * target issue 5 sets for it.
 */
import type { Measured } from "./plan.ts";
import type { Row } from "./report.ts";
import type { MessageSummary } from "./scenarios.ts";

function faults(...runs: (MessageSummary | undefined)[]): string {
  const have = runs.filter((r): r is MessageSummary => !!r);
  if (!have.length) return "—";
  const f = have.reduce(
    (a, r) => ({
      lost: a.lost + r.faults.lost,
      dup: a.dup + r.faults.duplicate,
      ooo: a.ooo + r.faults.outOfOrder,
      other: a.other + r.unacked + r.closedEarly + r.faults.unexpected +
        Object.values(r.errors).reduce((s, v) => s + v, 0),
    }),
    { lost: 0, dup: 0, ooo: 0, other: 0 },
  );
  return `${f.lost}/${f.dup}/${f.ooo}${f.other ? ` (+${f.other} err)` : ""}`;
}

const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a != null && b != null && b > 0 ? a / b : null;
const at = (x: number | null | undefined) => x ?? null;

export function buildRows(m: Measured): Row[] {
  const rows: Row[] = [];
  const relayT = at(m.throughput.relay?.rate);
  const sioT = at(m.throughput.socketio?.rate);
  const durable = at(m.throughput.parley?.rate);
  const throughputRow = (scenario: string, parley: number | null, run?: MessageSummary): Row => {
    const r = ratio(parley, sioT);
    return {
      scenario,
      unit: "msg/s",
      parley,
      denoRelay: relayT,
      socketio: sioT,
      ratio: r,
      ratioOf: "Socket.IO",
      target: "≥ 1.0x Socket.IO",
      met: r === null ? null : r >= 1,
      faults: faults(run, m.throughput.relay, m.throughput.socketio),
      note: relayT && parley !== null
        ? `${(parley / relayT).toFixed(2)}x the Deno relay`
        : undefined,
    };
  };
  rows.push(throughputRow("throughput, 1 node, mysql+redis", durable, m.throughput.parley));
  if (m.throughputSqlite || m.throughput.parley === undefined) {
    rows.push(
      throughputRow("throughput, sqlite+memory", at(m.throughputSqlite?.rate), m.throughputSqlite),
    );
  }
  const cross = at(m.crossnode?.rate);
  const cr = ratio(cross, durable);
  rows.push({
    scenario: "cross-node, 2 nodes",
    unit: "msg/s",
    parley: cross,
    denoRelay: null,
    socketio: null,
    ratio: cr,
    ratioOf: "one node",
    target: "≥ 0.7x one node",
    met: cr === null ? null : cr >= 0.7,
    faults: faults(m.crossnode),
  });
  for (const q of ["p50", "p95", "p99", "max"] as const) {
    const v = (t: "parley" | "relay" | "socketio") => at(m.latency[t]?.latencyMs[q]);
    const r = ratio(v("parley"), v("relay"));
    rows.push({
      scenario: `latency ${q} @ 5,000 msg/s`,
      unit: "ms",
      parley: v("parley"),
      denoRelay: v("relay"),
      socketio: v("socketio"),
      ratio: r,
      ratioOf: "relay",
      target: q === "p99" ? "≤ 25 ms" : "",
      met: q === "p99" && v("parley") !== null ? v("parley")! <= 25 : null,
      faults: q === "p50" ? faults(m.latency.parley, m.latency.relay, m.latency.socketio) : "",
    });
  }
  const perSession = (t: "parley" | "relay" | "socketio") => {
    const c = m.capacity[t];
    return c ? Math.max(...c.processes.map((p) => p.kbPerSession)) : null;
  };
  const cap = m.capacity.parley;
  const capKb = perSession("parley");
  rows.push({
    scenario: cap
      ? `capacity, ${cap.sessions.toLocaleString("en-US")} sessions / ${cap.processes.length} nodes`
      : "capacity",
    unit: "KB/session",
    parley: capKb,
    denoRelay: perSession("relay"),
    socketio: perSession("socketio"),
    ratio: ratio(capKb, perSession("socketio")),
    ratioOf: "Socket.IO",
    target: "≤ 25 KB, all alive",
    met: cap && capKb !== null ? capKb <= 25 && cap.alive === cap.sessions : null,
    faults: cap ? `${cap.sessions - cap.alive} dropped` : "—",
  });
  const lr = ratio(m.login?.rate, m.kdfPerSecond);
  rows.push({
    scenario: "login storm (gate + welcome)",
    unit: "logins/s",
    parley: at(m.login?.rate),
    denoRelay: null,
    socketio: null,
    ratio: lr,
    ratioOf: `KDF (${m.kdfPerSecond?.toFixed(1) ?? "?"}/s)`,
    target: "≥ 0.8x KDF",
    met: lr === null ? null : lr >= 0.8,
    faults: m.login ? `${Object.values(m.login.errors).reduce((s, v) => s + v, 0)} failed` : "—",
  });
  return rows;
}
