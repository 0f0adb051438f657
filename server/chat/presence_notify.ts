/** Tells a user's friends, wherever they are connected, that the user came online or went offline. */
import type { ChatContext } from "./chat_context.ts";

export async function notifyPresence(
  ctx: ChatContext,
  userId: number,
  state: { online: boolean; lastSeen: number | null },
): Promise<void> {
  const friends = await ctx.store.friendIds(userId);
  if (friends.length === 0) return;
  await ctx.router.deliverMany(friends, {
    type: "presence",
    user_id: userId,
    online: state.online,
    last_seen: state.online ? null : state.lastSeen,
  });
}
