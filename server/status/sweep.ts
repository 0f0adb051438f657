/**
 * Keeps the registry honest: a periodic sweep that drops chat nodes whose
 * heartbeat expired and clears the presence records they held, so the users
 * of a node that was killed (no DeregisterNode) do not show as online, or
 * get messages routed to a dead node, forever.
 *
 * Each sweep compares the live nodes with those live at the previous sweep.
 * That misses nodes that died while no status role was running, so now and
 * then (and at the first sweep) it also scans presence for records pointing
 * to nodes that are not live.
 */
import type { Engine } from "../engine/types.ts";
import type { Logger } from "../log.ts";
import { getNode, liveNodes, type NodeRecord } from "../engine/nodes.ts";
import { clearNodePresence, listOnline } from "../engine/presence.ts";

export interface SweepResult {
  live: NodeRecord[];
  /** Nodes whose presence was cleared, with how many records each. */
  cleared: Record<string, number>;
}

export interface Sweeper {
  /** One sweep now; `fullScan` also looks for presence of nodes never seen live. */
  run(options?: { fullScan?: boolean }): Promise<SweepResult>;
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
}

const FULL_SCAN_EVERY_MS = 60_000;

/** Names of nodes that presence records point to but that are not in `live`. */
async function orphanNodes(engine: Engine, live: Set<string>): Promise<Set<string>> {
  const out = new Set<string>();
  let cursor = "0";
  do {
    const page = await listOnline(engine, { cursor, limit: 500 });
    for (const [, list] of page.entries) {
      for (const s of list) if (!live.has(s.node)) out.add(s.node);
    }
    cursor = page.cursor;
  } while (cursor !== "0");
  return out;
}

export function startSweeper(
  engine: Engine,
  options: {
    ttlMs: number;
    log: Logger;
    onLive?: (live: NodeRecord[]) => void;
    intervalMs?: number;
  },
): Sweeper {
  const { ttlMs, log } = options;
  const intervalMs = options.intervalMs ?? Math.max(250, Math.min(5000, Math.floor(ttlMs / 2)));
  let known = new Set<string>();
  let lastFullScan = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;

  async function sweep(fullScan: boolean): Promise<SweepResult> {
    const now = Date.now();
    const live = await liveNodes(engine, ttlMs, now);
    const liveNames = new Set(live.map((n) => n.name));
    const dead = new Set([...known].filter((n) => !liveNames.has(n)));
    if (fullScan) {
      for (const n of await orphanNodes(engine, liveNames)) dead.add(n);
      lastFullScan = now;
    }
    const cleared: Record<string, number> = {};
    for (const name of dead) {
      // It may have registered again since liveNodes() was read.
      const rec = await getNode(engine, name);
      if (rec && Date.now() - rec.heartbeatAt <= ttlMs) continue;
      cleared[name] = await clearNodePresence(engine, name);
      log.warn("chat node expired; its presence was cleared", { node: name, users: cleared[name] });
    }
    known = liveNames;
    options.onLive?.(live);
    return { live, cleared };
  }

  function run(o: { fullScan?: boolean } = {}): Promise<SweepResult> {
    // One sweep at a time: a slow one is not overlapped by the next.
    const next = running.then(() => sweep(o.fullScan ?? false));
    running = next.catch(() => {});
    return next;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(async () => {
      try {
        await run({ fullScan: Date.now() - lastFullScan >= FULL_SCAN_EVERY_MS });
      } catch (e) {
        log.error("node sweep failed", { error: e });
      }
      schedule();
    }, intervalMs);
    // Housekeeping must not keep a finished process alive.
    Deno.unrefTimer(timer);
  }
  schedule();

  return {
    run,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
