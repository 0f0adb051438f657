/**
 * Session start: check the token, take the user's login lock, apply the
 * session policy (several sessions side by side up to the cap, the oldest
 * ended past it; or one session, the previous one ended wherever it is),
 * record the session in presence, open its device, send `welcome`, tell
 * friends if it is the user's first session, and send the sync from the
 * device's cursor. A quiet session skips all but the token and `welcome`.
 * See docs/protocol.md §3 for what the client sees.
 */
import { toAppError } from "../../proto/errors.ts";
import { CLOSE, PROTOCOL_VERSION, type ServerFrame } from "../../proto/protocol.ts";
import { acquireLock } from "../engine/locks.ts";
import { addSession, type PresenceSession } from "../engine/presence.ts";
import { verifySession } from "./auth_watch.ts";
import type { ChatContext } from "./chat_context.ts";
import type { NodeSession } from "./local_sessions.ts";
import { notifyPresence } from "./presence_notify.ts";
import { PRESENCE_CACHE_MS } from "./presence_cache.ts";
import type { SessionInbox } from "./session_inbox.ts";
import { selfUser } from "./wire.ts";

const KICK_REASON = "logged in elsewhere";
const CAP_REASON = "too many sessions: your oldest one was ended";

type RequestId = string | number | null;

/** What the client asked for in `auth`. */
export interface LoginOptions {
  device?: string;
  label?: string;
  quiet?: boolean;
}

/** What a login needs of the session it starts. */
export interface LoginSession extends NodeSession {
  send(frame: ServerFrame): void;
  /** Sends an error frame and closes with `closeCode`. */
  fail(id: RequestId, code: string, message: string, closeCode: number): void;
  /**
   * The login succeeded: from now on live events are held until
   * `finishSync()`, and the heartbeat clock runs (from now, not from the auth
   * frame: a login that waited its turn is not a silent client).
   */
  beginSession(userId: number, sessionId: string, quiet: boolean): void;
  /**
   * The welcome, which tells the client the heartbeat interval, went out:
   * the client's pings are due from now.
   */
  welcomed(): void;
  /** Presence now lists this session (clean-up at its end is due). */
  markRegistered(entry: PresenceSession | null): void;
  /** The device's inbox, starting after `cursor`. */
  openInbox(device: { id: string; label: string }, cursor: number): SessionInbox;
  /** The sync is sent: push what was held back, through the stream. */
  finishSync(): void;
}

/** The device of a login that named none: one per token. */
export function deviceOfToken(jti: string): string {
  return `t:${jti.replace(/[^A-Za-z0-9_.:-]/g, "_").slice(0, 62)}`;
}

export async function login(
  ctx: ChatContext,
  s: LoginSession,
  token: string,
  requestId: RequestId,
  options: LoginOptions = {},
): Promise<void> {
  const { engine, log } = ctx;
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
  if (options.quiet) return await quietLogin(ctx, s, userId, requestId);

  const device = { id: options.device ?? deviceOfToken(jti), label: options.label ?? "" };
  // The lock keeps two logins of one user from kicking each other in a loop,
  // and orders the user's presence changes with what friends are told.
  const lock = await acquireLock(engine, `login:${userId}`, { ttlMs: 5000, waitMs: 5000 });
  if (!lock) {
    return s.fail(
      requestId,
      "busy",
      "another login of this user is in progress; retry",
      CLOSE.TRY_AGAIN_LATER,
    );
  }
  let first = false;
  try {
    if (s.closed) return;
    const entry: PresenceSession = {
      session: crypto.randomUUID(),
      node: ctx.node,
      addr: ctx.grpcAddr ?? undefined,
      device: device.id,
      label: device.label,
      since: Date.now(),
      jti,
    };
    first = await register(ctx, s, userId, entry);
  } finally {
    await lock.release().catch(() => false);
  }
  if (s.closed) return;
  await welcomeAndSync(ctx, s, requestId, { userId, device, first });
  log.debug("session started", { user: userId, session: s.id });
}

/**
 * Applies the session policy and records the session in presence; true if
 * it is the user's first session (friends are told the user came online).
 */
async function register(
  ctx: ChatContext,
  s: LoginSession,
  userId: number,
  entry: PresenceSession,
): Promise<boolean> {
  const { engine, config, router } = ctx;
  if (config.chat.sessions === "single") {
    // Today's rule: the previous session ends first, wherever it is.
    const wasOnline = await router.kick(userId, { reason: KICK_REASON, replaced: true });
    s.beginSession(userId, entry.session, false);
    ctx.sessions.add(s);
    let recorded: PresenceSession | null = null;
    try {
      await addSession(engine, userId, entry, { replace: true });
      recorded = entry;
    } finally {
      router.forget(userId);
      s.markRegistered(recorded);
    }
    return !wasOnline;
  }
  s.beginSession(userId, entry.session, false);
  ctx.sessions.add(s);
  let added: Awaited<ReturnType<typeof addSession>> | undefined;
  try {
    added = await addSession(engine, userId, entry, { max: config.chat.maxSessionsPerUser });
  } finally {
    router.forget(userId);
    s.markRegistered(added ? entry : null);
  }
  if (added.evicted.length > 0) {
    await router.kickSessions(userId, added.evicted, { reason: CAP_REASON, replaced: true });
  }
  // Sessions elsewhere share the user's rate: no fresh burst for joining them from here.
  const nodes = new Set([ctx.node, ...added.before.map((o) => o.node)]).size;
  if (nodes > 1) ctx.buckets.startShare(userId, nodes);
  return added.before.length === 0;
}

async function welcomeAndSync(
  ctx: ChatContext,
  s: LoginSession,
  requestId: RequestId,
  login: { userId: number; device: { id: string; label: string }; first: boolean },
): Promise<void> {
  const { store, config, node, log } = ctx;
  const { userId, device } = login;
  // A new device starts past what the user's other devices acked: what they
  // acked on this node, not yet written, goes first.
  await ctx.cursors.flush();
  const [user, unread, pending, , opened, head] = await Promise.all([
    store.userById(userId),
    store.unreadCounts(userId),
    store.pendingRequests(userId),
    // Before any msg.send of this session is handled (they wait for the login).
    ctx.buckets.restore(userId).catch((e) =>
      log.warn("could not restore the message bucket", { error: e, user: userId })
    ),
    store.openDevice(userId, device.id, device.label, Date.now()),
    store.inboxHead(userId),
  ]);
  if (!user) {
    return s.fail(requestId, "token_invalid", "this account no longer exists", CLOSE.AUTH_FAILED);
  }
  const inbox = s.openInbox({ id: opened.deviceId, label: opened.label }, opened.ackedSeq);
  s.send({
    type: "welcome",
    session_id: s.id,
    node,
    heartbeat_ms: config.chat.heartbeatMs,
    user: selfUser(user),
    unread: unread.map((u) => ({ user_id: u.peerId, count: u.count, last_id: u.lastId })),
    pending_requests: pending.incoming.length,
    protocol: PROTOCOL_VERSION,
    device: { id: opened.deviceId, label: opened.label },
    head: Math.max(head, opened.ackedSeq),
    cursor: opened.ackedSeq,
  });
  s.welcomed();
  // A second session of a user who was online changes nothing for friends.
  if (login.first) {
    await notifyPresence(ctx, userId, { online: true, lastSeen: null }).catch((e) =>
      log.warn("presence notification failed", { error: e, user: userId })
    );
  }
  await inbox.stream.sync();
  s.finishSync();
  // Another node may have routed with a presence list from before this
  // session: once such lists have expired, check for what they missed.
  inbox.checkHeadIn(PRESENCE_CACHE_MS + 100, () => ctx.heads.read(userId));
}

/** A quiet session: the token checked, `welcome`, and requests from then on; nothing announced. */
async function quietLogin(
  ctx: ChatContext,
  s: LoginSession,
  userId: number,
  requestId: RequestId,
): Promise<void> {
  const { store, config, node, log } = ctx;
  s.beginSession(userId, crypto.randomUUID(), true);
  s.markRegistered(null);
  const [user, unread, pending, , head] = await Promise.all([
    store.userById(userId),
    store.unreadCounts(userId),
    store.pendingRequests(userId),
    ctx.buckets.restore(userId).catch((e) =>
      log.warn("could not restore the message bucket", { error: e, user: userId })
    ),
    store.inboxHead(userId),
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
    protocol: PROTOCOL_VERSION,
    device: null,
    head,
    cursor: null,
    quiet: true,
  });
  s.welcomed();
}
