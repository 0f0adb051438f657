/**
 * The inbox requests: `msg.ack` (a device's seq cursor, from which the
 * delivered receipts are derived; explicit delivered and read receipts per
 * peer, told to the peer's sessions as `msg.status` and, for read, to the
 * user's other sessions as `msg.read`), `msg.fetch` (inbox entries after a
 * seq, to fill a gap) and `ping` (answered with the inbox head).
 */
import { AppError } from "../../../proto/errors.ts";
import {
  type ClientFrame,
  DEFAULT_FETCH_LIMIT,
  type ServerEvent,
} from "../../../proto/protocol.ts";
import type { ChatContext } from "../chat_context.ts";
import { wireEntry } from "../wire.ts";
import { notToSelf } from "./messages.ts";
import type { Caller, Handlers } from "./types.ts";

type AckFrame = Extract<ClientFrame, { type: "msg.ack" }>;
type AckResult = { seq?: number; delivered_id?: number; read_id?: number };

/** Checks an ack's seq against what exists; invalid_ack beyond the user's head. */
async function checkSeq(ctx: ChatContext, s: Caller, seq: number): Promise<void> {
  if (!s.inbox) {
    throw new AppError("invalid_request", "seq: a quiet session has no device cursor to move");
  }
  // Sent on this socket: it exists. Beyond, ask the store (the client may have fetched it).
  if (seq <= s.inbox.stream.sent) return;
  const head = await ctx.store.inboxHead(s.userId);
  if (seq > head) {
    throw new AppError("invalid_ack", `seq ${seq} is beyond your inbox (its head is ${head})`);
  }
}

/** Checks a peer ack; invalid_ack for an id beyond the newest message `peer` sent the user. */
async function checkPeerAck(ctx: ChatContext, s: Caller, f: AckFrame, peer: number) {
  notToSelf(s, peer, "peer");
  const [last, before] = await Promise.all([
    ctx.store.lastMessageId(peer, s.userId),
    ctx.store.cursor(s.userId, peer),
  ]);
  const top = Math.max(f.delivered ?? 0, f.read ?? 0);
  if (top > last) {
    throw new AppError(
      "invalid_ack",
      `message ${top} is not one that user sent you (their newest to you is ${last})`,
    );
  }
  return before;
}

/** Moves the peer cursors and tells who must know: the peer (status) and the user's other sessions (read). */
async function applyPeerAck(
  ctx: ChatContext,
  s: Caller,
  f: AckFrame,
  peer: number,
  before: { deliveredId: number; readId: number },
  out: AckResult,
): Promise<() => Promise<void>> {
  const after = await ctx.store.advanceCursor(s.userId, peer, {
    deliveredId: f.delivered,
    readId: f.read,
  });
  ctx.cursors.note(after);
  out.delivered_id = after.deliveredId;
  out.read_id = after.readId;
  return async () => {
    if (after.deliveredId === before.deliveredId && after.readId === before.readId) return;
    await ctx.router.deliver(peer, {
      type: "msg.status",
      peer: s.userId,
      delivered_id: after.deliveredId,
      read_id: after.readId,
    });
    if (after.readId === before.readId) return;
    // Read state is the user's, not the device's: unread counts clear everywhere.
    await ctx.router.deliver(s.userId, { type: "msg.read", peer, read_id: after.readId }, {
      exclude: s.id,
    });
  };
}

export const inboxHandlers: Handlers<"msg.ack" | "msg.fetch" | "ping"> = {
  async "msg.ack"(ctx, s, frame, reply) {
    const aboutPeer = frame.delivered !== undefined || frame.read !== undefined;
    if (frame.seq === undefined && !aboutPeer) {
      throw new AppError("invalid_request", "msg.ack needs seq, delivered or read");
    }
    if (aboutPeer && frame.peer === undefined) {
      throw new AppError("invalid_request", "peer: required with delivered or read");
    }
    if (!aboutPeer && frame.peer !== undefined) {
      throw new AppError("invalid_request", "peer: only with delivered or read");
    }
    // Everything is checked before anything moves: an invalid ack changes nothing.
    const [, before] = await Promise.all([
      frame.seq === undefined ? undefined : checkSeq(ctx, s, frame.seq),
      aboutPeer ? checkPeerAck(ctx, s, frame, frame.peer!) : undefined,
    ]);
    const out: AckResult = {};
    if (frame.seq !== undefined) out.seq = s.inbox!.ack(frame.seq);
    const tell = before ? await applyPeerAck(ctx, s, frame, frame.peer!, before, out) : null;
    reply(out);
    await tell?.();
  },

  async "msg.fetch"(ctx, s, frame, reply) {
    const limit = frame.limit ?? DEFAULT_FETCH_LIMIT;
    const [entries, head] = await Promise.all([
      ctx.store.inbox(s.userId, { after: frame.after, limit }),
      ctx.store.inboxHead(s.userId),
    ]);
    s.inbox?.fetched(entries);
    const last = entries.length ? entries[entries.length - 1].seq : 0;
    reply({
      messages: entries.map(wireEntry),
      head: Math.max(head, last),
    });
  },

  async ping(ctx, s, frame) {
    let head: number | undefined;
    try {
      head = await ctx.heads.read(s.userId);
      // The socket may be behind the head (a lost push): the stream catches up now.
      s.inbox?.stream.behind(head);
    } catch { /* the store is down: a pong without a head */ }
    const pong: Extract<ServerEvent, { type: "pong" }> = { type: "pong", time: Date.now() };
    if (frame.id !== undefined) pong.id = frame.id;
    if (head !== undefined) pong.head = head;
    s.send(pong);
  },
};
