/**
 * What happens when an authenticated session ends: the user's message
 * bucket is saved for their next session (on any node, buckets.ts), its
 * presence record is removed (only if it still names this session: a newer
 * login's record must survive), and unless a newer login replaced it, the
 * user's last-seen time is stored and their friends are told they went
 * offline.
 */
import { clearPresence } from "../engine/presence.ts";
import type { ChatContext } from "./chat_context.ts";
import { notifyPresence } from "./presence_notify.ts";

export interface EndedSession {
  readonly id: string;
  readonly userId: number;
  /** A newer login of the same user took over: friends are not told the user left. */
  readonly replaced: boolean;
}

/** Never rejects: a failure (the engine or store is down) is logged. */
export async function endSession(ctx: ChatContext, s: EndedSession): Promise<void> {
  const { engine, store, log } = ctx;
  try {
    await ctx.buckets.save(s.userId);
    const cleared = await clearPresence(engine, s.userId, s.id);
    if (!cleared || s.replaced) return;
    const now = Date.now();
    await store.setLastSeen(s.userId, now);
    await notifyPresence(ctx, s.userId, { online: false, lastSeen: now });
  } catch (e) {
    log.warn("presence clean-up failed", { error: e, user: s.userId });
  }
}
