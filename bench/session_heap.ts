/**
 * What one idle session costs a chat node's JS heap, without sockets or
 * clients in the way: a node's sessions (server/chat/_test_node.ts, on
 * SQLite and Redis with cluster routing, as a bench node routes) logged in
 * over minimal connections that drop what is sent, then the heap after a
 * full collection, before and after, divided by the sessions. With
 * `--snapshot`, it also compares heap snapshots by constructor: what each
 * session holds, in bytes and objects per session.
 *
 * `deno run -A --v8-flags=--expose-gc bench/session_heap.ts [N] [--snapshot]`
 */
import v8 from "node:v8";
import { freshRedis } from "../testing/mod.ts";
import { Session } from "../server/chat/session.ts";
import type { Conn } from "../server/chat/transport.ts";
import { startTestNode } from "../server/chat/_test_node.ts";
import { signToken } from "../server/tokens.ts";

/** A connection that takes what the session sends and drops it. */
const nullConn = (): Conn => ({
  send() {},
  close() {},
  buffered: () => 0,
  pause() {},
  resume() {},
});

type Census = Map<string, { bytes: number; count: number }>;

/** Self sizes summed by node type and name (constructor, closure name) from a snapshot file. */
async function census(file: string): Promise<Census> {
  const snap = JSON.parse(await Deno.readTextFile(file));
  const f: string[] = snap.snapshot.meta.node_fields;
  const types: string[] = snap.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ["type", "name", "self_size"].map((k) => f.indexOf(k));
  const out: Census = new Map();
  const nodes: number[] = snap.nodes;
  for (let i = 0; i < nodes.length; i += f.length) {
    const type = types[nodes[i + iType]];
    const name = type === "object" || type === "closure" ? snap.strings[nodes[i + iName]] : "";
    const key = `${type}${name ? ` ${name}` : ""}`;
    const e = out.get(key) ?? { bytes: 0, count: 0 };
    e.bytes += nodes[i + iSize];
    e.count++;
    out.set(key, e);
  }
  await Deno.remove(file);
  return out;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function main(): Promise<void> {
  const n = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 2000);
  const snapshot = Deno.args.includes("--snapshot");
  if (!(globalThis as { gc?: unknown }).gc) throw new Error("run with --v8-flags=--expose-gc");
  const node = await startTestNode({
    routing: "cluster",
    engineUrl: freshRedis().url,
    chat: { heartbeatMs: 600_000, maxUnauthenticated: 1_000_000 },
  });
  const sessions: Session[] = [];
  try {
    const open = async (count: number) => {
      const tokens: string[] = [];
      for (let i = 0; i < count; i++) {
        const u = await node.user(`u${sessions.length + i}_${crypto.randomUUID().slice(0, 8)}`);
        tokens.push((await signToken(node.ctx.config.jwtSecret, u.id, 3600)).token);
      }
      const started = tokens.map((token) => {
        const s = new Session(node.ctx, nullConn(), { token });
        node.sockets.add(s);
        s.onOpen();
        sessions.push(s);
        return s;
      });
      // Logged in, synced and past the head check the login schedules.
      while (started.some((s) => s.phase !== "live")) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 3000));
    };
    await open(200); // code loaded, caches and pools warm
    await node.ctx.cursors.flush();
    gc();
    const before = Deno.memoryUsage().heapUsed;
    const before0 = snapshot ? await census(v8.writeHeapSnapshot()) : undefined;
    await open(n);
    await node.ctx.cursors.flush();
    gc();
    const after = Deno.memoryUsage().heapUsed;
    console.log(`${n} sessions: heap ${((after - before) / n).toFixed(0)} bytes/session`);
    if (before0) {
      const after0 = await census(v8.writeHeapSnapshot());
      const rows = [...after0].map(([k, v]) => {
        const b = before0.get(k) ?? { bytes: 0, count: 0 };
        return { k, bytes: (v.bytes - b.bytes) / n, count: (v.count - b.count) / n };
      }).filter((r) => r.bytes > 8).sort((a, b) => b.bytes - a.bytes);
      for (const r of rows.slice(0, 40)) {
        console.log(
          `${r.bytes.toFixed(0).padStart(7)} B ${r.count.toFixed(2).padStart(7)} x ${r.k}`,
        );
      }
    }
  } finally {
    await node.close();
  }
}

if (import.meta.main) await main();
