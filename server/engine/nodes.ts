/**
 * The chat-node registry the status role keeps: one hash "nodes" maps a
 * node's name to a JSON record with its addresses, load and last heartbeat.
 * A node is live while its heartbeat is at most `ttlMs` old; reading the
 * live set prunes the dead ones (compare-and-delete, so a heartbeat that
 * lands meanwhile is kept). Also: the one least-loaded picker, and how
 * often each node has been restarted.
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
 * The one least-loaded picker: the "up" node with the fewest sessions plus
 * `extra(name)` (logins handed to it since its last heartbeat, which its
 * session count cannot show yet), ties to the first name so the choice is
 * deterministic; null if none takes logins. Used by status for a login and
 * by a draining chat node for where its clients should go.
 */
export function leastLoaded(
  nodes: NodeRecord[],
  options: { extra?: (name: string) => number; exclude?: string } = {},
): NodeRecord | null {
  let best: NodeRecord | null = null;
  let bestLoad = Infinity;
  for (const n of nodes) {
    if (n.state !== "up" || n.name === options.exclude) continue;
    const load = n.sessions + (options.extra?.(n.name) ?? 0);
    if (load < bestLoad || (load === bestLoad && best !== null && n.name < best.name)) {
      [best, bestLoad] = [n, load];
    }
  }
  return best;
}

/**
 * Removes the node's record only if it is still the run that started at
 * `startedAt`: a node found dead must not take a restarted node (same name,
 * new start time) with it. True if removed.
 */
export async function removeNodeIfStarted(
  engine: Engine,
  name: string,
  startedAt: number,
): Promise<boolean> {
  const raw = await engine.hget(KEY, name);
  const rec = parse(raw);
  if (raw === null || !rec || rec.startedAt !== startedAt) return false;
  return await engine.hdelIfEquals(KEY, name, raw);
}

// --- starts: how often each node name has been started, kept apart from the
// registry so that the count survives a node's removal ---

const STARTS_KEY = "node_starts";

export interface NodeStarts {
  /** Start time of the latest run. */
  startedAt: number;
  /** Runs after the first one. */
  restarts: number;
}

function parseStarts(raw: string | null | undefined): NodeStarts | null {
  if (!raw) return null;
  try {
    const r = JSON.parse(raw);
    if (typeof r?.startedAt === "number" && Number.isSafeInteger(r.restarts)) return r;
  } catch { /* malformed: counted from scratch */ }
  return null;
}

/**
 * Records that `name` registered with a run that started at `startedAt`;
 * a start time not seen before counts as a restart. Returns the restarts.
 */
export async function recordStart(
  engine: Engine,
  name: string,
  startedAt: number,
): Promise<number> {
  const prev = parseStarts(await engine.hget(STARTS_KEY, name));
  if (prev?.startedAt === startedAt) return prev.restarts;
  const restarts = prev ? prev.restarts + 1 : 0;
  await engine.hset(STARTS_KEY, name, JSON.stringify({ startedAt, restarts }));
  return restarts;
}

/** Every node name's start record. */
export async function nodeStarts(engine: Engine): Promise<Map<string, NodeStarts>> {
  const out = new Map<string, NodeStarts>();
  for (const [name, raw] of Object.entries(await engine.hgetall(STARTS_KEY))) {
    const s = parseStarts(raw);
    if (s) out.set(name, s);
  }
  return out;
}
