/**
 * The node's heartbeat sweep: one timer for every session instead of one per
 * frame. Each pass closes the sessions silent for three heartbeat intervals
 * (4004; not one whose frames the node leaves unread while its store
 * catches up), drops the rate buckets of users who left with a full one,
 * ends the sessions whose token no longer holds (auth_watch.ts), and,
 * after a login burst on a quiet node, gives the burst's garbage back
 * (heap.ts).
 */
import { CLOSE } from "../../proto/protocol.ts";
import type { ChatContext } from "./chat_context.ts";
import { recheckSessions } from "./auth_watch.ts";
import { BurstCollector } from "./heap.ts";
import type { Session } from "./session.ts";

/** Starts the sweep every half heartbeat interval; `stop()` ends it. */
export function startSweep(ctx: ChatContext, sockets: Set<Session>): { stop(): void } {
  const { config, sessions, buckets, writer, log } = ctx;
  const silentMs = 3 * config.chat.heartbeatMs;
  const burst = new BurstCollector();
  const timer = setInterval(() => {
    const now = Date.now();
    for (const s of sockets) {
      if (s.authenticated && !s.heldByStore && now - s.lastActivity > silentMs) {
        s.closeWith(CLOSE.HEARTBEAT_TIMEOUT, "heartbeat timeout");
      }
    }
    buckets.sweep((userId) => sessions.has(userId), now);
    recheckSessions(ctx, now); // tokens logged out, or passwords changed, since the login
    // After a login burst, on a quiet node: give the burst's garbage back.
    if (burst.sweep(sessions.logins, writer.writes)) {
      log.info("full collection after a login burst", { sessions: sessions.size });
    }
  }, Math.max(50, Math.floor(config.chat.heartbeatMs / 2)));
  return { stop: () => clearInterval(timer) };
}
