/**
 * Test-only: the parts a Router talks to, standing in for sessions and for
 * the gRPC link to other nodes, recording what they were asked to do.
 */
import type { DeliverItem, NodeKickRequest } from "../../proto/services.ts";
import type { ServerEvent } from "../../proto/protocol.ts";
import type { LocalSession, SeqItem } from "./local_sessions.ts";
import type { DeliverOutcome } from "./peers.ts";
import type { NodeLink } from "./route_cluster.ts";

/** A session that records what reached it. */
export class RecordingSession implements LocalSession {
  readonly got: (ServerEvent | string)[] = [];
  /** The inbox places of the messages among them. */
  readonly items: SeqItem[] = [];
  kicked: { reason: string; replaced: boolean } | null = null;

  constructor(readonly userId: number, readonly id = `s-${userId}`) {}

  deliver(frame: ServerEvent | string, item?: SeqItem): boolean {
    if (this.kicked) return false;
    this.got.push(frame);
    if (item) this.items.push(item);
    return true;
  }

  kick(reason: string, replaced: boolean): void {
    this.kicked = { reason, replaced };
  }
}

/** A link to other nodes that records calls; `outcome` decides each Deliver's outcome. */
export class RecordingLink implements NodeLink {
  readonly delivers: { addr: string; item: DeliverItem }[] = [];
  readonly kicks: { addr: string; req: NodeKickRequest }[] = [];
  retained: Set<string> | null = null;
  closed = false;

  constructor(
    public outcome: (addr: string, item: DeliverItem) => DeliverOutcome = () => "delivered",
  ) {}

  deliver(addr: string, item: DeliverItem): Promise<DeliverOutcome> {
    this.delivers.push({ addr, item });
    return Promise.resolve(this.outcome(addr, item));
  }

  room(): undefined {
    return undefined;
  }

  kick(addr: string, req: NodeKickRequest): Promise<boolean> {
    this.kicks.push({ addr, req });
    return Promise.resolve(true);
  }

  retain(addrs: Set<string>): void {
    this.retained = addrs;
  }

  closeAll(): void {
    this.closed = true;
  }
}
