/**
 * Session start: check the token, take the user's login lock, end the
 * user's previous session wherever it is, record presence for this one,
 * send `welcome`, tell friends, and send the offline sync. See
 * docs/protocol.md §3 for what the client sees.
 */
import { toAppError } from "../../proto/errors.ts";
import { CLOSE, type ServerFrame, SYNC_BATCH } from "../../proto/protocol.ts";
import { acquireLock } from "../engine/locks.ts";
import { setPresence } from "../engine/presence.ts";
import { verifySession } from "./auth_watch.ts";
import type { ChatContext } from "./chat_context.ts";
import type { LocalSession } from "./local_sessions.ts";
import { notifyPresence } from "./presence_notify.ts";
import { selfUser, wireMessage } from "./wire.ts";

const KICK_REASON = "logged in elsewhere";
const SYNC_BUFFER_BYTES = 1024 * 1024;

type RequestId = string | number | null;

/** What a login needs of the session it starts. */
export interface LoginSession extends LocalSession {
  readonly closed: boolean;
  send(frame: ServerFrame): void;
  /** Sends an error frame and closes with `closeCode`. */
  fail(id: RequestId, code: string, message: string, closeCode: number): void;
  /** Waits until at most `bytes` are waiting for the client (closes one that does not read). */
  drained(bytes: number): Promise<void>;
  /** The login succeeded: from now on live events are held until `finishSync()`. */
  beginSession(userId: number, sessionId: string): void;
  /** Presence now names this session (clean-up at its end is due). */
  markRegistered(): void;
  /** The offline sync is sent: push what was held back, minus messages the sync carried. */
  finishSync(synced: Set<number>): void;
}

export async function login(
  ctx: ChatContext,
  s: LoginSession,
  token: string,
  requestId: RequestId,
): Promise<void> {
  const { engine, store, config, node, log } = ctx;
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
    ({ userId, jti } = await verifySession(ctx, s, token));
  } catch (e) {
    // Only a token error means the token is bad; a store that cannot answer is an outage.
    const err = toAppError(e);
    if (!err.code.startsWith("token_")) throw e;
    return s.fail(requestId, err.code, err.message, CLOSE.AUTH_FAILED);
  }

  // The lock keeps two logins of one user from kicking each other in a loop.
  const lock = await acquireLock(engine, `login:${userId}`, { ttlMs: 5000, waitMs: 5000 });
  if (!lock) {
    return s.fail(
      requestId,
      "busy",
      "another login of this user is in progress; retry",
      CLOSE.TRY_AGAIN_LATER,
    );
  }
  let wasOnline = false;
  try {
    if (s.closed) return;
    wasOnline = await ctx.router.kick(userId, { reason: KICK_REASON, replaced: true });
    s.beginSession(userId, crypto.randomUUID());
    ctx.sessions.add(s);
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
    // Before any msg.send of this session is handled (they wait for the login).
    ctx.buckets.restore(userId).catch((e) =>
      log.warn("could not restore the message bucket", { error: e, user: userId })
    ),
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

/** Everything past the user's delivered cursors, oldest first, then the held-back events. */
async function sendSync(ctx: ChatContext, s: LoginSession): Promise<void> {
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
