/**
 * The in-process Router: every session is on this node, so routing is a
 * lookup in LocalSessions and needs neither presence nor gRPC. Used in the
 * single-process mode (the memory engine cannot be shared with another
 * process, so no other chat node can exist) and by unit tests. The cluster
 * router uses `pushLocal()` too, for users connected to its own node.
 */
import type { ServerEvent } from "../../proto/protocol.ts";
import type { ChatMetrics } from "./metrics.ts";
import type { LocalSessions } from "./local_sessions.ts";
import type { DeliverOptions, KickRequest, Router } from "./router.ts";

const DONE = Promise.resolve();

type Metrics = Pick<ChatMetrics, "deliveryLatency" | "kicks">;

export function observeDelivery(metrics: Metrics, path: string, sentAt: number): void {
  metrics.deliveryLatency.observe({ path }, Math.max(0, Date.now() - sentAt) / 1000);
}

/** Pushes to the user's session on this node; false if there is none (or it is gone). */
export function pushLocal(
  sessions: LocalSessions,
  metrics: Metrics,
  userId: number,
  frame: ServerEvent | string,
  options?: DeliverOptions,
): boolean {
  const s = sessions.get(userId);
  if (!s || !s.deliver(frame)) return false;
  if (options?.sentAt !== undefined) observeDelivery(metrics, "local", options.sentAt);
  return true;
}

/** Ends the user's session on this node if it matches `request`; true if it did. */
export function kickLocal(
  sessions: LocalSessions,
  metrics: Metrics,
  userId: number,
  request: KickRequest,
): boolean {
  const s = sessions.get(userId);
  if (!s || (request.session !== undefined && s.id !== request.session)) return false;
  metrics.kicks.inc({ where: "local" });
  s.kick(request.reason, request.replaced);
  return true;
}

export class InProcessRouter implements Router {
  constructor(readonly sessions: LocalSessions, readonly metrics: Metrics) {}

  deliver(userId: number, frame: ServerEvent | string, options?: DeliverOptions): Promise<void> {
    pushLocal(this.sessions, this.metrics, userId, frame, options);
    return DONE;
  }

  deliverMany(userIds: number[], frame: ServerEvent): Promise<void> {
    for (const id of userIds) pushLocal(this.sessions, this.metrics, id, frame);
    return DONE;
  }

  online(userIds: number[]): Promise<Set<number>> {
    return Promise.resolve(new Set(userIds.filter((id) => this.sessions.get(id) !== undefined)));
  }

  kick(userId: number, request: KickRequest): Promise<boolean> {
    return Promise.resolve(kickLocal(this.sessions, this.metrics, userId, request));
  }

  close(): void {}
}
