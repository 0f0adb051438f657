/**
 * Keeps this node's sessions in presence when the engine loses them: a
 * Redis restarted without its data, or status wiping the entries of a node
 * it wrongly took for dead (it had not heard from the node while status
 * itself was down). Both take the node's marker key with them, so each
 * inbox sweep checks the marker and, when it is gone, writes every session
 * of this node back, then the marker. At start the node takes out the
 * entries a previous run under its name left behind (a crash leaves them).
 */
import {
  clearNodePresence,
  ensureSessions,
  hasNodeMarker,
  type PresenceSession,
  removeSession,
  setNodeMarker,
} from "../engine/presence.ts";
import type { ChatContext } from "./chat_context.ts";
import type { NodeSession } from "./local_sessions.ts";

/** At start: the entries of an earlier run of this node are stale; then the marker. */
export async function resetPresence(ctx: ChatContext): Promise<void> {
  const { engine, node, log } = ctx;
  const stale = await clearNodePresence(engine, node);
  if (stale > 0) log.info("cleared presence left by an earlier run of this node", { stale });
  await setNodeMarker(engine, node, Date.now());
}

/**
 * Writes this node's sessions back if the marker is gone; resolves with how
 * many entries were missing (0 when the marker is there).
 */
export async function keepPresence(ctx: ChatContext): Promise<number> {
  const { engine, node, sessions, router, log } = ctx;
  if (await hasNodeMarker(engine, node)) return 0;
  const held: [NodeSession, PresenceSession][] = [];
  for (const [, list] of sessions.entries()) {
    for (const s of list) if (s.presence && !s.closed) held.push([s, s.presence]);
  }
  const written = await ensureSessions(engine, held.map(([s, p]) => [s.userId, p]));
  // A session that ended while its entry was written back must not stay listed.
  await Promise.all(
    held.filter(([s]) => s.closed).map(([s, p]) => removeSession(engine, s.userId, p.session)),
  );
  for (const [s] of held) router.forget(s.userId);
  await setNodeMarker(engine, node, Date.now());
  log.warn("presence of this node's sessions was lost; wrote it again", {
    sessions: held.length,
    missing: written,
  });
  return written;
}
