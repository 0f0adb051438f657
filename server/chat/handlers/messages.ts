/**
 * Messages: `msg.send` (checks, durable store, ack, live push to the
 * recipient's sessions and to the sender's other sessions), `msg.history`
 * (paged, oldest → newest within a page) and `typing` (forwarded, never
 * stored). Acks and fetches are in inbox.ts.
 */
import { AppError } from "../../../proto/errors.ts";
import { type ClientFrame, DEFAULT_HISTORY_LIMIT } from "../../../proto/protocol.ts";
import { takeShare } from "../buckets.ts";
import type { ChatContext } from "../chat_context.ts";
import { msgNewJson, wireMessage, withSeq } from "../wire.ts";
import type { Inserted } from "../writer.ts";
import type { Caller, Handlers } from "./types.ts";

/** Throws not_friends (or user_not_found) unless `peer` is the user's friend. */
async function requireFriend(ctx: ChatContext, s: Caller, peer: number): Promise<void> {
  if (await s.friends.isFriend(peer)) return;
  if (!(await ctx.store.userById(peer))) throw new AppError("user_not_found", "no such user", 404);
  throw new AppError("not_friends", "you can only write to your friends", 403);
}

export function notToSelf(s: Caller, peer: number, field: string): void {
  if (peer === s.userId) {
    throw new AppError("invalid_request", `${field}: must be another user, not yourself`);
  }
}

type SendFrame = Extract<ClientFrame, { type: "msg.send" }>;

/**
 * msg.send, first step: the checks, then the message joins the node's next
 * write batch. A session runs this step in frame order and may take its
 * next frame before `stored` settles (pipelining).
 */
export async function acceptMessage(
  ctx: ChatContext,
  s: Caller,
  frame: SendFrame,
): Promise<{ stored: Promise<Inserted> }> {
  notToSelf(s, frame.to, "to");
  await requireFriend(ctx, s, frame.to);
  return { stored: queueWrite(ctx, s, frame) };
}

/**
 * acceptMessage() without waiting, when the friend cache can answer (the
 * common case): null if it cannot, and the caller takes the async path.
 */
export function acceptMessageNow(
  ctx: ChatContext,
  s: Caller,
  frame: SendFrame,
): { stored: Promise<Inserted> } | null {
  notToSelf(s, frame.to, "to");
  if (!s.friends.knows(frame.to)) return null;
  return { stored: queueWrite(ctx, s, frame) };
}

function queueWrite(ctx: ChatContext, s: Caller, frame: SendFrame): Promise<Inserted> {
  // A user with sessions on n nodes pays n tokens on each: together, the rate holds.
  const ms = takeShare(s.messageBucket, ctx.router.nodesOf(s.userId));
  if (ms > 0) {
    throw new AppError("rate_limited", `too many messages; retry in ${ms} ms`, 429, ms / 1000);
  }
  // Until its ack is out, the message is not the stream's to send (session_inbox.ts).
  s.inbox?.sendStarted(frame.client_id);
  return ctx.writer.write({
    senderId: s.userId,
    recipientId: frame.to,
    clientId: frame.client_id,
    text: frame.text,
    createdAt: Date.now(),
  });
}

/**
 * msg.send, second step, once the row is stored: the ack (`sendJson`, the
 * whole result frame with the sender's seq), which counts as that entry
 * sent on this socket, then the push to the recipient's sessions (with the
 * recipient's seq) and to the sender's other sessions (with the sender's).
 * The message is encoded once; the copies differ in their seq only. A
 * retry (`duplicate`) is pushed again: where it arrived before, the
 * session's stream drops it by seq.
 */
export async function finishMessage(
  ctx: ChatContext,
  s: Caller,
  frame: SendFrame,
  { message, duplicate, senderSeq, recipientSeq }: Inserted,
  ack: (dataJson: string) => void,
): Promise<void> {
  const base = JSON.stringify(wireMessage(message));
  const mine = withSeq(base, senderSeq);
  ack(`{"message":${mine},"duplicate":${duplicate}}`);
  s.inbox?.stream.markSent(senderSeq);
  if (!duplicate) ctx.metrics.messagesStored.inc();
  const { id, senderId: from, createdAt } = message;
  await ctx.router.deliver(frame.to, msgNewJson(withSeq(base, recipientSeq)), {
    sentAt: duplicate ? undefined : createdAt,
    item: { seq: recipientSeq, from, id },
  });
  await ctx.router.deliver(s.userId, msgNewJson(mine), {
    item: { seq: senderSeq, from, id },
    exclude: s.id,
  });
}

export const messageHandlers: Handlers<"msg.send" | "msg.history" | "typing"> = {
  async "msg.send"(ctx, s, frame, reply) {
    const { stored } = await acceptMessage(ctx, s, frame);
    try {
      await finishMessage(ctx, s, frame, await stored, (json) => reply(JSON.parse(json)));
    } finally {
      s.inbox?.sendEnded(frame.client_id);
    }
  },

  async "msg.history"(ctx, s, frame, reply) {
    notToSelf(s, frame.with, "with");
    const limit = frame.limit ?? DEFAULT_HISTORY_LIMIT;
    const friend = await s.friends.isFriend(frame.with);
    // One more than asked tells whether older messages exist.
    const page = await ctx.store.history(s.userId, frame.with, {
      before: frame.before,
      limit: limit + 1,
    });
    if (!friend) {
      if (!(await ctx.store.userById(frame.with))) {
        throw new AppError("user_not_found", "no such user", 404);
      }
      // Former friends keep their shared history; strangers have none to read.
      const shared = frame.before === undefined
        ? page.length > 0
        : (await ctx.store.history(s.userId, frame.with, { limit: 1 })).length > 0;
      if (!shared) {
        throw new AppError("not_friends", "you have no conversation with that user", 403);
      }
    }
    const cursor = await ctx.store.cursor(frame.with, s.userId);
    reply({
      messages: page.slice(0, limit).reverse().map(wireMessage),
      more: page.length > limit,
      peer_delivered_id: cursor.deliveredId,
      peer_read_id: cursor.readId,
    });
  },

  async typing(ctx, s, frame) {
    notToSelf(s, frame.to, "to");
    if (!(await s.friends.isFriend(frame.to))) {
      throw new AppError("not_friends", "you can only send typing indicators to friends", 403);
    }
    if (!s.typingBucket.take()) return;
    await ctx.router.deliver(frame.to, {
      type: "typing",
      from: s.userId,
      active: frame.active ?? true,
    });
  },
};
