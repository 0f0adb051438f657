import { ok, strictEqual } from "node:assert/strict";
import { startRelay } from "../relay_deno.ts";
import type { MessagesJob, MessagesResult } from "./jobs.ts";
import { goSoon, runWorkers, sourceAddresses } from "./pool.ts";

/**
 * A relay that misbehaves on purpose: it acks every message but drops some,
 * sends some twice, and holds some back until the next one has gone out.
 */
function faultyRelay() {
  const sockets = new Map<number, WebSocket>();
  const held = new Map<number, string>();
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const user = Number(new URL(req.url).searchParams.get("user"));
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onopen = () => sockets.set(user, socket);
    socket.onmessage = (e) => {
      const f = JSON.parse(e.data);
      const out = JSON.stringify({ type: "msg", from: user, text: f.text, seq: f.seq, t: f.t });
      const peer = sockets.get(f.to)!;
      socket.send(JSON.stringify({ type: "ack", seq: f.seq }));
      if (f.seq % 10 === 3) return; // lost
      if (f.seq % 10 === 6) {
        held.set(f.to, out); // sent after the next one: out of order
        return;
      }
      peer.send(out);
      if (f.seq % 10 === 8) peer.send(out); // duplicate
      const late = held.get(f.to);
      if (late) {
        held.delete(f.to);
        peer.send(late);
      }
    };
    return response;
  });
  return { url: `ws://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

function job(url: string, worker: number): MessagesJob {
  return {
    kind: "messages",
    target: "relay",
    tag: `t${worker}`,
    pairs: [1, 3].map((u) => ({
      from: { user: u + 10 * worker, url },
      to: { user: u + 1 + 10 * worker, url },
    })),
    localAddresses: sourceAddresses(worker, 2),
    pace: { type: "closed", window: 1 },
    durationMs: 400,
    warmupMs: 0,
    graceMs: 300,
    textBytes: 60,
    connectConcurrency: 4,
  };
}

Deno.test("runWorkers() drives a relay from two worker processes with no faults", async () => {
  const relay = startRelay({ hostname: "0.0.0.0" });
  try {
    const url = `ws://127.0.0.1:${relay.port}`;
    const results = await runWorkers(
      [job(url, 0), job(url, 1)],
      () => goSoon(200),
    ) as MessagesResult[];
    for (const r of results) {
      ok(r.sent > 10, `only ${r.sent} sent`);
      strictEqual(r.acked, r.sent);
      strictEqual(r.delivered, r.sent);
      ok(r.deliveredInWindow > 0 && r.latency.n > 0);
      strictEqual(
        r.faults.lost + r.faults.duplicate + r.faults.outOfOrder + r.faults.unexpected,
        0,
      );
    }
  } finally {
    await relay.close();
  }
});

Deno.test("the receivers count what a faulty relay lost, duplicated and reordered", async () => {
  const relay = faultyRelay();
  try {
    const [r] = await runWorkers([job(relay.url, 0)], () => goSoon(200)) as MessagesResult[];
    ok(r.sent >= 20, `only ${r.sent} sent`);
    ok(r.faults.lost >= 2, `lost ${r.faults.lost}`);
    ok(r.faults.duplicate >= 2, `duplicate ${r.faults.duplicate}`);
    ok(r.faults.outOfOrder >= 2, `out of order ${r.faults.outOfOrder}`);
    strictEqual(r.faults.unexpected, 0);
  } finally {
    await relay.close();
  }
});
