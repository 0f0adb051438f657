/**
 * This node's gRPC ChatNode service, called by the other chat nodes (to
 * push events to users connected here, and to end a session replaced by a
 * login elsewhere, after saving the user's message bucket for that login)
 * and by status (an admin's kick).
 */
import type { Handler } from "../../proto/grpc.ts";
import type { DeliverItem, NodeKickRequest } from "../../proto/services.ts";
import type { ChatContext } from "./chat_context.ts";

export function nodeServiceHandlers(ctx: ChatContext): Record<string, Handler> {
  return {
    async Kick(req: NodeKickRequest): Promise<{ kicked: boolean }> {
      ctx.state.rpcServed = true;
      const s = ctx.sessions.get(Number(req.user_id));
      // With a session id, only that session: a stale kick must not end a newer one.
      if (!s || (req.session_id && s.id !== req.session_id)) return { kicked: false };
      ctx.metrics.kicks.inc({ where: "rpc" });
      const reason = typeof req.reason === "string" && req.reason.trim()
        ? req.reason.trim().slice(0, 200)
        : "your session was ended";
      s.kick(reason, req.replaced === true);
      // A login elsewhere waits for this answer, then restores the user's
      // message bucket from what is saved here: moving does not refill it.
      await ctx.buckets.save(s.userId).catch((e) =>
        ctx.log.warn("could not save the message bucket", { error: e, user: s.userId })
      );
      return { kicked: true };
    },

    Deliver(req: { items?: DeliverItem[] }): Promise<{ delivered: boolean[] }> {
      ctx.state.rpcServed = true;
      const delivered = (req.items ?? []).map((item) => {
        const s = ctx.sessions.get(Number(item.user_id));
        return s !== undefined && typeof item.frame === "string" && s.deliver(item.frame);
      });
      return Promise.resolve({ delivered });
    },
  };
}
