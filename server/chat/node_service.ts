/**
 * This node's gRPC ChatNode service, called by the other chat nodes (to
 * push events to the sessions users have here, and to end sessions that a
 * login elsewhere replaces or evicts, after saving the user's message
 * bucket for that login) and by status (an admin's kick, a logout).
 */
import type { Handler } from "../../proto/grpc.ts";
import type { DeliverItem, NodeKickRequest } from "../../proto/services.ts";
import type { ChatContext } from "./chat_context.ts";
import type { SeqItem } from "./local_sessions.ts";
import { pushLocal } from "./route_local.ts";
import { readMessageRef } from "./wire.ts";

/** The inbox place of a Deliver item that carries a message (seq > 0), read from its frame. */
function seqItem(item: DeliverItem): SeqItem | undefined {
  const seq = Number(item.seq ?? 0);
  if (!(seq > 0)) return undefined;
  const ref = readMessageRef(item.frame);
  return ref ? { seq, from: ref.from, id: ref.id } : undefined;
}

export function nodeServiceHandlers(ctx: ChatContext): Record<string, Handler> {
  return {
    async Kick(req: NodeKickRequest): Promise<{ kicked: boolean }> {
      ctx.state.rpcServed = true;
      const userId = Number(req.user_id);
      // With a session id, only that session: a stale kick must not end a newer one.
      const targets = ctx.sessions.of(userId).filter((s) =>
        !req.session_id || s.id === req.session_id
      );
      if (targets.length === 0) return { kicked: false };
      const reason = typeof req.reason === "string" && req.reason.trim()
        ? req.reason.trim().slice(0, 200)
        : "your session was ended";
      for (const s of targets) {
        ctx.metrics.kicks.inc({ where: "rpc" });
        s.kick(reason, req.replaced === true);
      }
      // A login elsewhere waits for this answer, then restores the user's
      // message bucket from what is saved here: moving does not refill it.
      await ctx.buckets.save(userId).catch((e) =>
        ctx.log.warn("could not save the message bucket", { error: e, user: userId })
      );
      return { kicked: true };
    },

    Deliver(req: { items?: DeliverItem[] }): Promise<{ delivered: boolean[] }> {
      ctx.state.rpcServed = true;
      const delivered = (req.items ?? []).map((item) => {
        if (typeof item.frame !== "string") return false;
        const n = pushLocal(ctx.sessions, ctx.metrics, Number(item.user_id), item.frame, {
          item: seqItem(item),
          exclude: item.exclude_session || undefined,
        });
        return n > 0;
      });
      return Promise.resolve({ delivered });
    },
  };
}
