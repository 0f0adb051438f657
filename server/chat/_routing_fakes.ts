/**
 * Test-only: the parts a Router talks to, standing in for sessions and for
 * the gRPC link to other nodes, recording what they were asked to do.
 */
import type { DeliverItem, NodeKickRequest } from "../../proto/services.ts";
import type { ServerEvent } from "../../proto/protocol.ts";
import type { LocalSession } from "./local_sessions.ts";
import type { NodeLink } from "./route_cluster.ts";

/** A session that records what reached it. */
export class RecordingSession implements LocalSession {
  readonly got: (ServerEvent | string)[] = [];
  kicked: { reason: string; replaced: boolean } | null = null;

  constructor(readonly userId: number, readonly id = `s-${userId}`) {}

  deliver(frame: ServerEvent | string): boolean {
    if (this.kicked) return false;
    this.got.push(frame);
    return true;
  }

  kick(reason: string, replaced: boolean): void {
    this.kicked = { reason, replaced };
  }
}

/** A link to other nodes that records calls; `delivered` decides each Deliver's outcome. */
export class RecordingLink implements NodeLink {
  readonly delivers: { addr: string; item: DeliverItem }[] = [];
  readonly kicks: { addr: string; req: NodeKickRequest }[] = [];
  retained: Set<string> | null = null;
  closed = false;

  constructor(public delivered: (addr: string, item: DeliverItem) => boolean = () => true) {}

  deliver(addr: string, item: DeliverItem): Promise<boolean> {
    this.delivers.push({ addr, item });
    return Promise.resolve(this.delivered(addr, item));
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
