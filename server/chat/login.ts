/**
 * Session start: check the token, take the user's login lock, end the
 * user's previous session wherever it is, record presence for this one,
 * send `welcome`, tell friends, and send the offline sync. See
 * docs/protocol.md §3 for what the client sees.
 */
import { toAppError } from "../../proto/errors.ts";
import { CLOSE, SYNC_BATCH } from "../../proto/protocol.ts";
import { acquireLock } from "../engine/locks.ts";
import { getNode } from "../engine/nodes.ts";
import { getPresence, type PresenceRecord, setPresence } from "../engine/presence.ts";
import { verifyToken } from "../tokens.ts";
import type { ChatContext } from "./context.ts";
import { notifyPresence } from "./presence_notify.ts";
import type { Session } from "./session.ts";
import { selfUser, wireMessage } from "./wire.ts";

const KICK_REASON = "logged in elsewhere";
const SYNC_BUFFER_BYTES = 1024 * 1024;

export async function login(
  ctx: ChatContext,
  s: Session,
  token: string,
  requestId: string | number | null,
): Promise<void> {
  const { engine, store, hub, config, node, log } = ctx;
  if (ctx.state.draining) {
    return s.fail(
      requestId,
      "draining",
      "this node is shutting down; reconnect",
      CLOSE.TRY_AGAIN_LATER,
    );
  }
  let userId: number;
  let jti: string;
  try {
    ({ userId, jti } = await verifyToken(config.jwtSecret, engine, token));
  } catch (e) {
    const err = toAppError(e);
    if (err.code === "internal") throw e;
    return s.fail(requestId, err.code, err.message, CLOSE.AUTH_FAILED);
  }

  // The lock keeps two logins of one user from kicking each other in a loop.
  const lock = await acquireLock(engine, `login:${userId}`, { ttlMs: 5000, waitMs: 5000 });
  if (!lock) {
    return s.fail(requestId, "busy", "another login of this user is in progress; retry", 1013);
  }
  let wasOnline = false;
  try {
    if (s.closed) return;
    const prev = await getPresence(engine, userId);
    wasOnline = await endPreviousSession(ctx, userId, prev);
    s.beginSession(userId, crypto.randomUUID());
    hub.add(s);
    try {
      await setPresence(engine, userId, { node, session: s.id, since: Date.now(), jti });
    } finally {
      s.markRegistered();
    }
  } finally {
    await lock.release().catch(() => false);
  }
  if (s.closed) return;

  const [user, unread, pending] = await Promise.all([
    store.userById(userId),
    store.unreadCounts(userId),
    store.pendingRequests(userId),
  ]);
  if (!user) {
    return s.fail(requestId, "token_invalid", "this account no longer exists", CLOSE.AUTH_FAILED);
  }
  s.send({
    type: "welcome",
    session_id: s.id,
    node,
    heartbeat_ms: config.chat.heartbeatMs,
    user: selfUser(user),
    unread: unread.map((u) => ({ user_id: u.peerId, count: u.count, last_id: u.lastId })),
    pending_requests: pending.incoming.length,
    protocol: 1,
  });
  log.debug("session started", { user: userId, session: s.id });
  // A user who only moved sessions never looked offline to friends.
  if (!wasOnline) {
    await notifyPresence(ctx, userId, { online: true, lastSeen: null }).catch((e) =>
      log.warn("presence notification failed", { error: e, user: userId })
    );
  }
  await sendSync(ctx, s);
}

/**
 * Kicks the user's current session, here or on another node. Returns
 * whether the user was online (on this node, or on a live one).
 */
async function endPreviousSession(
  ctx: ChatContext,
  userId: number,
  prev: PresenceRecord | null,
): Promise<boolean> {
  const { hub, engine, peers, config, node, metrics } = ctx;
  const local = hub.local(userId);
  if (local) {
    metrics.kicks.inc({ where: "local" });
    local.kick(KICK_REASON, true);
  }
  if (!prev || prev.node === node) return local !== undefined;
  const rec = await getNode(engine, prev.node);
  // A dead node's sessions are gone already; its presence record is just overwritten.
  if (!rec || Date.now() - rec.heartbeatAt > config.status.nodeTtlMs) return local !== undefined;
  const kicked = await peers.kick(rec.grpcAddr, {
    user_id: userId,
    session_id: prev.session,
    reason: KICK_REASON,
    replaced: true,
  });
  if (kicked) metrics.kicks.inc({ where: "remote" });
  return true;
}

/** Everything past the user's delivered cursors, oldest first, then the held-back events. */
async function sendSync(ctx: ChatContext, s: Session): Promise<void> {
  const synced = new Set<number>();
  let afterId = 0;
  for (;;) {
    // Send a long backlog no faster than the client reads it.
    await s.drained(SYNC_BUFFER_BYTES);
    const batch = await ctx.store.undelivered(s.userId, { afterId, limit: SYNC_BATCH });
    if (s.closed) return;
    for (const m of batch) synced.add(m.id);
    const done = batch.length < SYNC_BATCH;
    s.send({ type: "msg.sync", messages: batch.map(wireMessage), done });
    if (done) break;
    afterId = batch[batch.length - 1].id;
  }
  s.finishSync(synced);
}
