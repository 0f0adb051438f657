/**
 * What happens when an authenticated session ends: the user's message
 * bucket is saved for their next session (on any node, buckets.ts), the
 * device cursor and receipts it gathered are written, and its presence
 * entry is taken out of the user's list. Only when that leaves the user
 * with no session (and no newer login replaced this one) is the user's
 * last-seen time stored and are their friends told they went offline. A
 * quiet session only saves the bucket.
 */
import { type PresenceSession, removeSession } from "../engine/presence.ts";
import type { ChatContext } from "./chat_context.ts";
import { notifyPresence } from "./presence_notify.ts";

export interface EndedSession {
  readonly id: string;
  readonly userId: number;
  /** A quiet session: nothing was announced, so nothing is taken back. */
  readonly quiet: boolean;
  /** The user stays online (a newer login took over): friends are not told the user left. */
  readonly replaced: boolean;
  /** The session's presence entry; null if the login never recorded one. */
  readonly presence: PresenceSession | null;
}

/** Never rejects: a failure (the engine or store is down) is logged. */
export async function endSession(ctx: ChatContext, s: EndedSession): Promise<void> {
  const { engine, store, log, router } = ctx;
  try {
    await ctx.buckets.save(s.userId);
    if (s.quiet) return;
    await ctx.cursors.flush();
    const { left } = await removeSession(engine, s.userId, s.id);
    router.forget(s.userId);
    // Offline only when no session is left anywhere (presence) nor here.
    if (left > 0 || s.replaced || !s.presence || ctx.sessions.has(s.userId)) return;
    const now = Date.now();
    await store.setLastSeen(s.userId, now);
    await notifyPresence(ctx, s.userId, { online: false, lastSeen: now });
  } catch (e) {
    log.warn("presence clean-up failed", { error: e, user: s.userId });
  }
}
