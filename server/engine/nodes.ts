/**
 * The chat-node registry the status role keeps: one hash "nodes" maps a
 * node's name to a JSON record with its addresses, load and last heartbeat.
 * A node is live while its heartbeat is at most `ttlMs` old; reading the
 * live set prunes the dead ones (compare-and-delete, so a heartbeat that
 * lands meanwhile is kept).
 */
import type { Engine } from "./types.ts";

export interface NodeRecord {
  name: string;
  /** Where clients open their WebSocket. */
  wsUrl: string;
  /** Where other roles reach the node's gRPC service (host:port). */
  grpcAddr: string;
  /** Open sessions at the last heartbeat. */
  sessions: number;
  startedAt: number;
  /** "draining" nodes keep their sessions but get no new logins. */
  state: "up" | "draining";
  heartbeatAt: number;
}

const KEY = "nodes";

function parse(raw: string | null): NodeRecord | null {
  if (raw === null) return null;
  try {
    const r = JSON.parse(raw);
    if (
      typeof r?.name === "string" && typeof r.wsUrl === "string" &&
      typeof r.grpcAddr === "string" && typeof r.sessions === "number" &&
      typeof r.startedAt === "number" && (r.state === "up" || r.state === "draining") &&
      typeof r.heartbeatAt === "number"
    ) return r as NodeRecord;
  } catch { /* malformed: treated as absent, and pruned by liveNodes() */ }
  return null;
}

const encode = (r: NodeRecord) =>
  JSON.stringify({
    name: r.name,
    wsUrl: r.wsUrl,
    grpcAddr: r.grpcAddr,
    sessions: r.sessions,
    startedAt: r.startedAt,
    state: r.state,
    heartbeatAt: r.heartbeatAt,
  });

/** Registers the node or replaces its record. */
export async function upsertNode(engine: Engine, rec: NodeRecord): Promise<void> {
  await engine.hset(KEY, rec.name, encode(rec));
}

/**
 * Records a heartbeat with the node's current load and state; false if the
 * node is not registered (it must register again). Two round trips (read,
 * write): a node heartbeats only for itself, so writers do not race, but a
 * heartbeat crossing a removeNode() can re-add the node until its TTL.
 */
export async function touchNode(
  engine: Engine,
  name: string,
  update: { sessions: number; state: "up" | "draining" },
  now = Date.now(),
): Promise<boolean> {
  const rec = parse(await engine.hget(KEY, name));
  if (!rec) return false;
  await engine.hset(KEY, name, encode({ ...rec, ...update, heartbeatAt: now }));
  return true;
}

export async function removeNode(engine: Engine, name: string): Promise<void> {
  await engine.hdel(KEY, name);
}

export async function getNode(engine: Engine, name: string): Promise<NodeRecord | null> {
  return parse(await engine.hget(KEY, name));
}

/** Nodes whose heartbeat is at most `ttlMs` old, by name; removes the others. */
export async function liveNodes(
  engine: Engine,
  ttlMs: number,
  now = Date.now(),
): Promise<NodeRecord[]> {
  const live: NodeRecord[] = [];
  const dead: Promise<boolean>[] = [];
  for (const [name, raw] of Object.entries(await engine.hgetall(KEY))) {
    const rec = parse(raw);
    if (rec && now - rec.heartbeatAt <= ttlMs) live.push(rec);
    else dead.push(engine.hdelIfEquals(KEY, name, raw));
  }
  await Promise.all(dead);
  return live.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The live "up" node with the fewest sessions, for a new login; null if
 * there is none. Ties go to the first name in sort order, so the choice is
 * deterministic. Loads are as of each node's last heartbeat: a burst of
 * logins between two heartbeats all lands on the same node unless the
 * caller accounts for the ones it has already handed out.
 */
export async function pickNode(
  engine: Engine,
  ttlMs: number,
  now = Date.now(),
): Promise<NodeRecord | null> {
  let best: NodeRecord | null = null;
  for (const n of await liveNodes(engine, ttlMs, now)) {
    if (n.state === "up" && (!best || n.sessions < best.sessions)) best = n;
  }
  return best;
}
