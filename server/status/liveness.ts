/**
 * Finds a chat node that died within a fraction of a second instead of
 * after its heartbeat TTL. Status keeps one bare gRPC connection to every
 * live node and watches it. When a node's process ends (a crash, SIGKILL,
 * the OOM killer) its kernel closes that connection at once; status then
 * dials again, and if the node's port refuses (or does not answer within
 * PROBE_MS), the run it watched is removed from the registry and its
 * presence cleared, as the sweep does when a TTL runs out. Logins stop
 * going there as soon as the record is gone.
 *
 * Why the connection and not a shorter lease: load does not trip it. A
 * node whose event loop is stalled (a long GC, a burst of logins on a
 * shared core) keeps its TCP connections, and its kernel accepts new ones;
 * only a closed port or an unreachable host fails the probe. A lease short
 * enough to notice a death in 2 s would expire during such a stall and
 * clear every session's presence of a node that is alive. A host that
 * vanishes without closing its connections (power loss, a partition) is
 * still left to the TTL (and to keepalive pings, after ~50 s).
 */
import type { TlsConfig } from "../config.ts";
import type { Engine } from "../engine/types.ts";
import type { Logger } from "../log.ts";
import { type NodeRecord, removeNodeIfStarted } from "../engine/nodes.ts";
import { clearNodePresence } from "../engine/presence.ts";
import { type PeerWatch, watchPeer } from "../../proto/peer_watch.ts";

/** How long a node whose connection dropped has to accept a new one. */
export const PROBE_MS = 1000;

export interface LivenessOptions {
  engine: Engine;
  log: Logger;
  tls: TlsConfig | null;
  /** Told when a node was found dead and removed (for tests and metrics). */
  onDead?: (node: NodeRecord) => void;
}

interface Watched {
  rec: NodeRecord;
  peer: PeerWatch;
}

export class LivenessWatcher {
  /** By node name: the run (startedAt) being watched. */
  #watched = new Map<string, Watched>();
  #closed = false;

  constructor(readonly options: LivenessOptions) {}

  /** Starts watching `rec` (a newly registered run); a previous run of that name is let go. */
  watch(rec: NodeRecord): void {
    if (this.#closed) return;
    const cur = this.#watched.get(rec.name);
    if (cur?.rec.startedAt === rec.startedAt && cur.rec.grpcAddr === rec.grpcAddr) return;
    cur?.peer.close();
    const w: Watched = { rec, peer: watchPeer(rec.grpcAddr, { tls: this.options.tls }) };
    this.#watched.set(rec.name, w);
    this.#run(w).catch((e) => this.options.log.error("liveness watch failed", { error: e }))
      .finally(() => {
        w.peer.close();
        if (this.#watched.get(rec.name) === w) this.#watched.delete(rec.name);
      });
  }

  /** Watches exactly `live` (from a sweep): new runs are added, nodes that left are let go. */
  sync(live: NodeRecord[]): void {
    const names = new Set(live.map((n) => n.name));
    for (const [name, w] of this.#watched) {
      if (!names.has(name)) {
        w.peer.close();
        this.#watched.delete(name);
      }
    }
    for (const rec of live) this.watch(rec);
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#watched.values()) w.peer.close();
    this.#watched.clear();
  }

  #current(w: Watched): boolean {
    return !this.#closed && this.#watched.get(w.rec.name) === w;
  }

  async #run(w: Watched): Promise<void> {
    const { peer } = w;
    // Judge only a node that was reachable: one status never reached (a
    // firewall, a wrong grpc_addr) is left to the heartbeat TTL.
    while (this.#current(w) && peer.state() !== "ready") {
      await peer.next(peer.state(), 5000);
    }
    while (this.#current(w)) {
      if (peer.state() === "ready") {
        await peer.next("ready", 60_000);
        continue;
      }
      // The connection is gone: the process died, or only the connection
      // did (an idle timeout). A live node accepts the next one.
      if (await this.#reachable(peer)) continue;
      if (!this.#current(w)) return;
      await this.#dead(w.rec);
      return;
    }
  }

  async #reachable(peer: PeerWatch): Promise<boolean> {
    const deadline = Date.now() + PROBE_MS;
    for (;;) {
      const s = peer.state();
      if (s === "ready") return true;
      if (s === "failed") return false;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await peer.next(s, left);
    }
  }

  async #dead(rec: NodeRecord): Promise<void> {
    const { engine, log } = this.options;
    if (!(await removeNodeIfStarted(engine, rec.name, rec.startedAt))) return;
    const users = await clearNodePresence(engine, rec.name);
    log.warn("chat node unreachable after its connection dropped; removed", {
      node: rec.name,
      grpcAddr: rec.grpcAddr,
      users,
    });
    this.options.onDead?.(rec);
  }
}
