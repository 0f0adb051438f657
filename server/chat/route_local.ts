/**
 * The in-process Router: every session is on this node, so routing is a
 * lookup in LocalSessions and needs neither presence nor gRPC. Used in the
 * single-process mode (the memory engine cannot be shared with another
 * process, so no other chat node can exist) and by unit tests. The cluster
 * router uses `pushLocal()` and `kickLocal()` too, for its own sessions.
 */
import type { ServerEvent } from "../../proto/protocol.ts";
import type { PresenceSession } from "../engine/presence.ts";
import type { ChatMetrics } from "./metrics.ts";
import type { LocalSessions } from "./local_sessions.ts";
import type { DeliverOptions, KickRequest, Router } from "./router.ts";

const DONE = Promise.resolve();

type Metrics = Pick<ChatMetrics, "deliveryLatency" | "kicks">;

export function observeDelivery(metrics: Metrics, path: string, sentAt: number): void {
  metrics.deliveryLatency.observe({ path }, Math.max(0, Date.now() - sentAt) / 1000);
}

/** Pushes to the user's sessions on this node (but `options.exclude`); how many took it. */
export function pushLocal(
  sessions: LocalSessions,
  metrics: Metrics,
  userId: number,
  frame: ServerEvent | string,
  options?: DeliverOptions,
): number {
  const list = sessions.of(userId);
  let n = 0;
  // A copy: a push may end a session (a client that does not read), which leaves the list.
  for (const s of list.length === 1 ? list : [...list]) {
    if (s.id !== options?.exclude && s.deliver(frame, options?.item)) n++;
  }
  if (n > 0 && options?.sentAt !== undefined) observeDelivery(metrics, "local", options.sentAt);
  return n;
}

/** Ends the user's sessions on this node (or the one `request.session` names); how many. */
export function kickLocal(
  sessions: LocalSessions,
  metrics: Metrics,
  userId: number,
  request: KickRequest,
): number {
  let n = 0;
  for (const s of [...sessions.of(userId)]) {
    if (request.session !== undefined && s.id !== request.session) continue;
    metrics.kicks.inc({ where: "local" });
    s.kick(request.reason, request.replaced);
    n++;
  }
  return n;
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
    return Promise.resolve(new Set(userIds.filter((id) => this.sessions.has(id))));
  }

  kick(userId: number, request: KickRequest): Promise<boolean> {
    return Promise.resolve(kickLocal(this.sessions, this.metrics, userId, request) > 0);
  }

  kickSessions(
    userId: number,
    sessions: PresenceSession[],
    request: Omit<KickRequest, "session">,
  ): Promise<number> {
    let n = 0;
    for (const s of sessions) {
      n += kickLocal(this.sessions, this.metrics, userId, { ...request, session: s.session });
    }
    return Promise.resolve(n);
  }

  nodesOf(): number {
    return 1;
  }

  forget(): void {}

  close(): void {}
}
